package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestPatch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		t.Run("Users", func(t *testing.T) { t.Parallel(); testPatchUsers(t, inst) })
		t.Run("EntraNewUser", func(t *testing.T) { t.Parallel(); testPatchEntraNewUser(t, inst) })
		t.Run("Groups", func(t *testing.T) { t.Parallel(); testPatchGroups(t, inst) })
		t.Run("Atomic", func(t *testing.T) { t.Parallel(); testPatchAtomic(t, inst) })
	})
}

// patchAndGet applies ops to the resource at path and returns it as GET
// shows it afterwards. A 200 answer must show the same document.
func patchAndGet(t *testing.T, inst *instance, path string, ops ...map[string]any) map[string]any {
	t.Helper()
	r := inst.do(t, http.MethodPatch, path, patchBody(ops...))
	mustStatus(t, r, http.StatusOK, http.StatusNoContent)
	got := inst.mustGet(t, path)
	if r.Status == http.StatusOK {
		body := r.JSON(t)
		if !equalJSON(body, got) {
			t.Errorf("PATCH answered a document that differs from a GET after it:\n  PATCH %s\n  GET   %s", mustJSON(body), mustJSON(got))
		}
		if etag := r.Header.Get("ETag"); etag != getStr(body, "meta", "version") {
			t.Errorf("PATCH ETag header %q, meta.version %q: want them equal", etag, getStr(body, "meta", "version"))
		}
	}
	return got
}

