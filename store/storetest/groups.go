package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func testGroupCRUD(t *testing.T, s *store.Store) {
	ctx := t.Context()
	alice := createUser(t, s, attrs{"userName": "alice", "displayName": "Alice A."})
	bob := createUser(t, s, attrs{"userName": "bob"})
	carol := createUser(t, s, attrs{"userName": "carol", "displayName": ""})

	g := &store.Group{
		Attributes: attrs{"displayName": "Engineering", "externalId": "eng"},
		Members:    []store.Member{{Value: carol.ID}, {Value: alice.ID}, {Value: bob.ID}, {Value: alice.ID}},
	}
	wantNoErr(t, "CreateGroup", s.CreateGroup(ctx, g, event("group.create")))
	wantEqual(t, "Version", g.Version, int64(1))
	wantTime(t, "LastModified", g.LastModified, g.Created)
	want := sortedMembers(
		store.Member{Value: alice.ID, Display: "Alice A."},
		store.Member{Value: bob.ID, Display: "bob"},     // no displayName: userName
		store.Member{Value: carol.ID, Display: "carol"}, // empty displayName: userName
	)
	wantEqual(t, "members after create (deduplicated, sorted, with display)", g.Members, want)

	got := getGroup(t, s, g.ID)
	wantEqual(t, "members", got.Members, want)
	wantEqual(t, "attributes", got.Attributes, attrs{"displayName": "Engineering", "externalId": "eng"})
	wantTime(t, "Created", got.Created, g.Created)

	bare, err := s.GetGroup(ctx, g.ID, store.GroupOptions{})
	wantNoErr(t, "GetGroup without members", err)
	if bare.Members != nil {
		t.Errorf("Members without WithMembers: got %v, want nil", bare.Members)
	}

	updated, err := s.UpdateGroup(ctx, g.ID, func(g *store.Group) (store.MemberChanges, error) {
		if g.Members != nil {
			t.Errorf("fn got members %v; it must get none", g.Members)
		}
		g.Attributes["displayName"] = "Platform Engineering"
		return store.MemberChanges{}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantNoErr(t, "UpdateGroup", err)
	wantEqual(t, "Version", updated.Version, int64(2))
	if updated.Members != nil {
		t.Errorf("UpdateGroup without WithMembers returned members %v", updated.Members)
	}
	wantEqual(t, "displayName", getGroup(t, s, g.ID).DisplayName(), "Platform Engineering")

	wantNoErr(t, "DeleteGroup", s.DeleteGroup(ctx, g.ID, event("group.delete")))
	_, err = s.GetGroup(ctx, g.ID, store.GroupOptions{})
	wantErr(t, "GetGroup after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteGroup again", s.DeleteGroup(ctx, g.ID, event("group.delete")), store.ErrNotFound)
	_, err = s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) {
		return store.MemberChanges{}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantErr(t, "UpdateGroup after delete", err, store.ErrNotFound)
	for _, id := range []string{"", "nope", "\x00"} {
		_, err := s.GetGroup(ctx, id, store.GroupOptions{WithMembers: true})
		wantErr(t, "GetGroup("+id+")", err, store.ErrNotFound)
	}

	// A displayName is required.
	err = s.CreateGroup(ctx, &store.Group{Attributes: attrs{}}, event("group.create"))
	wantErr(t, "CreateGroup without displayName", err, store.ErrInvalidValue)
}

func sortedMembers(ms ...store.Member) []store.Member {
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			if ms[j].Value < ms[i].Value {
				ms[i], ms[j] = ms[j], ms[i]
			}
		}
	}
	return ms
}

