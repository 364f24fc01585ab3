package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestGroups(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		t.Run("CreateAndMembership", func(t *testing.T) { t.Parallel(); testGroupMembership(t, inst) })
		t.Run("Uniqueness", func(t *testing.T) { t.Parallel(); testGroupUniqueness(t, inst) })
		t.Run("UnknownMember", func(t *testing.T) { t.Parallel(); testGroupUnknownMember(t, inst) })
		t.Run("DeleteUserLeavesGroups", func(t *testing.T) { t.Parallel(); testDeleteUserLeavesGroups(t, inst) })
		t.Run("DeleteGroupLeavesUsers", func(t *testing.T) { t.Parallel(); testDeleteGroupLeavesUsers(t, inst) })
		t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testGroupLifecycle(t, inst) })
	})
}

func testGroupMembership(t *testing.T, inst *instance) {
	u1Name, u2Name := uniq("member.one"), uniq("member.two")
	u1 := mustCreateUser(t, inst, u1Name)
	u2 := mustCreateUser(t, inst, u2Name)
	name := uniq("Engineering")

	r := inst.do(t, http.MethodPost, "/scim/v2/Groups", map[string]any{
		"schemas":     []string{groupURN},
		"displayName": name,
		"members":     []map[string]any{{"value": u1}},
	})
	mustStatus(t, r, http.StatusCreated)
	checkSCIMContentType(t, r)
	g := r.JSON(t)
	gid := getStr(g, "id")
	if want := inst.base + "/scim/v2/Groups/" + gid; r.Header.Get("Location") != want || getStr(g, "meta", "location") != want {
		t.Errorf("Location %q, meta.location %q, want both %q", r.Header.Get("Location"), getStr(g, "meta", "location"), want)
	}
	if getStr(g, "meta", "version") != `W/"1"` || r.Header.Get("ETag") != `W/"1"` {
		t.Errorf("meta.version %q, ETag %q, want both W/\"1\"", getStr(g, "meta", "version"), r.Header.Get("ETag"))
	}
	if getStr(g, "meta", "resourceType") != "Group" {
		t.Errorf("meta.resourceType = %q, want Group", getStr(g, "meta", "resourceType"))
	}
	members := getList(g, "members")
	if len(members) != 1 || getStr(members[0], "value") != u1 {
		t.Fatalf("members = %s, want one member %s", mustJSON(members), u1)
	}
	if d := getStr(members[0], "display"); d != u1Name+" Display" && d != u1Name {
		t.Errorf("member display = %q, want the user's displayName %q", d, u1Name+" Display")
	}
	if got := inst.mustGet(t, "/scim/v2/Groups/"+gid); !equalJSON(got, g) {
		t.Errorf("GET differs from the POST response:\n  POST %s\n  GET  %s", mustJSON(g), mustJSON(got))
	}

	t.Run("user shows its groups", func(t *testing.T) {
		u := inst.mustGet(t, "/scim/v2/Users/"+u1)
		groups := getList(u, "groups")
		if !slices.Contains(values(groups), gid) {
			t.Fatalf("user %s groups = %s, want to contain %s", u1, mustJSON(groups), gid)
		}
		for _, e := range groups {
			if getStr(e, "value") == gid && getStr(e, "display") != name {
				t.Errorf("groups entry display = %q, want %q", getStr(e, "display"), name)
			}
		}
		if gs := getList(inst.mustGet(t, "/scim/v2/Users/"+u2), "groups"); len(gs) != 0 {
			t.Errorf("non-member user has groups %s", mustJSON(gs))
		}
	})

	t.Run("filter displayName eq", func(t *testing.T) {
		m := inst.list(t, "/scim/v2/Groups?"+filterQuery(fmt.Sprintf("displayName eq %q", name)))
		if got := sortedIDs(m); !slices.Equal(got, []string{gid}) {
			t.Errorf("got %v, want [%s]", got, gid)
		}
	})

	t.Run("excludedAttributes=members", func(t *testing.T) {
		m := inst.list(t, "/scim/v2/Groups?excludedAttributes=members&"+filterQuery(fmt.Sprintf("displayName eq %q", name)))
		res := getList(m, "Resources")
		if len(res) != 1 {
			t.Fatalf("want 1 group, got %s", mustJSON(m))
		}
		if _, ok := res[0].(map[string]any)["members"]; ok {
			t.Errorf("list with excludedAttributes=members has members: %s", mustJSON(res[0]))
		}
		if getStr(res[0], "displayName") != name || getStr(res[0], "id") != gid {
			t.Errorf("excludedAttributes=members lost displayName or id: %s", mustJSON(res[0]))
		}
		one := inst.mustGet(t, "/scim/v2/Groups/"+gid+"?excludedAttributes=members")
		if _, ok := one["members"]; ok {
			t.Errorf("GET with excludedAttributes=members has members: %s", mustJSON(one))
		}
		all := inst.list(t, "/scim/v2/Groups?excludedAttributes=members")
		for _, r := range getList(all, "Resources") {
			if _, ok := r.(map[string]any)["members"]; ok {
				t.Errorf("GET /Groups?excludedAttributes=members has members: %s", mustJSON(r))
			}
		}
	})

	t.Run("Entra membership check", func(t *testing.T) {
		for _, tc := range []struct {
			user string
			want int
		}{{u1, 1}, {u2, 0}} {
			f := fmt.Sprintf(`id eq %q and members[value eq %q]`, gid, tc.user)
			m := inst.list(t, "/scim/v2/Groups?excludedAttributes=members&"+filterQuery(f))
			if n, _ := getNum(m, "totalResults"); n != tc.want {
				t.Errorf("filter %s: totalResults %v, want %d", f, m["totalResults"], tc.want)
			}
			f = fmt.Sprintf(`members.value eq %q`, tc.user)
			m = inst.list(t, "/scim/v2/Groups?"+filterQuery(f))
			if got := slices.Contains(sortedIDs(m), gid); got != (tc.want == 1) {
				t.Errorf("filter %s: group listed %v, want %v", f, got, tc.want == 1)
			}
		}
	})
}

