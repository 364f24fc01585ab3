package storetest

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

func testBundleCRUD(t *testing.T, s *store.Store) {
	ctx := t.Context()
	b := mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"SEC-101", "GIT-201"}}
	got, put, err := s.PutBundle(ctx, b, event("bundle.create"))
	if err != nil || put != store.Created || got.Version != 1 {
		t.Fatalf("PutBundle(new) = %+v, %v, %v; want version 1, Created", got, put, err)
	}
	before := countEvents(t, s)
	got, put, err = s.PutBundle(ctx, b, event("bundle.update"))
	if err != nil || put != store.Unchanged || got.Version != 1 {
		t.Fatalf("PutBundle(same) = %+v, %v, %v; want version 1, Unchanged", got, put, err)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("an unchanged put wrote %d audit events, want none", n-before)
	}
	b.Courses = append(b.Courses, "K8S-301")
	got, put, err = s.PutBundle(ctx, b, event("bundle.update"), store.Precondition{IfVersion: []int64{1}})
	if err != nil || put != store.Updated || got.Version != 2 {
		t.Fatalf("PutBundle(changed) = %+v, %v, %v; want version 2, Updated", got, put, err)
	}
	_, _, err = s.PutBundle(ctx, b, event("bundle.update"), store.Precondition{IfVersion: []int64{1}})
	wantErr(t, "PutBundle with a stale version, even of the stored definition", err, store.ErrVersionMismatch)
	_, _, err = s.PutBundle(ctx, mapping.Bundle{Name: "new", Connector: "hooks", Courses: []string{"A"}}, event("bundle.create"), store.Precondition{IfVersion: []int64{3}})
	wantErr(t, "PutBundle of a missing bundle with a version precondition", err, store.ErrVersionMismatch)
	_, _, err = s.PutBundle(ctx, mapping.Bundle{Name: "Bad Name", Courses: nil}, event("bundle.create"))
	wantErr(t, "PutBundle(invalid)", err, store.ErrInvalidValue)

	stored, err := s.GetBundle(ctx, "eng")
	if err != nil || !slices.Equal(stored.Courses, []string{"SEC-101", "GIT-201", "K8S-301"}) || stored.Version != 2 {
		t.Fatalf("GetBundle = %+v, %v", stored, err)
	}
	if _, _, err := s.PutBundle(ctx, mapping.Bundle{Name: "abc", Connector: "hooks", Courses: []string{"A"}}, event("bundle.create")); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListBundles(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "abc" || list[1].Name != "eng" {
		t.Fatalf("ListBundles = %+v, %v; want abc, eng", list, err)
	}
	wantErr(t, "DeleteBundle with a stale version", s.DeleteBundle(ctx, "eng", event("bundle.delete"), store.Precondition{IfVersion: []int64{1}}), store.ErrVersionMismatch)
	if err := s.DeleteBundle(ctx, "eng", event("bundle.delete")); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetBundle(ctx, "eng")
	wantErr(t, "GetBundle after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteBundle twice", s.DeleteBundle(ctx, "eng", event("bundle.delete")), store.ErrNotFound)
}

func testRuleCRUD(t *testing.T, s *store.Store) {
	ctx := t.Context()
	r := mapping.Rule{Name: "engineers", Group: "Engineering", Bundles: []string{"eng"}}
	if _, put, err := s.PutRule(ctx, r, event("rule.create")); err != nil || put != store.Created {
		t.Fatalf("PutRule = %v, %v", put, err)
	}
	if _, put, err := s.PutRule(ctx, r, event("rule.update")); err != nil || put != store.Unchanged {
		t.Fatalf("PutRule(same) = %v, %v", put, err)
	}
	r.Group, r.GroupID = "", "some-group-id"
	got, put, err := s.PutRule(ctx, r, event("rule.update"))
	if err != nil || put != store.Updated || got.Version != 2 {
		t.Fatalf("PutRule(by id) = %+v, %v, %v", got, put, err)
	}
	stored, err := s.GetRule(ctx, "engineers")
	if err != nil || stored.GroupID != "some-group-id" || stored.Group != "" {
		t.Fatalf("GetRule = %+v, %v", stored, err)
	}
	_, _, err = s.PutRule(ctx, mapping.Rule{Name: "both", Group: "a", GroupID: "b", Bundles: []string{"eng"}}, event("rule.create"))
	wantErr(t, "PutRule with group and group_id", err, store.ErrInvalidValue)
	if err := s.DeleteRule(ctx, "engineers", event("rule.delete")); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListRules(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListRules after delete = %+v, %v", list, err)
	}
}

