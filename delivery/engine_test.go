package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/lms/lmstest"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// forEachDB runs fn against a fresh SQLite and a fresh PostgreSQL store.
func forEachDB(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.OpenPostgres(t)) })
}

// bundle is the test bench: a store, a started engine delivering to a
// webhook receiver through a connector named "hooks".
type bundle struct {
	st  *store.Store
	eng *delivery.Engine
	rcv *lmstest.WebhookReceiver
}

func setup(t *testing.T, st *store.Store) *bundle {
	t.Helper()
	return setupWith(t, st, delivery.Config{}, nil)
}

// setupWith is setup with a config and, when before is not nil, a step
// run after the engine is built and before it starts.
func setupWith(t *testing.T, st *store.Store, cfg delivery.Config, before func(*bundle)) *bundle {
	t.Helper()
	rcv := lmstest.NewWebhookReceiver(t, testSecret)
	conn, err := lms.New(lms.Spec{Name: "hooks", Type: "webhook", URL: rcv.URL, SecretEnv: "SECRET"},
		lms.Deps{Env: func(string) (string, bool) { return testSecret, true }, Client: rcv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.BackoffBase, cfg.BackoffMax, cfg.PollInterval = 10*time.Millisecond, 50*time.Millisecond, 10*time.Millisecond
	eng, err := delivery.New(st, cfg, delivery.Options{Connectors: map[string]lms.Connector{"hooks": conn}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st.SetChangeHook(eng.Hook)
	b := &bundle{st: st, eng: eng, rcv: rcv}
	if before != nil {
		before(b)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return b
}

func TestHireThenGroupAddEnrolls(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		b := setup(t, st)
		ctx := context.Background()
		st.SetChangeHook(nil) // nobody to sync yet: no fan-out job to race the group write
		if _, _, err := st.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"SEC-101", "GIT-201"}}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.PutRule(ctx, mapping.Rule{Name: "engineers", Group: "Engineering", Bundles: []string{"eng"}}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		st.SetChangeHook(b.eng.Hook)
		u := &store.User{Attributes: map[string]any{"userName": "alice@example.com", "externalId": "E1"}}
		if err := st.CreateUser(ctx, u, store.Event{CorrelationID: "hire-1"}); err != nil {
			t.Fatal(err)
		}
		g := &store.Group{Attributes: map[string]any{"displayName": "engineering"}, Members: []store.Member{{Value: u.ID}}}
		if err := st.CreateGroup(ctx, g, store.Event{CorrelationID: "group-1"}); err != nil {
			t.Fatal(err)
		}
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 2 }, 20*time.Second)
		for _, ev := range b.rcv.Events() {
			if ev.CorrelationID != "group-1" || ev.Type != "enrollment.created" {
				t.Errorf("event %+v: want enrollment.created under correlation id group-1", ev)
			}
		}

		_, err := st.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Attributes["active"] = false; return nil }, store.Event{CorrelationID: "leave-1"})
		if err != nil {
			t.Fatal(err)
		}
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 0 }, 20*time.Second)
		if n := len(b.rcv.Events()); n != 4 {
			t.Errorf("receiver saw %d distinct events, want 4 (2 created, 2 removed)", n)
		}
		waitEnrollments(t, st, u.ID, 0)
	})
}

// waitEnrollments waits until the store records n enrollments for userID
// with nothing pending.
func waitEnrollments(t *testing.T, st *store.Store, userID string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		es, err := st.Enrollments(context.Background(), userID)
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, e := range es {
			if e.PendingOp != "" {
				pending++
			}
		}
		if len(es) == n && pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("enrollments of %s: %d rows, %d pending; want %d settled", userID, len(es), pending, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRuleSyncsItsGroup checks that a rule on an existing group syncs each
// of its members, under the rule change's correlation id, through fan-out
// jobs when the group is large (here, more than 10).
func TestRuleSyncsItsGroup(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		b := setupWith(t, st, delivery.WithFanoutMin(delivery.Config{}, 10), nil)
		ctx := context.Background()
		var members []store.Member
		const n = 35 // four fan-out batches
		for i := range n {
			u := &store.User{Attributes: map[string]any{"userName": fmt.Sprintf("fan%04d", i)}}
			if err := st.CreateUser(ctx, u, store.Event{}); err != nil {
				t.Fatal(err)
			}
			members = append(members, store.Member{Value: u.ID})
		}
		if err := st.CreateGroup(ctx, &store.Group{Attributes: map[string]any{"displayName": "Sales"}, Members: members}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.PutBundle(ctx, mapping.Bundle{Name: "sales", Connector: "hooks", Courses: []string{"CRM-1"}}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.PutRule(ctx, mapping.Rule{Name: "sales", Group: "SALES", Bundles: []string{"sales"}}, store.Event{CorrelationID: "rule-1"}); err != nil {
			t.Fatal(err)
		}
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()) == n }, 60*time.Second)
		for _, ev := range b.rcv.Events() {
			if ev.CorrelationID != "rule-1" {
				t.Fatalf("event %s for %s carries correlation id %q, want rule-1", ev.ID, ev.User.UserName, ev.CorrelationID)
			}
		}
		if got := len(b.rcv.Events()); got != n {
			t.Errorf("%d distinct events, want %d", got, n)
		}
	})
}