func testGroupUniqueness(t *testing.T, inst *instance) {
	name := uniq("Unique Group")
	first := mustCreateGroup(t, inst, name)
	other := mustCreateGroup(t, inst, uniq("Other Group"))
	checkSCIMError(t, inst.do(t, http.MethodPost, "/scim/v2/Groups",
		map[string]any{"schemas": []string{groupURN}, "displayName": name}), http.StatusConflict, "uniqueness")
	checkSCIMError(t, inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+other,
		patchBody(op("replace", "displayName", name))), http.StatusConflict, "uniqueness")
	checkSCIMError(t, inst.do(t, http.MethodPut, "/scim/v2/Groups/"+other,
		map[string]any{"schemas": []string{groupURN}, "displayName": name}), http.StatusConflict, "uniqueness")
	m := inst.list(t, "/scim/v2/Groups?"+filterQuery(fmt.Sprintf("displayName eq %q", name)))
	if got := sortedIDs(m); !slices.Equal(got, []string{first}) {
		t.Errorf("groups named %q: %v, want only %s", name, got, first)
	}
}

func testGroupUnknownMember(t *testing.T, inst *instance) {
	u := mustCreateUser(t, inst, uniq("known.member"))
	name := uniq("Ghost Group")
	r := inst.do(t, http.MethodPost, "/scim/v2/Groups", map[string]any{
		"schemas":     []string{groupURN},
		"displayName": name,
		"members":     []map[string]any{{"value": u}, {"value": "no-such-user-" + randHex(4)}},
	})
	checkSCIMError(t, r, http.StatusBadRequest, "invalidValue")
	if n := inst.total(t, "/scim/v2/Groups?"+filterQuery(fmt.Sprintf("displayName eq %q", name))); n != 0 {
		t.Errorf("a refused create left a group behind (%d)", n)
	}
	if gs := getList(inst.mustGet(t, "/scim/v2/Users/"+u), "groups"); len(gs) != 0 {
		t.Errorf("a refused create left memberships: %s", mustJSON(gs))
	}
}

func testDeleteUserLeavesGroups(t *testing.T, inst *instance) {
	stay := mustCreateUser(t, inst, uniq("stays"))
	leave := mustCreateUser(t, inst, uniq("leaves"))
	gid := mustCreateGroup(t, inst, uniq("Leavers"), stay, leave)
	if got := inst.memberValues(t, gid); !slices.Equal(got, sorted(stay, leave)) {
		t.Fatalf("members %v, want %v", got, sorted(stay, leave))
	}
	mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+leave, nil), http.StatusNoContent)
	if got := inst.memberValues(t, gid); !slices.Equal(got, []string{stay}) {
		t.Errorf("after deleting %s, members = %v, want [%s]", leave, got, stay)
	}
	f := fmt.Sprintf(`members.value eq %q`, leave)
	if n := inst.total(t, "/scim/v2/Groups?"+filterQuery(f)); n != 0 {
		t.Errorf("filter %s after delete: totalResults %d, want 0", f, n)
	}
}

func testDeleteGroupLeavesUsers(t *testing.T, inst *instance) {
	u := mustCreateUser(t, inst, uniq("orphan"))
	keep := mustCreateGroup(t, inst, uniq("Kept"), u)
	gone := mustCreateGroup(t, inst, uniq("Gone"), u)
	if got := values(getList(inst.mustGet(t, "/scim/v2/Users/"+u), "groups")); !slices.Equal(got, sorted(keep, gone)) {
		t.Fatalf("user groups %v, want %v", got, sorted(keep, gone))
	}
	mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Groups/"+gone, nil), http.StatusNoContent)
	checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Groups/"+gone, nil), http.StatusNotFound, "")
	if got := values(getList(inst.mustGet(t, "/scim/v2/Users/"+u), "groups")); !slices.Equal(got, []string{keep}) {
		t.Errorf("after deleting group %s, user groups = %v, want [%s]", gone, got, keep)
	}
}

func testGroupLifecycle(t *testing.T, inst *instance) {
	u1 := mustCreateUser(t, inst, uniq("life.one"))
	u2 := mustCreateUser(t, inst, uniq("life.two"))
	name := uniq("Lifecycle Group")
	gid := mustCreateGroup(t, inst, name, u1)

	renamed := name + " Renamed"
	r := inst.do(t, http.MethodPut, "/scim/v2/Groups/"+gid, map[string]any{
		"schemas":     []string{groupURN},
		"id":          gid,
		"displayName": renamed,
		"members":     []map[string]any{{"value": u2}},
	})
	mustStatus(t, r, http.StatusOK)
	g := r.JSON(t)
	if getStr(g, "displayName") != renamed || getStr(g, "meta", "version") != `W/"2"` {
		t.Errorf("PUT: displayName %q version %q, want %q W/\"2\"", getStr(g, "displayName"), getStr(g, "meta", "version"), renamed)
	}
	if got := inst.memberValues(t, gid); !slices.Equal(got, []string{u2}) {
		t.Errorf("after PUT members = %v, want [%s]", got, u2)
	}
	mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Groups/"+gid, nil), http.StatusNoContent)
	checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Groups/"+gid, nil), http.StatusNotFound, "")
	checkSCIMError(t, inst.do(t, http.MethodDelete, "/scim/v2/Groups/"+gid, nil), http.StatusNotFound, "")
}