// hookRecorder records what the change hook is told.
type hookRecorder struct {
	mu      sync.Mutex
	changes []store.Change
	fail    error
}

func (h *hookRecorder) hook(_ context.Context, tx *sql.Tx, c store.Change) error {
	if tx == nil {
		return errors.New("no transaction")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return h.fail
	}
	h.changes = append(h.changes, c)
	return nil
}

// take returns the users of every change since the last take, sorted.
func (h *hookRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, c := range h.changes {
		ids = append(ids, c.UserIDs...)
	}
	h.changes = nil
	slices.Sort(ids)
	return ids
}

func testChangeHook(t *testing.T, s *store.Store) {
	ctx := t.Context()
	h := &hookRecorder{}
	s.SetChangeHook(h.hook)
	t.Cleanup(func() { s.SetChangeHook(nil) })
	ids := func(us ...*store.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		slices.Sort(out)
		return out
	}
	check := func(what string, want []string) {
		t.Helper()
		if got := h.take(); !slices.Equal(got, want) {
			t.Errorf("%s: hook got users %v, want %v", what, got, want)
		}
	}
	alice := createUser(t, s, attrs{"userName": "alice"})
	bob := createUser(t, s, attrs{"userName": "bob"})
	carol := createUser(t, s, attrs{"userName": "carol"})
	check("creating users", nil)

	sales := createGroup(t, s, "Sales", alice.ID)
	check("creating a group no rule matches", nil)
	if _, _, err := s.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"A"}}, event("bundle.create")); err != nil {
		t.Fatal(err)
	}
	check("creating a bundle no rule names", nil)
	if _, _, err := s.PutRule(ctx, mapping.Rule{Name: "r", Group: "ÉQUIPE", Bundles: []string{"eng"}}, event("rule.create")); err != nil {
		t.Fatal(err)
	}
	check("creating a rule that matches no group", nil)

	equipe := createGroup(t, s, "équipe", alice.ID, bob.ID)
	check("creating a group a rule matches (ignoring case)", ids(alice, bob))

	update := func(g *store.Group, fn func(g *store.Group) store.MemberChanges) {
		t.Helper()
		if _, err := s.UpdateGroup(ctx, g.ID, func(g *store.Group) (store.MemberChanges, error) { return fn(g), nil }, event("group.patch"), store.GroupOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	update(equipe, func(*store.Group) store.MemberChanges { return store.MemberChanges{Add: []string{carol.ID}} })
	check("adding a member", ids(carol))
	update(equipe, func(*store.Group) store.MemberChanges { return store.MemberChanges{Remove: []string{bob.ID}} })
	check("removing a member", ids(bob))
	update(sales, func(*store.Group) store.MemberChanges { return store.MemberChanges{Add: []string{bob.ID}} })
	check("adding a member to a group no rule matches", nil)
	update(sales, func(g *store.Group) store.MemberChanges {
		g.Attributes["displayName"] = "Équipe Nord"
		return store.MemberChanges{}
	})
	check("renaming an unmatched group to an unmatched name", nil)
	update(equipe, func(g *store.Group) store.MemberChanges {
		g.Attributes["displayName"] = "Équipe Sud"
		return store.MemberChanges{}
	})
	check("renaming a matched group away from its rule", ids(alice, carol))
	update(equipe, func(g *store.Group) store.MemberChanges {
		g.Attributes["displayName"] = "EQUIPE"
		return store.MemberChanges{}
	})
	check("renaming a group to a name nothing matches (É is not E)", nil)
	update(equipe, func(g *store.Group) store.MemberChanges {
		g.Attributes["displayName"] = "équipe"
		return store.MemberChanges{}
	})
	check("renaming a group onto a rule's name", ids(alice, carol))
	update(equipe, func(*store.Group) store.MemberChanges {
		return store.MemberChanges{Replace: true, Add: []string{alice.ID, carol.ID}}
	})
	check("replacing the members with the same ones", nil)
	update(equipe, func(*store.Group) store.MemberChanges {
		return store.MemberChanges{Replace: true, Add: []string{bob.ID, carol.ID}}
	})
	check("replacing the members", ids(alice, bob))

	if _, err := s.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Attributes["displayName"] = "Bob"; return nil }, event("user.patch")); err != nil {
		t.Fatal(err)
	}
	check("changing a user's displayName", nil)
	if _, err := s.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Attributes["active"] = false; return nil }, event("user.patch")); err != nil {
		t.Fatal(err)
	}
	check("deactivating a user", ids(bob))

	if _, _, err := s.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"A"}, Description: "new words"}, event("bundle.update")); err != nil {
		t.Fatal(err)
	}
	check("changing a bundle's description", nil)
	if _, _, err := s.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"A", "B"}}, event("bundle.update")); err != nil {
		t.Fatal(err)
	}
	check("adding a course to a bundle", ids(bob, carol))
	if _, _, err := s.PutRule(ctx, mapping.Rule{Name: "r", GroupID: sales.ID, Bundles: []string{"eng"}}, event("rule.update")); err != nil {
		t.Fatal(err)
	}
	check("moving a rule from one group to another", ids(alice, bob, carol)) // équipe: bob, carol; Sales: alice, bob

	h.fail = errors.New("queue down")
	_, err := s.UpdateUser(ctx, alice.ID, func(u *store.User) error { u.Attributes["active"] = false; return nil }, event("user.patch"))
	if err == nil {
		t.Fatal("a write whose hook fails succeeded")
	}
	if getUser(t, s, alice.ID).Active() != true {
		t.Error("a write whose hook failed was committed")
	}
	h.fail = nil

	if err := s.DeleteGroup(ctx, sales.ID, event("group.delete")); err != nil {
		t.Fatal(err)
	}
	check("deleting a matched group", ids(alice, bob))
	if err := s.DeleteUser(ctx, carol.ID, store.Event{CorrelationID: "corr-carol"}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	last := h.changes
	h.mu.Unlock()
	if len(last) != 1 || last[0].Event.CorrelationID != "corr-carol" || last[0].Event.Time.IsZero() {
		t.Errorf("deleting a user: hook got %+v, want one change with the event's correlation id and time", last)
	}
	check("deleting a user", ids(carol))
}