func testGroupUniqueness(t *testing.T, s *store.Store) {
	ctx := t.Context()
	createGroup(t, s, "Engineering")
	other := createGroup(t, s, "Sales")
	for _, name := range []string{"Engineering", "engineering", "ENGINEERING"} {
		err := s.CreateGroup(ctx, &store.Group{Attributes: attrs{"displayName": name}}, event("group.create"))
		wantErr(t, "CreateGroup("+name+")", err, store.ErrAlreadyExists)
		if !strings.Contains(err.Error(), "displayName") {
			t.Errorf("error %q should name displayName", err)
		}
	}
	_, err := s.UpdateGroup(ctx, other.ID, func(g *store.Group) (store.MemberChanges, error) {
		g.Attributes["displayName"] = "engineering"
		return store.MemberChanges{}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantErr(t, "rename to a taken displayName", err, store.ErrAlreadyExists)
	wantEqual(t, "name after failed rename", getGroup(t, s, other.ID).DisplayName(), "Sales")

	// Case is ignored for every script, as strings.EqualFold does.
	emile := createGroup(t, s, "Émile")
	for _, name := range []string{"émile", "ÉMILE", "éMILE"} {
		err := s.CreateGroup(ctx, &store.Group{Attributes: attrs{"displayName": name}}, event("group.create"))
		wantErr(t, "CreateGroup("+name+") after Émile", err, store.ErrAlreadyExists)
		if !strings.Contains(err.Error(), "displayName") || !strings.Contains(err.Error(), name) {
			t.Errorf("error %q should name the attribute and the value", err)
		}
	}
	_, err = s.UpdateGroup(ctx, other.ID, func(g *store.Group) (store.MemberChanges, error) {
		g.Attributes["displayName"] = "éMILE"
		return store.MemberChanges{}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantErr(t, "rename to a taken displayName, other case of a non-ASCII letter", err, store.ErrAlreadyExists)
	wantEqual(t, "name after failed rename", getGroup(t, s, other.ID).DisplayName(), "Sales")
	createGroup(t, s, "Emile") // another letter, another name
	createGroup(t, s, "ΣΟΦΙΑ")
	err = s.CreateGroup(ctx, &store.Group{Attributes: attrs{"displayName": "ςοφια"}}, event("group.create"))
	wantErr(t, "CreateGroup(ςοφια) after ΣΟΦΙΑ", err, store.ErrAlreadyExists)

	// A rename moves the key: the old name is free, in any case.
	_, err = s.UpdateGroup(ctx, emile.ID, func(g *store.Group) (store.MemberChanges, error) {
		g.Attributes["displayName"] = "Zoë"
		return store.MemberChanges{}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantNoErr(t, "rename Émile to Zoë", err)
	createGroup(t, s, "ÉMILE")
	err = s.CreateGroup(ctx, &store.Group{Attributes: attrs{"displayName": "ZOË"}}, event("group.create"))
	wantErr(t, "CreateGroup(ZOË) after the rename", err, store.ErrAlreadyExists)
}

func testGroupMembership(t *testing.T, s *store.Store) {
	ctx := t.Context()
	var ids []string
	for _, n := range []string{"u1", "u2", "u3", "u4"} {
		ids = append(ids, createUser(t, s, attrs{"userName": n}).ID)
	}
	g := createGroup(t, s, "G", ids[0])
	version := g.Version

	patch := func(c store.MemberChanges) []string {
		t.Helper()
		out, err := s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) {
			return c, nil
		}, event("group.patch"), store.GroupOptions{WithMembers: true})
		wantNoErr(t, "UpdateGroup", err)
		version++
		wantEqual(t, "version", out.Version, version)
		stored := memberValues(getGroup(t, s, g.ID).Members)
		wantEqual(t, "returned members", memberValues(out.Members), stored)
		return stored
	}

	wantEqual(t, "add", patch(store.MemberChanges{Add: []string{ids[1]}}), sorted(ids[:2]))
	wantEqual(t, "add present (no-op)", patch(store.MemberChanges{Add: []string{ids[1], ids[0], ids[1]}}), sorted(ids[:2]))
	wantEqual(t, "remove absent (no-op)", patch(store.MemberChanges{Remove: []string{ids[3], "not-a-user", "\x00"}}), sorted(ids[:2]))
	wantEqual(t, "remove", patch(store.MemberChanges{Remove: []string{ids[0]}}), sorted(ids[1:2]))
	wantEqual(t, "replace", patch(store.MemberChanges{Replace: true, Add: []string{ids[2], ids[3]}}), sorted(ids[2:4]))
	wantEqual(t, "remove then add the same", patch(store.MemberChanges{Remove: []string{ids[2]}, Add: []string{ids[2]}}), sorted(ids[2:4]))
	wantEqual(t, "replace, remove, add", patch(store.MemberChanges{Replace: true, Remove: []string{ids[0]}, Add: []string{ids[0], ids[1]}}), sorted(ids[0:2]))
	wantEqual(t, "replace with nothing", patch(store.MemberChanges{Replace: true}), []string{})
	wantEqual(t, "empty change", patch(store.MemberChanges{}), []string{})
}

func testGroupUnknownMember(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "known"})
	n := countEvents(t, s)

	err := s.CreateGroup(ctx, &store.Group{
		Attributes: attrs{"displayName": "G"},
		Members:    []store.Member{{Value: u.ID}, {Value: "ghost-id"}},
	}, event("group.create"))
	wantErr(t, "CreateGroup with an unknown member", err, store.ErrUnknownMember)
	if !strings.Contains(err.Error(), "ghost-id") {
		t.Errorf("error %q should name the unknown id", err)
	}
	p, err := s.ListGroups(ctx, store.ListQuery{Count: 10}, store.GroupOptions{})
	wantNoErr(t, "ListGroups", err)
	wantEqual(t, "groups after failed create", p.Total, 0)
	wantEqual(t, "audit rows after failed create", countEvents(t, s), n)

	g := createGroup(t, s, "G", u.ID)
	n = countEvents(t, s)
	for _, bad := range []string{"ghost-id", "", "\x00", "\xff"} {
		_, err = s.UpdateGroup(ctx, g.ID, func(g *store.Group) (store.MemberChanges, error) {
			g.Attributes["displayName"] = "Renamed"
			return store.MemberChanges{Replace: true, Add: []string{bad}}, nil
		}, event("group.patch"), store.GroupOptions{})
		wantErr(t, "UpdateGroup adding "+bad, err, store.ErrUnknownMember)
	}
	got := getGroup(t, s, g.ID)
	wantEqual(t, "members after failed update", memberValues(got.Members), []string{u.ID})
	wantEqual(t, "displayName after failed update", got.DisplayName(), "G")
	wantEqual(t, "version after failed update", got.Version, int64(1))
	wantEqual(t, "audit rows after failures", countEvents(t, s), n)

	// fn's own error is returned unchanged and rolls back.
	mine := errors.New("mine")
	_, err = s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) {
		return store.MemberChanges{Replace: true}, mine
	}, event("group.patch"), store.GroupOptions{})
	if err != mine { //nolint:errorlint // the very error is the contract
		t.Fatalf("UpdateGroup returned %v, want fn's error", err)
	}
	wantEqual(t, "members after fn error", memberValues(getGroup(t, s, g.ID).Members), []string{u.ID})
}