func testPatchUsers(t *testing.T, inst *instance) {
	managerID := mustCreateUser(t, inst, uniq("boss"))
	base := func(userName string) map[string]any {
		return map[string]any{
			"schemas":     []string{userURN, enterpriseURN},
			"userName":    userName,
			"name":        map[string]any{"givenName": "Grace", "familyName": "Hopper"},
			"displayName": "Grace Hopper",
			"title":       "Rear Admiral",
			"active":      true,
			"emails": []map[string]any{
				{"value": "grace@example.com", "type": "work", "primary": true},
				{"value": "grace@home.example", "type": "home"},
			},
			enterpriseURN: map[string]any{"department": "Navy", "employeeNumber": "42"},
		}
	}
	workEmail := func(u map[string]any) string {
		for _, e := range getList(u, "emails") {
			if getStr(e, "type") == "work" {
				return getStr(e, "value")
			}
		}
		return ""
	}

	for _, tc := range []struct {
		name  string
		ops   []map[string]any
		check func(t *testing.T, u map[string]any)
	}{
		{"replace active by path", []map[string]any{op("replace", "active", false)}, func(t *testing.T, u map[string]any) {
			wantEq(t, "active", get(u, "active"), false)
		}},
		{"Okta replace value active", []map[string]any{op("replace", "", map[string]any{"active": false})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "active", get(u, "active"), false)
			wantEq(t, "userName kept", getStr(u, "userName") != "", true)
		}},
		{"Entra Replace active False", []map[string]any{op("Replace", "active", "False")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "active", get(u, "active"), false)
		}},
		{"Entra Replace active False then True", []map[string]any{op("Replace", "active", "False"), op("Replace", "active", "True")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "active", get(u, "active"), true)
		}},
		{"Entra Add work email value", []map[string]any{op("Add", `emails[type eq "work"].value`, "x@y.example")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "work email", workEmail(u), "x@y.example")
			wantEq(t, "emails count", len(getList(u, "emails")), 2)
		}},
		{"Entra Replace work email value", []map[string]any{op("Replace", `emails[type eq "work"].value`, "new@example.com")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "work email", workEmail(u), "new@example.com")
		}},
		{"replace name.givenName", []map[string]any{op("replace", "name.givenName", "Z")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "name.givenName", getStr(u, "name", "givenName"), "Z")
			wantEq(t, "name.familyName", getStr(u, "name", "familyName"), "Hopper")
		}},
		{"add path-less dotted key", []map[string]any{op("add", "", map[string]any{"name.familyName": "Y"})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "name.familyName", getStr(u, "name", "familyName"), "Y")
			wantEq(t, "name.givenName", getStr(u, "name", "givenName"), "Grace")
		}},
		{"add path-less enterprise URN key", []map[string]any{op("add", "", map[string]any{enterpriseURN + ":department": "Ops"})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "department", getStr(u, enterpriseURN, "department"), "Ops")
			wantEq(t, "employeeNumber", getStr(u, enterpriseURN, "employeeNumber"), "42")
		}},
		{"replace enterprise path", []map[string]any{op("replace", enterpriseURN+":employeeNumber", "43")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "employeeNumber", getStr(u, enterpriseURN, "employeeNumber"), "43")
			wantEq(t, "department", getStr(u, enterpriseURN, "department"), "Navy")
		}},
		{"remove title", []map[string]any{op("remove", "title", nil)}, func(t *testing.T, u map[string]any) {
			if _, ok := u["title"]; ok {
				t.Errorf("title still present: %v", u["title"])
			}
		}},
		{"Entra Add manager as string", []map[string]any{op("Add", enterpriseURN+":manager", managerID)}, func(t *testing.T, u map[string]any) {
			wantEq(t, "manager.value", getStr(u, enterpriseURN, "manager", "value"), managerID)
		}},
		{"replace userName", []map[string]any{op("Replace", "userName", "renamed-"+randHex(4))}, func(t *testing.T, u map[string]any) {
			if !strings.HasPrefix(getStr(u, "userName"), "renamed-") {
				t.Errorf("userName = %q", getStr(u, "userName"))
			}
		}},
		{"remove email by filter", []map[string]any{op("remove", `emails[type eq "home"]`, nil)}, func(t *testing.T, u map[string]any) {
			wantEq(t, "emails", values(getList(u, "emails")), []string{"grace@example.com"})
		}},
		{"Entra Add email of a type the user lacks", []map[string]any{op("Add", `emails[type eq "other"].value`, "other@example.com")}, func(t *testing.T, u map[string]any) {
			found := false
			for _, e := range getList(u, "emails") {
				if getStr(e, "type") == "other" && getStr(e, "value") == "other@example.com" {
					found = true
				}
			}
			if !found {
				t.Errorf("no e-mail {type other, value other@example.com} in %s", mustJSON(getList(u, "emails")))
			}
			wantEq(t, "work email kept", workEmail(u), "grace@example.com")
		}},
		{"add path-less emails appends", []map[string]any{op("add", "", map[string]any{"emails": []any{map[string]any{"value": "third@example.com", "type": "other"}}})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "emails", values(getList(u, "emails")), []string{"grace@example.com", "grace@home.example", "third@example.com"})
		}},
		{"replace emails", []map[string]any{op("replace", "emails", []any{map[string]any{"value": "only@example.com", "type": "work"}})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "emails", values(getList(u, "emails")), []string{"only@example.com"})
		}},
		{"add name merges sub-attributes", []map[string]any{op("add", "name", map[string]any{"middleName": "Brewster"})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "name", get(u, "name"), map[string]any{"givenName": "Grace", "middleName": "Brewster", "familyName": "Hopper"})
		}},
		{"replace name leaves unnamed sub-attributes", []map[string]any{op("replace", "name", map[string]any{"givenName": "Amazing"})}, func(t *testing.T, u map[string]any) {
			// RFC 7644 §3.5.2.3: sub-attributes not in the value are left unchanged.
			wantEq(t, "name", get(u, "name"), map[string]any{"givenName": "Amazing", "familyName": "Hopper"})
		}},
		{"remove name.givenName", []map[string]any{op("remove", "name.givenName", nil)}, func(t *testing.T, u map[string]any) {
			wantEq(t, "name", get(u, "name"), map[string]any{"familyName": "Hopper"})
		}},
		{"Entra Remove manager", []map[string]any{op("Remove", enterpriseURN+":manager", nil)}, func(t *testing.T, u map[string]any) {
			if m := get(u, enterpriseURN, "manager"); m != nil {
				t.Errorf("manager still set: %v", m)
			}
			wantEq(t, "department", getStr(u, enterpriseURN, "department"), "Navy")
		}},
		{"replace complex email by filter", []map[string]any{op("replace", `emails[type eq "work"]`, map[string]any{"value": "swapped@example.com", "type": "work"})}, func(t *testing.T, u map[string]any) {
			wantEq(t, "work email", workEmail(u), "swapped@example.com")
			wantEq(t, "emails count", len(getList(u, "emails")), 2)
		}},
		{"upper-case op and attribute names", []map[string]any{op("REPLACE", "DisplayName", "Upper Case"), op("Replace", "Name.GivenName", "Up")}, func(t *testing.T, u map[string]any) {
			wantEq(t, "displayName", getStr(u, "displayName"), "Upper Case")
			wantEq(t, "name.givenName", getStr(u, "name", "givenName"), "Up")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := mustCreate(t, inst, "/scim/v2/Users", base(uniq("grace")))
			u := patchAndGet(t, inst, "/scim/v2/Users/"+id, tc.ops...)
			tc.check(t, u)
			if v := getStr(u, "meta", "version"); v != `W/"2"` {
				t.Errorf("meta.version = %q after one PATCH, want W/\"2\"", v)
			}
		})
	}
}

