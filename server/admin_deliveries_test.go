package server_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// startEngine starts a delivery engine on st with no connector at all, so
// that every sync that has something to deliver fails for good and
// becomes a dead letter at once.
func startEngine(t *testing.T, st *store.Store) *delivery.Engine {
	t.Helper()
	eng, err := delivery.New(st, delivery.Config{PollInterval: 10 * time.Millisecond},
		delivery.Options{Connectors: map[string]lms.Connector{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithoutCancel(t.Context())
	if err := eng.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st.SetChangeHook(eng.Hook)
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			t.Errorf("stop engine: %v", err)
		}
	})
	return eng
}

type deadList struct {
	Deliveries []delivery.DeadLetter `json:"deliveries"`
	Next       *string               `json:"next"`
}

func (b *adminBench) dead(t *testing.T, query string) deadList {
	t.Helper()
	var l deadList
	b.call(t, "GET", "/admin/v1/deliveries"+query, b.reader, "").want(t, http.StatusOK).decode(t, &l)
	return l
}

// waitDead polls the dead letters until ok holds, for at most 20 seconds.
func (b *adminBench) waitDead(t *testing.T, what string, ok func([]delivery.DeadLetter) bool) []delivery.DeadLetter {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		l := b.dead(t, "?state=dead&limit=500")
		if ok(l.Deliveries) {
			return l.Deliveries
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: dead letters now %+v", what, l.Deliveries)
		}
		<-tick.C
	}
}