func testUserGroups(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "member"})
	other := createUser(t, s, attrs{"userName": "other"})
	g1 := createGroup(t, s, "Zeta", u.ID)
	g2 := createGroup(t, s, "Alpha", u.ID, other.ID)
	createGroup(t, s, "Empty")

	want := []store.GroupRef{{ID: g1.ID, DisplayName: "Zeta"}, {ID: g2.ID, DisplayName: "Alpha"}}
	if want[1].ID < want[0].ID {
		want[0], want[1] = want[1], want[0]
	}
	wantEqual(t, "GetUser groups", getUser(t, s, u.ID).Groups, want)

	p, err := s.ListUsers(ctx, store.ListQuery{Count: 10})
	wantNoErr(t, "ListUsers", err)
	for _, got := range p.Resources {
		switch got.ID {
		case u.ID:
			wantEqual(t, "listed groups", got.Groups, want)
		case other.ID:
			wantEqual(t, "listed groups of other", got.Groups, []store.GroupRef{{ID: g2.ID, DisplayName: "Alpha"}})
		}
	}

	// Renaming a group shows in its members' groups.
	_, err = s.UpdateGroup(ctx, g1.ID, func(g *store.Group) (store.MemberChanges, error) {
		g.Attributes["displayName"] = "Zed"
		return store.MemberChanges{Remove: []string{}}, nil
	}, event("group.patch"), store.GroupOptions{})
	wantNoErr(t, "UpdateGroup", err)
	for _, ref := range getUser(t, s, u.ID).Groups {
		if ref.ID == g1.ID && ref.DisplayName != "Zed" {
			t.Errorf("group ref %+v: want the new displayName", ref)
		}
	}
}

func testDeleteCascades(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "leaver"})
	stay := createUser(t, s, attrs{"userName": "stayer"})
	g := createGroup(t, s, "Team", u.ID, stay.ID)

	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID, event("user.delete")))
	got := getGroup(t, s, g.ID)
	wantEqual(t, "members after deleting a member", memberValues(got.Members), []string{stay.ID})
	wantEqual(t, "group version after losing a member", got.Version, int64(2))

	// A new user cannot inherit the memberships of a deleted one.
	again := createUser(t, s, attrs{"userName": "leaver"})
	wantEqual(t, "groups of a recreated user", len(getUser(t, s, again.ID).Groups), 0)

	wantNoErr(t, "DeleteGroup", s.DeleteGroup(ctx, g.ID, event("group.delete")))
	wantEqual(t, "groups after group delete", len(getUser(t, s, stay.ID).Groups), 0)
	// The group name is free again, with no members.
	g2 := createGroup(t, s, "Team")
	wantEqual(t, "members of a recreated group", len(getGroup(t, s, g2.ID).Members), 0)
}
