package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
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
		t.Run("ConcurrentMemberAdds", func(t *testing.T) { t.Parallel(); testConcurrentMemberAdds(t, inst) })
		t.Run("Filters", func(t *testing.T) { t.Parallel(); testGroupFilters(t, inst) })
		t.Run("UserWritesKeepMemberships", func(t *testing.T) { t.Parallel(); testUserWritesKeepMemberships(t, inst) })
		t.Run("DuplicateMembers", func(t *testing.T) { t.Parallel(); testGroupDuplicateMembers(t, inst) })
		t.Run("Pagination", func(t *testing.T) { t.Parallel(); testGroupPagination(t, inst) })
		t.Run("MembershipChurn", func(t *testing.T) { t.Parallel(); testMembershipChurn(t, inst) })
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

	t.Run("users by group", func(t *testing.T) {
		f := fmt.Sprintf(`groups.value eq %q`, gid)
		if got := sortedIDs(inst.list(t, "/scim/v2/Users?"+filterQuery(f))); !slices.Equal(got, []string{u1}) {
			t.Errorf("filter %s: %v, want [%s]", f, got, u1)
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

// testGroupDuplicateMembers: naming a member twice makes it a member once.
func testGroupDuplicateMembers(t *testing.T, inst *instance) {
	u := mustCreateUser(t, inst, uniq("twice"))
	gid := mustCreateGroup(t, inst, uniq("Twice"), u, u)
	if got := inst.memberValues(t, gid); !slices.Equal(got, []string{u}) {
		t.Errorf("members %v, want [%s]", got, u)
	}
	patchAndGet(t, inst, "/scim/v2/Groups/"+gid, op("add", "members", []any{map[string]any{"value": u}, map[string]any{"value": u}}))
	if got := inst.memberValues(t, gid); !slices.Equal(got, []string{u}) {
		t.Errorf("after adding it twice more: members %v, want [%s]", got, u)
	}
	r := inst.do(t, http.MethodPut, "/scim/v2/Groups/"+gid, map[string]any{
		"schemas": []string{groupURN}, "displayName": uniq("Twice Put"),
		"members": []map[string]any{{"value": u}, {"value": "no-such-user-" + randHex(4)}},
	})
	checkSCIMError(t, r, http.StatusBadRequest, "invalidValue")
	if got := inst.memberValues(t, gid); !slices.Equal(got, []string{u}) {
		t.Errorf("a refused PUT changed members: %v, want [%s]", got, u)
	}
}

// testGroupPagination pages through groups like users.
func testGroupPagination(t *testing.T, inst *instance) {
	p := uniq("gpage")
	var ids []string
	for i := range 3 {
		ids = append(ids, mustCreateGroup(t, inst, fmt.Sprintf("%s %d", p, i)))
	}
	var seen []string
	for start := 1; start <= 3; start++ {
		m := inst.list(t, fmt.Sprintf("/scim/v2/Groups?startIndex=%d&count=1&%s", start, filterQuery(fmt.Sprintf("displayName sw %q", p))))
		if n, _ := getNum(m, "itemsPerPage"); n != 1 {
			t.Errorf("startIndex=%d&count=1: itemsPerPage %v", start, m["itemsPerPage"])
		}
		if n, _ := getNum(m, "totalResults"); n != 3 {
			t.Errorf("startIndex=%d&count=1: totalResults %v, want 3", start, m["totalResults"])
		}
		seen = append(seen, idsInOrder(m)...)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, sorted(ids...)) {
		t.Errorf("pages gave %v, want %v", seen, sorted(ids...))
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

// testConcurrentMemberAdds adds different users to one group at once, as
// Entra ID does when it provisions a group's members in parallel.
func testConcurrentMemberAdds(t *testing.T, inst *instance) {
	const n = 10
	var users []string
	for i := range n {
		users = append(users, mustCreateUser(t, inst, uniq(fmt.Sprintf("crowd%d", i))))
	}
	gid := mustCreateGroup(t, inst, uniq("Crowd"))
	var reqs []request
	for _, u := range users {
		reqs = append(reqs, request{http.MethodPatch, "/scim/v2/Groups/" + gid,
			patchBody(op("add", "members", []any{map[string]any{"value": u}})), nil})
	}
	results := inst.parallel(t, reqs)
	for _, r := range results {
		checkStatus(t, r, http.StatusOK, http.StatusNoContent)
	}
	if got := inst.memberValues(t, gid); !slices.Equal(got, sorted(users...)) {
		t.Errorf("after %d concurrent adds: %d members, want all %d", n, len(got), n)
	}
}

func testGroupFilters(t *testing.T, inst *instance) {
	p := uniq("gf")
	u := mustCreateUser(t, inst, uniq("gf.member"))
	a := mustCreate(t, inst, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": p + " Alpha", "externalId": p + "-ext-a"})
	b := mustCreateGroup(t, inst, p+" Beta", u)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{fmt.Sprintf(`displayName sw %q`, p), sorted(a, b)},
		{fmt.Sprintf(`displayName eq %q`, strings.ToUpper(p+" alpha")), []string{a}},
		{fmt.Sprintf(`externalId eq %q`, p+"-ext-a"), []string{a}},
		{fmt.Sprintf(`displayName sw %q and meta.lastModified gt "2000-01-01T00:00:00Z"`, p), sorted(a, b)},
		{fmt.Sprintf(`DISPLAYNAME sw %q and Members[Value eq %q]`, p, u), []string{b}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			if got := sortedIDs(inst.list(t, "/scim/v2/Groups?"+filterQuery(tc.filter))); !slices.Equal(got, tc.want) {
				t.Errorf("filter %s: got %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
	t.Run("non-ASCII displayName", func(t *testing.T) {
		name := "ÖKONOMIE " + p
		id := mustCreateGroup(t, inst, name)
		for _, f := range []string{fmt.Sprintf(`displayName eq %q`, name), fmt.Sprintf(`displayName sw %q`, "ÖKONOMIE "+p)} {
			if got := sortedIDs(inst.list(t, "/scim/v2/Groups?"+filterQuery(f))); !slices.Equal(got, []string{id}) {
				t.Errorf("group %q: filter %s found %v, want [%s]", name, f, got, id)
			}
		}
	})
	for _, f := range []string{`userName eq "x"`, `members[foo eq "x"]`, `displayName xx "a"`, `emails.value eq "x"`} {
		t.Run("bad/"+f, func(t *testing.T) {
			checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Groups?"+filterQuery(f), nil), http.StatusBadRequest, "invalidFilter")
		})
	}
}

// testUserWritesKeepMemberships: groups is read-only on a user and computed
// from memberships, so a PUT carrying "groups": [] (as Okta sends), a
// deactivation or a rename leaves the user in its groups.
func testUserWritesKeepMemberships(t *testing.T, inst *instance) {
	name := uniq("member.kept")
	u := mustCreateUser(t, inst, name)
	gid := mustCreateGroup(t, inst, uniq("Keeps Members"), u)

	r := inst.do(t, http.MethodPut, "/scim/v2/Users/"+u, userBody(name, map[string]any{"groups": []any{}, "displayName": "Renamed"}))
	mustStatus(t, r, http.StatusOK)
	if got := values(getList(r.JSON(t), "groups")); !slices.Equal(got, []string{gid}) {
		t.Errorf("PUT with \"groups\": [] answered groups %v, want [%s]", got, gid)
	}
	mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+u, patchBody(op("replace", "active", false))), http.StatusOK, http.StatusNoContent)
	mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+u, patchBody(op("replace", "userName", name+"-renamed"))), http.StatusOK, http.StatusNoContent)

	if got := values(getList(inst.mustGet(t, "/scim/v2/Users/"+u), "groups")); !slices.Equal(got, []string{gid}) {
		t.Errorf("user groups = %v, want [%s]", got, gid)
	}
	if got := inst.memberValues(t, gid); !slices.Equal(got, []string{u}) {
		t.Errorf("group members = %v, want [%s]", got, u)
	}
	// A group's member display follows the user's current displayName.
	for _, m := range getList(inst.mustGet(t, "/scim/v2/Groups/"+gid), "members") {
		if d := getStr(m, "display"); d != "Renamed" {
			t.Errorf("member display = %q after the user was renamed, want %q", d, "Renamed")
		}
	}

	// Writing groups on a user is not how membership changes: it is ignored
	// or refused, never applied.
	other := mustCreateGroup(t, inst, uniq("Not Joined"))
	r = inst.do(t, http.MethodPatch, "/scim/v2/Users/"+u, patchBody(op("add", "groups", []any{map[string]any{"value": other}})))
	if r.Status >= 500 {
		t.Errorf("%s: got %s", r.req, r)
	}
	if got := inst.memberValues(t, other); len(got) != 0 {
		t.Errorf("PATCH of a user's read-only groups made it a member of %s", other)
	}
}

// testMembershipChurn races deletions against membership changes: users
// are deleted while being added to a group, and a group is deleted while
// members are added to it. Every request gets a definite answer (never a
// 500), and no membership outlives its user or group.
func testMembershipChurn(t *testing.T, inst *instance) {
	const n = 12
	gid := mustCreateGroup(t, inst, uniq("Churn"))
	doomed := mustCreateGroup(t, inst, uniq("Doomed"))
	var users []string
	for i := range n {
		users = append(users, mustCreateUser(t, inst, uniq(fmt.Sprintf("churn%d", i))))
	}
	var reqs []request
	for _, u := range users {
		reqs = append(reqs,
			request{http.MethodPatch, "/scim/v2/Groups/" + gid, patchBody(op("add", "members", []any{map[string]any{"value": u}})), nil},
			request{http.MethodPatch, "/scim/v2/Groups/" + doomed, patchBody(op("add", "members", []any{map[string]any{"value": u}})), nil},
			request{http.MethodDelete, "/scim/v2/Users/" + u, nil, nil},
		)
	}
	reqs = append(reqs, request{http.MethodDelete, "/scim/v2/Groups/" + doomed, nil, nil})
	answers := inst.parallel(t, reqs)

	for _, r := range answers {
		if r.Status >= 500 {
			t.Errorf("%s\n  want a definite answer (2xx, 400 or 404), got %s", r.req, r)
		}
	}
	if got := inst.memberValues(t, gid); len(got) != 0 {
		t.Errorf("group %s has %d members after all of them were deleted: %v", gid, len(got), got)
	}
	checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Groups/"+doomed, nil), http.StatusNotFound, "")
	for _, u := range users {
		f := fmt.Sprintf(`members.value eq %q`, u)
		if n := inst.total(t, "/scim/v2/Groups?"+filterQuery(f)); n != 0 {
			t.Errorf("deleted user %s is still a member of %d groups", u, n)
		}
	}
}
