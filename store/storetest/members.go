package storetest

import (
	"errors"
	"iter"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// testReadGroup checks Store.ReadGroup: the group and its members streamed
// from one snapshot, as GetGroup with members returns them.
func testReadGroup(t *testing.T, s *store.Store) {
	ctx := t.Context()
	alice := createUser(t, s, attrs{"userName": "alice", "displayName": "Alice A."})
	bob := createUser(t, s, attrs{"userName": "bob"})
	carol := createUser(t, s, attrs{"userName": "carol", "displayName": ""})
	full := createGroup(t, s, "Full", alice.ID, bob.ID, carol.ID)
	empty := createGroup(t, s, "Empty")

	// collect reads a group as a streaming caller would.
	collect := func(id string) (*store.Group, []store.Member, error) {
		var (
			group   *store.Group
			members = []store.Member{}
		)
		err := s.ReadGroup(ctx, id, func(g *store.Group, seq iter.Seq2[store.Member, error]) error {
			group = g
			for m, err := range seq {
				if err != nil {
					return err
				}
				members = append(members, m)
			}
			return nil
		})
		return group, members, err
	}

	for _, g := range []*store.Group{full, empty} {
		got, members, err := collect(g.ID)
		wantNoErr(t, "ReadGroup("+g.DisplayName()+")", err)
		want := getGroup(t, s, g.ID)
		if got.Members != nil {
			t.Errorf("ReadGroup: the group came with Members %v; they come from the iterator", got.Members)
		}
		wantEqual(t, "ReadGroup version", got.Version, want.Version)
		wantEqual(t, "ReadGroup attributes", got.Attributes, want.Attributes)
		wantTime(t, "ReadGroup lastModified", got.LastModified, want.LastModified)
		wantMembers := want.Members
		if wantMembers == nil {
			wantMembers = []store.Member{}
		}
		wantEqual(t, "ReadGroup members (sorted, with display)", members, wantMembers)
	}

	for _, id := range []string{"", "nope", "\x00"} {
		called := false
		err := s.ReadGroup(ctx, id, func(*store.Group, iter.Seq2[store.Member, error]) error {
			called = true
			return nil
		})
		wantErr(t, "ReadGroup("+id+")", err, store.ErrNotFound)
		if called {
			t.Errorf("ReadGroup(%q) called fn for a missing group", id)
		}
	}

	// fn's error comes back as is, and stopping early is allowed.
	stop := errors.New("stop")
	err := s.ReadGroup(ctx, full.ID, func(_ *store.Group, seq iter.Seq2[store.Member, error]) error {
		for range seq {
			break
		}
		return stop
	})
	if err != stop {
		t.Fatalf("ReadGroup returned %v, want fn's own error", err)
	}

	// The members are those of the group's version that fn got: a write
	// committed while fn runs is not seen.
	dave := createUser(t, s, attrs{"userName": "dave"})
	var during []store.Member
	err = s.ReadGroup(ctx, full.ID, func(g *store.Group, seq iter.Seq2[store.Member, error]) error {
		_, err := s.UpdateGroup(ctx, full.ID, func(*store.Group) (store.MemberChanges, error) {
			return store.MemberChanges{Add: []string{dave.ID}, Remove: []string{alice.ID}}, nil
		}, event("group.patch"), store.GroupOptions{})
		if err != nil {
			return err
		}
		for m, err := range seq {
			if err != nil {
				return err
			}
			during = append(during, m)
		}
		return nil
	})
	wantNoErr(t, "ReadGroup with a write meanwhile", err)
	wantEqual(t, "members read while a write committed", memberValues(during), sorted([]string{alice.ID, bob.ID, carol.ID}))
	wantEqual(t, "members after it", memberValues(getGroup(t, s, full.ID).Members), sorted([]string{bob.ID, carol.ID, dave.ID}))

	// A write after the read is not seen by it, and the store still
	// works: the read transaction was closed.
	_, err = s.UpdateGroup(ctx, full.ID, func(*store.Group) (store.MemberChanges, error) {
		return store.MemberChanges{Remove: []string{bob.ID}}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantNoErr(t, "UpdateGroup after ReadGroup", err)
	_, members, err := collect(full.ID)
	wantNoErr(t, "ReadGroup after update", err)
	wantEqual(t, "members after removing bob", memberValues(members), sorted([]string{carol.ID, dave.ID}))
}