// testPatchEntraNewUser replays what Entra ID sends to fill in a user that
// has no e-mails, phone numbers or addresses yet: value paths with a filter
// on type create the element.
func testPatchEntraNewUser(t *testing.T, inst *instance) {
	id := mustCreate(t, inst, "/scim/v2/Users", userBody(uniq("entra.bare"), nil))
	u := patchAndGet(t, inst, "/scim/v2/Users/"+id,
		op("Add", `emails[type eq "work"].value`, "bare@example.com"),
		op("Add", `phoneNumbers[type eq "mobile"].value`, "+1 555 0100"),
		op("Add", `addresses[type eq "work"].locality`, "Springfield"),
	)
	for _, c := range []struct{ attr, typ, sub, want string }{
		{"emails", "work", "value", "bare@example.com"},
		{"phoneNumbers", "mobile", "value", "+1 555 0100"},
		{"addresses", "work", "locality", "Springfield"},
	} {
		list := getList(u, c.attr)
		if len(list) != 1 || getStr(list[0], "type") != c.typ || getStr(list[0], c.sub) != c.want {
			t.Errorf("%s = %s, want [{type %s, %s %s}]", c.attr, mustJSON(list), c.typ, c.sub, c.want)
		}
	}
}

func testPatchGroups(t *testing.T, inst *instance) {
	u1 := mustCreateUser(t, inst, uniq("pg.one"))
	u2 := mustCreateUser(t, inst, uniq("pg.two"))
	u3 := mustCreateUser(t, inst, uniq("pg.three"))
	member := func(id string) map[string]any { return map[string]any{"value": id} }

	for _, tc := range []struct {
		name    string
		initial []string
		ops     [][]map[string]any // one PATCH request per element
		want    []string
		check   func(t *testing.T, gid string, g map[string]any)
	}{
		{"add member twice is idempotent", nil,
			[][]map[string]any{
				{op("add", "members", []any{member(u1)})},
				{op("add", "members", []any{member(u1)})},
			}, []string{u1}, nil},
		{"remove member by filter", []string{u1, u2},
			[][]map[string]any{{op("remove", `members[value eq "`+u1+`"]`, nil)}}, []string{u2}, nil},
		{"Entra Remove members with values", []string{u1, u2, u3},
			[][]map[string]any{{op("Remove", "members", []any{member(u1), member(u2)})}}, []string{u3}, nil},
		{"replace members", []string{u1},
			[][]map[string]any{{op("replace", "members", []any{member(u2), member(u3)})}}, sorted(u2, u3), nil},
		{"remove all members", []string{u1, u2},
			[][]map[string]any{{op("remove", "members", nil)}}, nil, nil},
		{"Okta replace value with id and displayName", []string{u1},
			nil, // built below: it needs the group's id
			[]string{u1}, func(t *testing.T, gid string, g map[string]any) {
				wantEq(t, "id", getStr(g, "id"), gid)
				if !strings.HasPrefix(getStr(g, "displayName"), "New Name ") {
					t.Errorf("displayName = %q, want New Name...", getStr(g, "displayName"))
				}
			}},
		{"Entra Replace displayName and Add member", []string{u1},
			[][]map[string]any{{op("Replace", "displayName", "Entra Renamed "+randHex(4)), op("Add", "members", []any{map[string]any{"$ref": nil, "value": u2}})}},
			sorted(u1, u2), func(t *testing.T, gid string, g map[string]any) {
				if !strings.HasPrefix(getStr(g, "displayName"), "Entra Renamed ") {
					t.Errorf("displayName = %q", getStr(g, "displayName"))
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gid := mustCreateGroup(t, inst, uniq("Patch Group"), tc.initial...)
			ops := tc.ops
			if ops == nil {
				ops = [][]map[string]any{{op("replace", "", map[string]any{"id": gid, "displayName": "New Name " + randHex(4)})}}
			}
			var g map[string]any
			for _, o := range ops {
				g = patchAndGet(t, inst, "/scim/v2/Groups/"+gid, o...)
			}
			if got := values(getList(g, "members")); !slices.Equal(got, sorted(tc.want...)) {
				t.Errorf("members = %v, want %v", got, sorted(tc.want...))
			}
			if tc.check != nil {
				tc.check(t, gid, g)
			}
			// The users' computed groups agree with the membership.
			for _, u := range []string{u1, u2, u3} {
				in := slices.Contains(values(getList(inst.mustGet(t, "/scim/v2/Users/"+u), "groups")), gid)
				if in != slices.Contains(tc.want, u) {
					t.Errorf("user %s lists group %s: %v, want %v", u, gid, in, !in)
				}
			}
		})
	}
}

// testPatchAtomic sends PATCHes whose first operation is valid and a later
// one is not: the answer is 400 and nothing changes (RFC 7644 §3.5.2).
func testPatchAtomic(t *testing.T, inst *instance) {
	for _, tc := range []struct {
		name     string
		ops      []map[string]any
		scimType string
	}{
		{"unknown path", []map[string]any{op("replace", "displayName", "Changed"), op("replace", "nonexistent", "x")}, ""},
		{"read-only id", []map[string]any{op("replace", "displayName", "Changed"), op("replace", "id", "x")}, ""},
		{"bad op", []map[string]any{op("replace", "displayName", "Changed"), op("frobnicate", "title", "x")}, ""},
		{"wrong type", []map[string]any{op("replace", "displayName", "Changed"), op("replace", "active", 5)}, ""},
		{"remove without path", []map[string]any{op("replace", "displayName", "Changed"), op("remove", "", nil)}, ""},
		{"bad filter in path", []map[string]any{op("replace", "displayName", "Changed"), op("replace", `emails[foo eq "x"].value`, "x")}, ""},
	} {
		t.Run("user/"+tc.name, func(t *testing.T) {
			t.Parallel()
			id := mustCreateUser(t, inst, uniq("atomic"))
			before := inst.mustGet(t, "/scim/v2/Users/"+id)
			r := inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(tc.ops...))
			checkSCIMError(t, r, http.StatusBadRequest, tc.scimType)
			after := inst.mustGet(t, "/scim/v2/Users/"+id)
			if !equalJSON(before, after) {
				t.Errorf("a refused PATCH changed the user:\n  before %s\n  after  %s", mustJSON(before), mustJSON(after))
			}
		})
	}

	t.Run("group/unknown member after valid add", func(t *testing.T) {
		t.Parallel()
		u := mustCreateUser(t, inst, uniq("atomic.member"))
		gid := mustCreateGroup(t, inst, uniq("Atomic Group"))
		before := inst.mustGet(t, "/scim/v2/Groups/"+gid)
		r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid, patchBody(
			op("add", "members", []any{map[string]any{"value": u}}),
			op("add", "members", []any{map[string]any{"value": "no-such-user-" + randHex(4)}}),
		))
		checkSCIMError(t, r, http.StatusBadRequest, "invalidValue")
		after := inst.mustGet(t, "/scim/v2/Groups/"+gid)
		if !equalJSON(before, after) {
			t.Errorf("a refused PATCH changed the group:\n  before %s\n  after  %s", mustJSON(before), mustJSON(after))
		}
		if gs := getList(inst.mustGet(t, "/scim/v2/Users/"+u), "groups"); len(gs) != 0 {
			t.Errorf("a refused PATCH left user %s in groups %s", u, mustJSON(gs))
		}
	})

	t.Run("group/rename then read-only id", func(t *testing.T) {
		t.Parallel()
		gid := mustCreateGroup(t, inst, uniq("Atomic Rename"))
		before := inst.mustGet(t, "/scim/v2/Groups/"+gid)
		r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid, patchBody(
			op("replace", "displayName", "Should Not Stick "+randHex(4)),
			op("replace", "nonexistent", "x"),
		))
		checkSCIMError(t, r, http.StatusBadRequest, "")
		if after := inst.mustGet(t, "/scim/v2/Groups/"+gid); !equalJSON(before, after) {
			t.Errorf("a refused PATCH changed the group:\n  before %s\n  after  %s", mustJSON(before), mustJSON(after))
		}
	})
}

