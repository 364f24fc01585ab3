package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// testAudit: every write commits its event, stamped by the store.
func testAudit(t *testing.T, s *store.Store) {
	ctx := t.Context()
	start := time.Now().Add(-time.Second)

	ev := store.Event{CorrelationID: "c-1", Actor: "okta", Action: "user.create", Status: 201, Summary: "created bjensen"}
	u := &store.User{Attributes: attrs{"userName": "bjensen"}}
	wantNoErr(t, "CreateUser", s.CreateUser(ctx, u, ev))
	g := &store.Group{Attributes: attrs{"displayName": "G"}, Members: []store.Member{{Value: u.ID}}}
	wantNoErr(t, "CreateGroup", s.CreateGroup(ctx, g, store.Event{CorrelationID: "c-2", Actor: "okta", Action: "group.create"}))
	_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Attributes["title"] = "x"; return nil },
		store.Event{CorrelationID: "c-3", Actor: "okta", Action: "user.patch", ResourceID: u.ID})
	wantNoErr(t, "UpdateUser", err)
	_, err = s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) { return store.MemberChanges{}, nil },
		store.Event{CorrelationID: "c-3", Actor: "okta", Action: "group.patch"}, store.GroupOptions{})
	wantNoErr(t, "UpdateGroup", err)
	wantNoErr(t, "DeleteGroup", s.DeleteGroup(ctx, g.ID, store.Event{CorrelationID: "c-4", Action: "group.delete"}))
	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID, store.Event{CorrelationID: "c-5", Action: "user.delete"}))

	// A refused request has no change to ride on.
	refusedAt := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	wantNoErr(t, "RecordEvent", s.RecordEvent(ctx, store.Event{
		Time: refusedAt, CorrelationID: "c-6", Actor: "anonymous", Action: "user.create",
		ResourceType: "User", Outcome: store.OutcomeFailure, Status: 401, Summary: "bad token",
	}))

	all := events(t, s, store.AuditQuery{})
	var actions []string
	for _, e := range all {
		actions = append(actions, e.Action)
	}
	wantEqual(t, "actions, newest first", actions,
		[]string{"user.create", "user.delete", "group.delete", "group.patch", "user.patch", "group.create", "user.create"})
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("events not ordered by id desc: %d then %d", all[i-1].ID, all[i].ID)
		}
	}

	created := all[len(all)-1]
	wantEqual(t, "resource id of a create", created.ResourceID, u.ID)
	wantEqual(t, "resource type of a create", created.ResourceType, "User")
	wantEqual(t, "outcome", created.Outcome, store.OutcomeSuccess)
	wantEqual(t, "status", created.Status, 201)
	wantEqual(t, "summary", created.Summary, "created bjensen")
	wantEqual(t, "actor", created.Actor, "okta")
	if created.Time.Before(start) || created.Time.After(time.Now().Add(time.Second)) || created.Time.Location() != time.UTC {
		t.Errorf("event time %v: want now, UTC", created.Time)
	}
	wantEqual(t, "resource id of a group create", all[len(all)-2].ResourceID, g.ID)
	wantEqual(t, "resource id of a delete", all[1].ResourceID, u.ID)

	refused := all[0]
	wantTime(t, "a given time is kept (to the microsecond)", refused.Time, refusedAt)
	wantEqual(t, "failure outcome", refused.Outcome, store.OutcomeFailure)
	wantEqual(t, "status", refused.Status, 401)

	// Free text that a database could not store is cleaned, not refused.
	wantNoErr(t, "RecordEvent with NUL", s.RecordEvent(ctx, store.Event{Action: "x", Summary: "a\x00b\xff"}))
}

func testAuditQueries(t *testing.T, s *store.Store) {
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 120 {
		wantNoErr(t, "RecordEvent", s.RecordEvent(ctx, store.Event{
			Time:          base.Add(time.Duration(i) * time.Minute),
			CorrelationID: fmt.Sprintf("corr-%d", i%3),
			Actor:         fmt.Sprintf("actor-%d", i%2),
			Action:        "user.patch",
			ResourceID:    fmt.Sprintf("res-%d", i%5),
		}))
	}
	q := func(q store.AuditQuery) []int {
		t.Helper()
		var minutes []int
		for _, e := range events(t, s, q) {
			minutes = append(minutes, int(e.Time.Sub(base)/time.Minute))
		}
		return minutes
	}
	wantEqual(t, "default limit", len(q(store.AuditQuery{})), 100)
	wantEqual(t, "limit", q(store.AuditQuery{Limit: 3}), []int{119, 118, 117})
	wantEqual(t, "by correlation id", q(store.AuditQuery{CorrelationID: "corr-1", Limit: 4}), []int{118, 115, 112, 109})
	wantEqual(t, "by resource", q(store.AuditQuery{ResourceID: "res-4", Limit: 3}), []int{119, 114, 109})
	wantEqual(t, "by actor", q(store.AuditQuery{Actor: "actor-0", Limit: 2}), []int{118, 116})
	wantEqual(t, "since (inclusive)", q(store.AuditQuery{Since: base.Add(117 * time.Minute)}), []int{119, 118, 117})
	wantEqual(t, "until (exclusive)", q(store.AuditQuery{Until: base.Add(2 * time.Minute)}), []int{1, 0})
	wantEqual(t, "filters are ANDed", q(store.AuditQuery{CorrelationID: "corr-0", ResourceID: "res-0", Actor: "actor-1",
		Since: base.Add(30 * time.Minute)}), []int{105, 75, 45})
	wantEqual(t, "no match", q(store.AuditQuery{CorrelationID: "nope"}), []int(nil))
	wantEqual(t, "unstorable text matches nothing", q(store.AuditQuery{CorrelationID: "\x00"}), []int(nil))

	// Paging backwards by id.
	page1 := events(t, s, store.AuditQuery{Limit: 50})
	page2 := events(t, s, store.AuditQuery{Limit: 50, BeforeID: page1[len(page1)-1].ID})
	page3 := events(t, s, store.AuditQuery{Limit: 50, BeforeID: page2[len(page2)-1].ID})
	wantEqual(t, "pages", []int{len(page1), len(page2), len(page3)}, []int{50, 50, 20})
	wantTime(t, "oldest", page3[len(page3)-1].Time, base)
}