// hire makes users, members of a group, then a rule mapping the group to
// a bundle in the connector "hooks", which the engine does not have. The
// rule is put last, under the correlation id "group-1", so that it causes
// exactly one sync per user.
func hire(t *testing.T, b *adminBench, userNames ...string) []string {
	t.Helper()
	var ids []string
	var members []store.Member
	for _, n := range userNames {
		u := &store.User{Attributes: map[string]any{"userName": n}}
		if err := b.st.CreateUser(t.Context(), u, store.Event{CorrelationID: "hire-" + n}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
		members = append(members, store.Member{Value: u.ID})
	}
	g := &store.Group{Attributes: map[string]any{"displayName": "Engineering"}, Members: members}
	if err := b.st.CreateGroup(t.Context(), g, store.Event{}); err != nil {
		t.Fatal(err)
	}
	b.call(t, "PUT", "/admin/v1/bundles/eng", b.admin, `{"connector":"hooks","courses":["SEC-101"]}`).want(t, http.StatusCreated)
	b.call(t, "PUT", "/admin/v1/rules/engineers", b.admin, `{"group":"Engineering","bundles":["eng"]}`,
		"X-Correlation-ID", "group-1").want(t, http.StatusCreated)
	return ids
}

func deadOf(ds []delivery.DeadLetter, userID string) []delivery.DeadLetter {
	var out []delivery.DeadLetter
	for _, d := range ds {
		if d.UserID == userID {
			out = append(out, d)
		}
	}
	return out
}

func TestAdminDeliveries(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{Delivery: startEngine(t, st)})
		users := hire(t, b, "alice@example.com", "bob@example.com")
		all := b.waitDead(t, "a dead letter per user", func(ds []delivery.DeadLetter) bool {
			return len(deadOf(ds, users[0])) > 0 && len(deadOf(ds, users[1])) > 0
		})
		for _, d := range all {
			if d.Reason != "permanent" || !strings.Contains(d.LastError, "no connector") || d.CorrelationID != "group-1" {
				t.Errorf("dead letter %+v", d)
			}
		}

		t.Run("state defaults to dead", func(t *testing.T) {
			if l := b.dead(t, ""); len(l.Deliveries) != len(all) || l.Next != nil {
				t.Errorf("got %+v, want %d dead letters and no next", l, len(all))
			}
		})

		t.Run("pages", func(t *testing.T) {
			var got []delivery.DeadLetter
			query := "?limit=1"
			for range len(all) + 1 {
				l := b.dead(t, query)
				got = append(got, l.Deliveries...)
				if l.Next == nil {
					break
				}
				if len(l.Deliveries) != 1 || *l.Next != strconv.FormatInt(l.Deliveries[0].ID, 10) {
					t.Fatalf("page %+v", l)
				}
				query = "?state=dead&limit=1&after=" + *l.Next
			}
			if len(got) != len(all) {
				t.Fatalf("paged through %d dead letters, want %d", len(got), len(all))
			}
			for i := range got {
				if got[i].ID != all[i].ID {
					t.Errorf("page order %v, want %v", got, all)
				}
				if i > 0 && got[i].ID >= got[i-1].ID {
					t.Errorf("not newest first: %v", got)
				}
			}
		})

		t.Run("refused", func(t *testing.T) {
			tests := []struct {
				method, path string
				status       int
				detail       string
			}{
				{"GET", "/admin/v1/deliveries?state=pending", 400, "supported states: dead"},
				{"GET", "/admin/v1/deliveries?limit=0", 400, "limit"},
				{"GET", "/admin/v1/deliveries?limit=many", 400, "limit"},
				{"GET", "/admin/v1/deliveries?after=-1", 400, "after"},
				{"POST", "/admin/v1/deliveries/abc/replay", 400, "abc"},
				{"DELETE", "/admin/v1/deliveries/0", 400, "not a delivery id"},
				{"POST", "/admin/v1/deliveries/999999/replay", 404, "999999"},
				{"DELETE", "/admin/v1/deliveries/999999", 404, "999999"},
				{"GET", "/admin/v1/deliveries/1", 405, ""},
			}
			for _, tt := range tests {
				p := b.call(t, tt.method, tt.path, b.admin, "").problem(t, tt.status)
				if !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("%s %s: detail %q does not mention %q", tt.method, tt.path, p.Detail, tt.detail)
				}
			}
		})

		t.Run("replay", func(t *testing.T) {
			old := deadOf(all, users[0])[0]
			const cid = "replay-1"
			var replayed delivery.DeadLetter
			b.call(t, "POST", "/admin/v1/deliveries/"+strconv.FormatInt(old.ID, 10)+"/replay", b.admin, "", "X-Correlation-ID", cid).
				want(t, http.StatusAccepted).decode(t, &replayed)
			if replayed.ID != old.ID || replayed.UserID != users[0] {
				t.Errorf("replayed %+v, want %+v", replayed, old)
			}
			if slices.ContainsFunc(b.dead(t, "").Deliveries, func(d delivery.DeadLetter) bool { return d.ID == old.ID }) {
				t.Errorf("dead letter %d still listed after its replay", old.ID)
			}
			// The connector is still missing, so the new sync dies too.
			b.waitDead(t, "the replayed sync to die again", func(ds []delivery.DeadLetter) bool {
				again := deadOf(ds, users[0])
				return len(again) > 0 && !slices.ContainsFunc(again, func(d delivery.DeadLetter) bool { return d.ID == old.ID })
			})
			b.call(t, "POST", "/admin/v1/deliveries/"+strconv.FormatInt(old.ID, 10)+"/replay", b.admin, "").problem(t, http.StatusNotFound)
			wantEvent(t, st, cid, "delivery.replay", http.StatusAccepted)
		})

		t.Run("purge", func(t *testing.T) {
			victim := deadOf(all, users[1])[0]
			path := "/admin/v1/deliveries/" + strconv.FormatInt(victim.ID, 10)
			const cid = "purge-1"
			b.call(t, "DELETE", path, b.admin, "", "X-Correlation-ID", cid).want(t, http.StatusNoContent)
			if slices.ContainsFunc(b.dead(t, "").Deliveries, func(d delivery.DeadLetter) bool { return d.ID == victim.ID }) {
				t.Errorf("dead letter %d still listed after its purge", victim.ID)
			}
			b.call(t, "DELETE", path, b.admin, "").problem(t, http.StatusNotFound)
			wantEvent(t, st, cid, "delivery.purge", http.StatusNoContent)
		})
	})
}

// wantEvent checks that the request cid caused exactly one audit event,
// the action by the admin token answered status.
func wantEvent(t *testing.T, st *store.Store, cid, action string, status int) {
	t.Helper()
	evs, err := st.ListEvents(t.Context(), store.AuditQuery{CorrelationID: cid})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != "admin" || evs[0].Action != action || evs[0].Status != status || evs[0].Summary == "" {
		t.Errorf("events of %s: %+v, want one %s by admin answered %d", cid, evs, action, status)
	}
}

func TestAdminDeliveriesWithoutEngine(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		for _, c := range []struct{ method, path string }{
			{"GET", "/admin/v1/deliveries"},
			{"POST", "/admin/v1/deliveries/1/replay"},
			{"DELETE", "/admin/v1/deliveries/1"},
		} {
			b.call(t, c.method, c.path, b.admin, "").problem(t, http.StatusServiceUnavailable)
		}
	})
}
