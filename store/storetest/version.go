package storetest

import (
	"sync"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// testPreconditions: updates and deletes guarded by a Precondition (HTTP
// If-Match) go ahead only at an accepted version, and change nothing
// otherwise, audit trail included.
func testPreconditions(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "guarded"})
	g := createGroup(t, s, "Guarded")
	setTitle := func(title string) func(*store.User) error {
		return func(u *store.User) error { u.Attributes["title"] = title; return nil }
	}
	rename := func(name string) func(*store.Group) (store.MemberChanges, error) {
		return func(g *store.Group) (store.MemberChanges, error) {
			g.Attributes["displayName"] = name
			return store.MemberChanges{}, nil
		}
	}
	// pre builds the preconditions from the current version v.
	tests := []struct {
		name    string
		pre     func(v int64) []store.Precondition
		wantErr error
	}{
		{"no precondition", func(int64) []store.Precondition { return nil }, nil},
		{"any version", func(int64) []store.Precondition { return []store.Precondition{{}} }, nil},
		{"current version", func(v int64) []store.Precondition { return []store.Precondition{{IfVersion: []int64{v}}} }, nil},
		{"one of a list", func(v int64) []store.Precondition { return []store.Precondition{{IfVersion: []int64{v + 5, v, 1}}} }, nil},
		{"stale version", func(v int64) []store.Precondition { return []store.Precondition{{IfVersion: []int64{v - 1}}} }, store.ErrVersionMismatch},
		{"future version", func(v int64) []store.Precondition { return []store.Precondition{{IfVersion: []int64{v + 1}}} }, store.ErrVersionMismatch},
		{"two that disagree", func(v int64) []store.Precondition {
			return []store.Precondition{{IfVersion: []int64{v}}, {IfVersion: []int64{v + 1}}}
		}, store.ErrVersionMismatch},
	}
	version := int64(1)
	for _, tc := range tests {
		n := countEvents(t, s)
		pre := tc.pre(version)
		_, uerr := s.UpdateUser(ctx, u.ID, setTitle(tc.name), event("user.patch"), pre...)
		_, gerr := s.UpdateGroup(ctx, g.ID, rename(tc.name), event("group.patch"), store.GroupOptions{}, pre...)
		if tc.wantErr != nil {
			wantErr(t, tc.name+": UpdateUser", uerr, tc.wantErr)
			wantErr(t, tc.name+": UpdateGroup", gerr, tc.wantErr)
			wantEqual(t, tc.name+": audit rows", countEvents(t, s), n)
			continue
		}
		wantNoErr(t, tc.name+": UpdateUser", uerr)
		wantNoErr(t, tc.name+": UpdateGroup", gerr)
		version++
		wantEqual(t, tc.name+": user title", getUser(t, s, u.ID).Attributes["title"], any(tc.name))
		wantEqual(t, tc.name+": group version", getGroup(t, s, g.ID).Version, version)
	}
	uv, err := s.UserVersion(ctx, u.ID)
	wantNoErr(t, "UserVersion", err)
	wantEqual(t, "UserVersion", uv, version)
	gv, err := s.GroupVersion(ctx, g.ID)
	wantNoErr(t, "GroupVersion", err)
	wantEqual(t, "GroupVersion", gv, version)

	stale := store.Precondition{IfVersion: []int64{version - 1}}
	wantErr(t, "DeleteUser stale", s.DeleteUser(ctx, u.ID, event("user.delete"), stale), store.ErrVersionMismatch)
	wantErr(t, "DeleteGroup stale", s.DeleteGroup(ctx, g.ID, event("group.delete"), stale), store.ErrVersionMismatch)
	getUser(t, s, u.ID)
	getGroup(t, s, g.ID)
	current := store.Precondition{IfVersion: []int64{version}}
	wantNoErr(t, "DeleteUser current", s.DeleteUser(ctx, u.ID, event("user.delete"), current))
	wantNoErr(t, "DeleteGroup current", s.DeleteGroup(ctx, g.ID, event("group.delete"), current))

	// A missing resource is ErrNotFound, not a mismatch.
	for _, pre := range [][]store.Precondition{nil, {current}, {stale}} {
		wantErr(t, "DeleteUser gone", s.DeleteUser(ctx, u.ID, event("user.delete"), pre...), store.ErrNotFound)
		wantErr(t, "DeleteGroup gone", s.DeleteGroup(ctx, g.ID, event("group.delete"), pre...), store.ErrNotFound)
		_, err := s.UpdateUser(ctx, u.ID, setTitle("x"), event("user.patch"), pre...)
		wantErr(t, "UpdateUser gone", err, store.ErrNotFound)
	}
	_, err = s.UserVersion(ctx, u.ID)
	wantErr(t, "UserVersion gone", err, store.ErrNotFound)
	_, err = s.GroupVersion(ctx, "\x00")
	wantErr(t, "GroupVersion bad id", err, store.ErrNotFound)
}

// testMembershipBumpsGroupVersion: every change of a group's membership,
// from either side, gives the group a new version; the user's version stays.
func testMembershipBumpsGroupVersion(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "member"})
	g := createGroup(t, s, "Club")
	add := func(*store.Group) (store.MemberChanges, error) { return store.MemberChanges{Add: []string{u.ID}}, nil }
	_, err := s.UpdateGroup(ctx, g.ID, add, event("group.patch"), store.GroupOptions{})
	wantNoErr(t, "add member", err)
	wantEqual(t, "group version after add", getGroup(t, s, g.ID).Version, int64(2))
	wantEqual(t, "user version after add", getUser(t, s, u.ID).Version, int64(1))
	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID, event("user.delete")))
	wantEqual(t, "group version after member deleted", getGroup(t, s, g.ID).Version, int64(3))
}

// testRacingConditionalWrites: writers that all expect the same version
// race; exactly one wins, the others get ErrVersionMismatch.
func testRacingConditionalWrites(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "contended"})
	g := createGroup(t, s, "Contended")
	pre := store.Precondition{IfVersion: []int64{1}}
	var wins, mismatches sync.Map
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Attributes["title"] = "w"; return nil }, event("user.patch"), pre)
			record(&wins, &mismatches, "user", i, err)
		})
		wg.Go(func() {
			_, err := s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) { return store.MemberChanges{}, nil },
				event("group.patch"), store.GroupOptions{}, pre)
			record(&wins, &mismatches, "group", i, err)
		})
	}
	wg.Wait()
	for _, kind := range []string{"user", "group"} {
		w, m := count(&wins, kind), count(&mismatches, kind)
		if w != 1 || m != writers-1 {
			t.Errorf("%s: %d writers won and %d got ErrVersionMismatch; want 1 and %d", kind, w, m, writers-1)
		}
	}
	wantEqual(t, "user version", getUser(t, s, u.ID).Version, int64(2))
	wantEqual(t, "group version", getGroup(t, s, g.ID).Version, int64(2))
}

type raceKey struct {
	kind string
	i    int
}

func record(wins, mismatches *sync.Map, kind string, i int, err error) {
	switch {
	case err == nil:
		wins.Store(raceKey{kind, i}, true)
	case errorsIs(err, store.ErrVersionMismatch):
		mismatches.Store(raceKey{kind, i}, true)
	}
}

func count(m *sync.Map, kind string) int {
	n := 0
	m.Range(func(k, _ any) bool {
		if k.(raceKey).kind == kind {
			n++
		}
		return true
	})
	return n
}
