package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestMicrosoftSkippedRequests replays, as Microsoft's "SCIM Tests"
// collection sends them, the requests that scripts/conformance.sh leaves
// out of that suite (MS_SKIP), and checks what Onramp answers instead of
// what the collection expects. Keep the two in step: the reasons are in
// scripts/conformance.sh and in README's compatibility notes.
func TestMicrosoftSkippedRequests(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		t.Run("bare string member", func(t *testing.T) { t.Parallel(); testMicrosoftBareStringMember(t, inst) })
		t.Run("member displayName", func(t *testing.T) { t.Parallel(); testMicrosoftMemberDisplayName(t, inst) })
	})
}

// testMicrosoftBareStringMember: "Group tests with garbage/Group patch add
// member" and "...member2" add "value": "string id 1" to members and expect
// 204. A member is a complex value naming a user, so Onramp answers 400
// invalidValue and changes nothing; the group still reads back (the
// collection's next request, "Get group", expects 200).
func testMicrosoftBareStringMember(t *testing.T, inst *instance) {
	gid := mustCreate(t, inst, "/scim/v2/Groups", map[string]any{
		"displayName": uniq("Group 1"),
		"externalId":  "015489ea-9410-4306-b583-9f002b2446f7",
		"schemas":     []string{groupURN},
	})
	before := inst.mustGet(t, "/scim/v2/Groups/"+gid)
	for _, v := range []string{"string id 1", "string id 2"} {
		r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid, map[string]any{
			"id":         gid,
			"Operations": []map[string]any{{"op": "add", "path": "members", "value": v}},
			"schemas":    []string{patchOpURN},
		})
		checkSCIMError(t, r, http.StatusBadRequest, "invalidValue")
	}
	if after := inst.mustGet(t, "/scim/v2/Groups/"+gid); !equalJSON(before, after) {
		t.Errorf("a refused PATCH changed the group:\n  before %s\n  after  %s", mustJSON(before), mustJSON(after))
	}
	inst.mustGet(t, "/scim/v2/Groups/"+gid+"?excludedAttributes=members")
}

// testMicrosoftMemberDisplayName replays "Group tests" from "Patch add user4
// to group1" to the second "Get group by id". The collection adds a member
// as {"displayName": "new User", "value": id} and expects "new User" in the
// group afterwards. RFC 7643 §4.2 defines no members.displayName: Onramp
// keeps the member, computes its display from the user and drops the
// undefined sub-attribute. The other assertions of the two skipped GETs
// (200, the group's id, and no "new User" after "remove members") are
// checked here.
func testMicrosoftMemberDisplayName(t *testing.T, inst *instance) {
	gid := mustCreate(t, inst, "/scim/v2/Groups", map[string]any{
		"externalId":  "c7f8a1d2-6f1e-4c1b-9a53-3a1f0e3c2b10",
		"schemas":     []string{groupURN},
		"displayName": uniq("Group1DisplayName"),
		"members":     []any{},
	})
	userName := uniq("UserName444")
	id4 := mustCreate(t, inst, "/scim/v2/Users", map[string]any{
		"userName":    userName,
		"active":      true,
		"displayName": "lennay",
		"schemas":     []string{enterpriseURN, userURN},
		"externalId":  "5e2b8f4a-0c1d-4b7e-8f6a-2d9c3b1a0e55",
		"name":        map[string]any{"formatted": "Adrew Ryan", "familyName": "Ryan", "givenName": "Andrew"},
		"emails": []map[string]any{
			{"Primary": true, "type": "work", "value": "testing@bob2.com"},
			{"Primary": false, "type": "home", "value": "testinghome@bob3.com"},
		},
	})
	addUser4 := map[string]any{
		"schemas": []string{patchOpURN},
		"Operations": []map[string]any{{
			"name": "addMember", "op": "add", "path": "members",
			"value": []map[string]any{{"displayName": "new User", "value": id4}},
		}},
	}
	path := "/scim/v2/Groups/" + gid
	for _, body := range []map[string]any{
		addUser4,
		patchBody(op("remove", "members[value eq \""+id4+"\"]", nil)),
		addUser4,
	} {
		mustStatus(t, inst.do(t, http.MethodPatch, path, body), http.StatusOK, http.StatusNoContent)
	}

	r := inst.do(t, http.MethodGet, path, nil)
	mustStatus(t, r, http.StatusOK)
	g := r.JSON(t)
	if getStr(g, "id") != gid {
		t.Errorf("GET %s: id %q, want %q", path, getStr(g, "id"), gid)
	}
	members := getList(g, "members")
	if got := values(members); !slices.Equal(got, []string{id4}) {
		t.Fatalf("members %v, want [%s]", got, id4)
	}
	if d := getStr(members[0], "display"); d != "lennay" && d != userName {
		t.Errorf("member display %q, want the user's displayName %q (or its userName)", d, "lennay")
	}
	if strings.Contains(string(r.Body), "new User") {
		t.Errorf("the undefined sub-attribute members.displayName was kept: %s", r)
	}

	mustStatus(t, inst.do(t, http.MethodPatch, path, patchBody(op("remove", "members", nil))), http.StatusOK, http.StatusNoContent)
	r = inst.do(t, http.MethodGet, path, nil)
	mustStatus(t, r, http.StatusOK)
	if g := r.JSON(t); getStr(g, "id") != gid || len(getList(g, "members")) != 0 {
		t.Errorf("after remove members: want the group %s with no members, got %s", gid, r)
	}
	if strings.Contains(string(r.Body), "new User") {
		t.Errorf("after remove members: body contains %q: %s", "new User", r)
	}
}