// wantEq reports a mismatch of a named value.
func wantEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !equalJSON(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestPatchAnswers: a PATCH answers 204 with the new ETag unless the client
// asks for attributes (then 200 with them), and operations on read-only
// attributes are 400 mutability, whatever the library thinks of the path.
func TestPatchAnswers(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		uid := mustCreateUser(t, inst, uniq("ans"))
		gid := mustCreateGroup(t, inst, uniq("Ans"))
		user, group := "/scim/v2/Users/"+uid, "/scim/v2/Groups/"+gid

		// Microsoft's "Patch user omalley new username" and "patch user
		// omalley active with boolean", as sent.
		for _, body := range []string{
			`{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations":[{"op":"Replace","path":"userName","value":"` + uniq("newusername") + `"}]}`,
			`{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations":[{"op":"Replace","path":"active","value": false}]}`,
		} {
			r := inst.do(t, http.MethodPatch, user, body, withHeader("Content-Type", "application/json"))
			mustStatus(t, r, http.StatusNoContent)
			if len(r.Body) != 0 || r.Header.Get("ETag") != getStr(inst.mustGet(t, user), "meta", "version") {
				t.Errorf("%s: body %q, ETag %q; want no body and the new version", r.req, r.Body, r.Header.Get("ETag"))
			}
		}
		r := inst.do(t, http.MethodPatch, user+"?attributes=active", patchBody(op("replace", "active", true)))
		mustStatus(t, r, http.StatusOK)
		if m := r.JSON(t); get(m, "active") != true || get(m, "userName") != nil || getStr(m, "id") != uid {
			t.Errorf("%s: %s", r.req, r)
		}
		r = inst.do(t, http.MethodPatch, group+"?excludedAttributes=members", patchBody(op("replace", "externalId", "x")))
		mustStatus(t, r, http.StatusOK)
		if r.Header.Get("ETag") == "" || getStr(r.JSON(t), "externalId") != "x" {
			t.Errorf("%s: %s", r.req, r)
		}

		for _, tc := range []struct {
			path string
			op   map[string]any
		}{
			{user, op("replace", "id", "x")},
			{user, op("replace", "meta.created", "2020-01-01T00:00:00Z")},
			{user, op("remove", "meta", nil)},
			{user, op("replace", "schemas", []string{userURN})},
			{user, op("add", "groups", []any{map[string]any{"value": gid}})},
			{user, op("replace", "", map[string]any{"meta": map[string]any{"created": "2020-01-01T00:00:00Z"}})},
			{group, op("replace", "id", "x")},
			{group, op("replace", "meta.lastModified", "2020-01-01T00:00:00Z")},
		} {
			checkSCIMError(t, inst.do(t, http.MethodPatch, tc.path, patchBody(tc.op)), http.StatusBadRequest, "mutability")
		}
		// Okta's path-less value with the user's own id is fine.
		mustStatus(t, inst.do(t, http.MethodPatch, user, patchBody(op("replace", "", map[string]any{"id": uid, "active": false}))), http.StatusNoContent)
	})
}
