package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture is one recorded exchange from testdata/idp (see its README).
type fixture struct {
	Request    json.RawMessage `json:"request"`
	Response   map[string]any  `json:"response"`
	Method     string          `json:"method"`
	Path       string          `json:"path"`
	StatusCode int             `json:"statusCode"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "idp", name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// replay sends the fixture's request with every recorded id (a key of ids)
// replaced by the server's, and checks the recorded status; a PATCH may
// also answer 204 (RFC 7644 §3.5.2).
func replay(t *testing.T, inst *instance, name string, ids map[string]string) (fixture, *response) {
	t.Helper()
	f := loadFixture(t, name)
	subst := func(s string) string {
		for old, repl := range ids {
			s = strings.ReplaceAll(s, old, repl)
		}
		return s
	}
	var body any
	if len(f.Request) > 0 {
		body = subst(string(f.Request))
	}
	r := inst.do(t, f.Method, "/scim/v2"+subst(f.Path), body)
	want := []int{f.StatusCode}
	if f.Method == http.MethodPatch {
		want = append(want, http.StatusNoContent)
	}
	mustStatus(t, r, want...)
	return f, r
}

// checkEmptyList checks a list response with no results: `"Resources": []`.
func checkEmptyList(t *testing.T, r *response) {
	t.Helper()
	m := r.JSON(t)
	res, ok := m["Resources"].([]any)
	if n, _ := getNum(m, "totalResults"); n != 0 || !ok || len(res) != 0 {
		t.Errorf("%s: want totalResults 0 and \"Resources\": [], got %s", r.req, r)
	}
}

// TestIdPReplay replays the recorded Okta and Entra ID provisioning runs.
func TestIdPReplay(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		t.Run("okta", func(t *testing.T) { t.Parallel(); replayOkta(t, inst) })
		t.Run("azuread", func(t *testing.T) { t.Parallel(); replayAzureAD(t, inst) })
	})
}

func replayOkta(t *testing.T, inst *instance) {
	const (
		recUser   = "23a35c27-23d3-4c03-b4c5-6443c09e7173"
		recUser2  = "89bb1940-b905-4575-9e7f-6f887cfb368e"
		recGroup  = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"
		userName  = "test.user@okta.local"
		groupName = "Test SCIMv2"
	)
	ids := map[string]string{}

	// Does the user exist? Not yet.
	_, r := replay(t, inst, "okta/user_exists.json", ids)
	checkEmptyList(t, r)

	f, r := replay(t, inst, "okta/create_user.json", ids)
	created := r.JSON(t)
	ids[recUser] = getStr(created, "id")
	for _, k := range []string{"userName", "displayName", "locale", "externalId"} {
		wantEq(t, "created "+k, created[k], get(f.Response, k))
	}
	wantEq(t, "created name", created["name"], get(f.Response, "name"))
	wantEq(t, "created active", created["active"], true)
	wantEq(t, "created emails", values(getList(created, "emails")), []string{userName})
	if _, ok := created["password"]; ok {
		t.Errorf("create answered the password: %s", r)
	}

	// Now it exists, found case-insensitively as Okta's SPEC test does.
	r = inst.do(t, http.MethodGet, "/scim/v2/Users?"+filterQuery(`userName eq "`+strings.ToUpper(userName)+`"`)+"&startIndex=1&count=100", nil)
	mustStatus(t, r, http.StatusOK)
	if got := sortedIDs(r.JSON(t)); !slices.Equal(got, []string{ids[recUser]}) {
		t.Errorf("filter on the upper-cased userName: %v, want [%s]", got, ids[recUser])
	}

	f, r = replay(t, inst, "okta/retrieve_user.json", ids)
	u := r.JSON(t)
	wantEq(t, "retrieved userName", u["userName"], userName)
	wantEq(t, "retrieved name.givenName", getStr(u, "name", "givenName"), "Test")
	wantEq(t, "retrieved active", u["active"], true)

	f, r = replay(t, inst, "okta/update_user.json", ids)
	u = r.JSON(t)
	wantEq(t, "PUT id", u["id"], ids[recUser])
	wantEq(t, "PUT name", u["name"], get(f.Response, "name"))
	wantEq(t, "PUT active", u["active"], true)

	replay(t, inst, "okta/update_user_patch.json", ids)
	u = inst.mustGet(t, "/scim/v2/Users/"+ids[recUser])
	wantEq(t, "after PATCH active", u["active"], false)
	wantEq(t, "after PATCH name.givenName", getStr(u, "name", "givenName"), "Another")

	_, r = replay(t, inst, "okta/create_group.json", ids)
	g := r.JSON(t)
	ids[recGroup] = getStr(g, "id")
	wantEq(t, "group displayName", g["displayName"], groupName)
	if len(getList(g, "members")) != 0 {
		t.Errorf("new group has members: %s", r)
	}

	// Okta renames by replacing a value map that also carries the id.
	f, _ = replay(t, inst, "okta/update_group_name.json", ids)
	var req struct {
		Operations []struct{ Value map[string]any }
	}
	_ = json.Unmarshal(f.Request, &req)
	g = inst.mustGet(t, "/scim/v2/Groups/"+ids[recGroup])
	wantEq(t, "renamed displayName", g["displayName"], req.Operations[0].Value["displayName"])
	wantEq(t, "renamed id", g["id"], ids[recGroup])

	// The membership update removes a member the group had: a second user.
	ids[recUser2] = mustCreate(t, inst, "/scim/v2/Users", userBody("second.user@okta.local", nil))
	mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+ids[recGroup],
		patchBody(op("add", "members", []any{map[string]any{"value": ids[recUser2]}}))), http.StatusOK, http.StatusNoContent)
	replay(t, inst, "okta/update_group_membership.json", ids)

	_, r = replay(t, inst, "okta/retrieve_group.json", ids)
	g = r.JSON(t)
	wantEq(t, "members", values(getList(g, "members")), sorted(ids[recUser], ids[recUser2]))
	for _, m := range getList(g, "members") {
		if getStr(m, "display") == "" {
			t.Errorf("member without display: %s", mustJSON(m))
		}
	}
	u = inst.mustGet(t, "/scim/v2/Users/"+ids[recUser])
	wantEq(t, "user's groups", values(getList(u, "groups")), []string{ids[recGroup]})
}

func replayAzureAD(t *testing.T, inst *instance) {
	const (
		recUserName     = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
		recOtherName    = "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"
		recGroupCreated = "927fa2c08dcb4a7fae9e"
	)
	ids := map[string]string{}

	_, r := replay(t, inst, "azuread/get_user_query_0.json", ids)
	checkEmptyList(t, r)

	f, r := replay(t, inst, "azuread/create_user.json", ids)
	u := r.JSON(t)
	uid := getStr(u, "id")
	// Every recorded id of "the user" is this one user in our replay.
	for _, rec := range []string{"48af03ac28ad4fb88478", "2441309d85324e7793ae", "5d48a0a8e9f04aa38008", "6764549bef60420686bc", "f648f8d5ea4e4cd38e9c"} {
		ids[rec] = uid
	}
	ids[recOtherName] = recUserName
	for _, k := range []string{"userName", "externalId", "active"} {
		wantEq(t, "created "+k, u[k], get(f.Response, k))
	}
	wantEq(t, "created name", u["name"], get(f.Response, "name"))
	wantEq(t, "created emails", values(getList(u, "emails")), values(getList(f.Response, "emails")))
	if !hasString(u["schemas"], enterpriseURN) && !hasString(u["schemas"], userURN) {
		t.Errorf("created schemas = %v", u["schemas"])
	}

	_, r = replay(t, inst, "azuread/get_user_query_resp.json", ids)
	if got := sortedIDs(r.JSON(t)); !slices.Equal(got, []string{uid}) {
		t.Errorf("userName filter found %v, want [%s]", got, uid)
	}

	_, r = replay(t, inst, "azuread/get_user_resp.json", ids)
	wantEq(t, "GET userName", r.JSON(t)["userName"], recUserName)

	f, _ = replay(t, inst, "azuread/update_user.json", ids)
	u = inst.mustGet(t, "/scim/v2/Users/"+uid)
	wantEq(t, "patched userName", u["userName"], get(f.Response, "userName"))
	wantEq(t, "patched name.familyName", getStr(u, "name", "familyName"), "updatedFamilyName")
	wantEq(t, "patched name.givenName", getStr(u, "name", "givenName"), "givenName")
	wantEq(t, "patched active", u["active"], false)
	wantEq(t, "patched emails", values(getList(u, "emails")), []string{"updatedEmail@microsoft.com"})

	f, r = replay(t, inst, "azuread/create_group.json", ids)
	g := r.JSON(t)
	gid := getStr(g, "id")
	for _, rec := range []string{recGroupCreated, "40734ae655284ad3abcc", "8c601452cc934a9ebef9", "fa2ce26709934589afc5"} {
		ids[rec] = gid
	}
	wantEq(t, "group displayName", g["displayName"], "displayName")
	wantEq(t, "group externalId", g["externalId"], get(f.Response, "externalId"))

	_, r = replay(t, inst, "azuread/get_group_dn.json", ids)
	if got := sortedIDs(r.JSON(t)); !slices.Equal(got, []string{gid}) {
		t.Errorf("displayName filter found %v, want [%s]", got, gid)
	}

	_, r = replay(t, inst, "azuread/get_group.json", ids)
	wantEq(t, "GET group displayName", r.JSON(t)["displayName"], "displayName")

	f, _ = replay(t, inst, "azuread/update_group.json", ids)
	g = inst.mustGet(t, "/scim/v2/Groups/"+gid)
	wantEq(t, "patched group displayName", g["displayName"], get(f.Response, "displayName"))
	if len(getList(g, "members")) != 0 {
		t.Errorf("a member added then removed in one PATCH is still there: %s", mustJSON(g))
	}
}