func testEnrollments(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "dana"})
	intent := func(course, id, expect string, op mapping.Op) store.Intent {
		return store.Intent{Connector: "hooks", Course: course, Op: op, ID: id, ExpectID: expect,
			Bundles: []string{"eng"}, User: []byte(`{"id":"` + u.ID + `"}`), CorrelationID: "c1"}
	}
	if err := s.RecordIntents(ctx, u.ID, []store.Intent{intent("A", "id-a", "", mapping.OpEnroll), intent("B", "id-b", "", mapping.OpEnroll)}); err != nil {
		t.Fatal(err)
	}
	err := s.RecordIntents(ctx, u.ID, []store.Intent{intent("C", "id-c", "", mapping.OpEnroll), intent("A", "id-a2", "", mapping.OpEnroll)})
	wantErr(t, "an intent that expects no pending change where there is one", err, store.ErrVersionMismatch)
	es := enrollments(t, s, u.ID)
	if len(es) != 2 || es[0].PendingID != "id-a" || es[1].PendingID != "id-b" {
		t.Fatalf("after a refused batch: %+v; want only A and B pending, C not recorded", es)
	}
	if users, err := s.UsersWithPending(ctx); err != nil || !slices.Equal(users, []string{u.ID}) {
		t.Fatalf("UsersWithPending = %v, %v", users, err)
	}

	err = s.RecordOutcomes(ctx, u.ID, []store.Outcome{
		{Connector: "hooks", Course: "A", ID: "id-a", Op: mapping.OpEnroll, Event: event("enrollment.enroll")},
		{Connector: "hooks", Course: "B", ID: "id-b", Op: mapping.OpEnroll, Err: "HTTP 503", Event: event("enrollment.enroll")},
		{Connector: "hooks", Course: "B", ID: "stale", Op: mapping.OpEnroll, Event: event("enrollment.enroll")},
	})
	if err != nil {
		t.Fatal(err)
	}
	es = enrollments(t, s, u.ID)
	if es[0].State != mapping.Active || es[0].PendingOp != "" || es[0].Attempts != 0 {
		t.Errorf("A after success: %+v", es[0])
	}
	if es[1].State != mapping.Absent || es[1].PendingID != "id-b" || es[1].Attempts != 1 || es[1].LastError != "HTTP 503" {
		t.Errorf("B after a failure and a stale success: %+v; want still pending, 1 attempt", es[1])
	}
	if n := len(events(t, s, store.AuditQuery{ResourceID: u.ID})); n != 4 {
		t.Errorf("audit events of the user: %d, want 4 (create and three outcomes)", n)
	}
	err = s.RecordOutcomes(ctx, u.ID, []store.Outcome{{Connector: "hooks", Course: "B", ID: "id-b", Op: mapping.OpEnroll,
		Err: "course B does not exist", Refused: true, Event: event("enrollment.enroll")}})
	if err != nil {
		t.Fatal(err)
	}
	if es := enrollments(t, s, u.ID); es[1].PendingOp != "" || es[1].State != mapping.Absent || es[1].LastError != "course B does not exist" {
		t.Errorf("B after a refusal: %+v; want no longer pending, absent, with the reason", es[1])
	}
	if users, err := s.UsersWithPending(ctx); err != nil || len(users) != 0 {
		t.Errorf("UsersWithPending after the refusal = %v, %v; want none", users, err)
	}

	if err := s.RecordIntents(ctx, u.ID, []store.Intent{intent("A", "id-a3", "", mapping.OpUnenroll)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID, event("user.delete")); err != nil {
		t.Fatal(err)
	}
	in, err := s.ReadSyncInput(ctx, u.ID)
	if err != nil || in.User != nil || len(in.Enrollments) != 2 {
		t.Fatalf("ReadSyncInput of a deleted user = %+v, %v; want no user and its 2 enrollments", in, err)
	}
	err = s.RecordOutcomes(ctx, u.ID, []store.Outcome{{Connector: "hooks", Course: "A", ID: "id-a3", Op: mapping.OpUnenroll, Event: event("enrollment.unenroll")}})
	if err != nil {
		t.Fatal(err)
	}
	if es := enrollments(t, s, u.ID); len(es) != 1 || es[0].Course != "B" {
		t.Errorf("after a removal: %+v; want only B left", es)
	}
}

func enrollments(t *testing.T, s *store.Store, userID string) []store.Enrollment {
	t.Helper()
	es, err := s.Enrollments(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func testSyncLeases(t *testing.T, s *store.Store) {
	ctx := t.Context()
	acquire := func(holder string, ttl time.Duration, want bool) {
		t.Helper()
		ok, err := s.AcquireSyncLease(ctx, "u1", holder, ttl)
		if err != nil || ok != want {
			t.Fatalf("AcquireSyncLease(%s) = %v, %v; want %v", holder, ok, err, want)
		}
	}
	acquire("a", time.Minute, true)
	acquire("b", time.Minute, false)
	acquire("a", time.Minute, true) // its own lease, renewed
	if err := s.ReleaseSyncLease(ctx, "u1", "b"); err != nil {
		t.Fatal(err)
	}
	acquire("b", time.Minute, false) // b never held it: a's lease stands
	if err := s.ReleaseSyncLease(ctx, "u1", "a"); err != nil {
		t.Fatal(err)
	}
	acquire("b", -time.Second, true) // an already expired lease...
	acquire("c", time.Minute, true)  // ...is taken over
	acquire("b", time.Minute, false)
}

func testFindUserID(t *testing.T, s *store.Store) {
	ctx := t.Context()
	a := createUser(t, s, attrs{"userName": "Jörg@example.com", "externalId": "E-1"})
	createUser(t, s, attrs{"userName": "x1", "externalId": "shared"})
	createUser(t, s, attrs{"userName": "x2", "externalId": "shared"})
	for _, ref := range []string{a.ID, "JÖRG@EXAMPLE.COM", "E-1"} {
		if id, err := s.FindUserID(ctx, ref); err != nil || id != a.ID {
			t.Errorf("FindUserID(%q) = %q, %v; want %s", ref, id, err, a.ID)
		}
	}
	_, err := s.FindUserID(ctx, "shared")
	wantErr(t, "FindUserID of a shared externalId", err, store.ErrInvalidValue)
	_, err = s.FindUserID(ctx, "nobody")
	wantErr(t, "FindUserID of nobody", err, store.ErrNotFound)
}
