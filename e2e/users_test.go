package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testUserLifecycle(t, inst) })
		t.Run("Uniqueness", func(t *testing.T) { t.Parallel(); testUserUniqueness(t, inst) })
		t.Run("Pagination", func(t *testing.T) { t.Parallel(); testPagination(t, inst) })
		t.Run("ReadOnlyAttributesIgnored", func(t *testing.T) { t.Parallel(); testReadOnlyIgnored(t, inst) })
	})
}

func testUserLifecycle(t *testing.T, inst *instance) {
	managerID := mustCreateUser(t, inst, uniq("manager"))
	userName := uniq("ada.lovelace")
	create := map[string]any{
		"schemas":     []string{userURN, enterpriseURN},
		"userName":    userName,
		"externalId":  "ext-" + userName,
		"name":        map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"displayName": "Ada Lovelace",
		"title":       "Analyst",
		"active":      true,
		"emails":      []map[string]any{{"value": userName + "@example.com", "type": "work", "primary": true}},
		enterpriseURN: map[string]any{
			"employeeNumber": "1001",
			"department":     "Eng",
			"manager":        map[string]any{"value": managerID},
		},
	}

	// POST
	r := inst.do(t, http.MethodPost, "/scim/v2/Users", create)
	mustStatus(t, r, http.StatusCreated)
	checkSCIMContentType(t, r)
	created := r.JSON(t)
	id := getStr(created, "id")
	if id == "" {
		t.Fatalf("no id: %s", r)
	}
	wantLoc := inst.base + "/scim/v2/Users/" + id
	if got := r.Header.Get("Location"); got != wantLoc {
		t.Errorf("Location header = %q, want %q", got, wantLoc)
	}
	if got := getStr(created, "meta", "location"); got != wantLoc {
		t.Errorf("meta.location = %q, want %q", got, wantLoc)
	}
	if got := getStr(created, "meta", "version"); got != `W/"1"` {
		t.Errorf("meta.version = %q, want W/\"1\"", got)
	}
	if got := r.Header.Get("ETag"); got != getStr(created, "meta", "version") {
		t.Errorf("ETag header = %q, want meta.version %q", got, getStr(created, "meta", "version"))
	}
	if got := getStr(created, "meta", "resourceType"); got != "User" {
		t.Errorf("meta.resourceType = %q, want User", got)
	}
	checkRFC3339(t, created, "created")
	checkRFC3339(t, created, "lastModified")
	for _, urn := range []string{userURN, enterpriseURN} {
		if !hasString(created["schemas"], urn) {
			t.Errorf("schemas %v lack %s", created["schemas"], urn)
		}
	}
	for k, want := range map[string]string{"userName": userName, "externalId": "ext-" + userName, "displayName": "Ada Lovelace", "title": "Analyst"} {
		if got := getStr(created, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := getStr(created, "name", "familyName"); got != "Lovelace" {
		t.Errorf("name.familyName = %q, want Lovelace", got)
	}
	if got := get(created, "active"); got != true {
		t.Errorf("active = %v, want true", got)
	}
	if got := getStr(created, enterpriseURN, "employeeNumber"); got != "1001" {
		t.Errorf("enterprise employeeNumber = %q, want 1001 in %s", got, mustJSON(created))
	}
	if got := getStr(created, enterpriseURN, "department"); got != "Eng" {
		t.Errorf("enterprise department = %q, want Eng", got)
	}
	if got := getStr(created, enterpriseURN, "manager", "value"); got != managerID {
		t.Errorf("enterprise manager.value = %q, want %q", got, managerID)
	}

	// GET: the same document.
	r = inst.do(t, http.MethodGet, "/scim/v2/Users/"+id, nil)
	mustStatus(t, r, http.StatusOK)
	checkSCIMContentType(t, r)
	got := r.JSON(t)
	if !equalJSON(got, created) {
		t.Errorf("GET differs from the POST response:\n  POST %s\n  GET  %s", mustJSON(created), mustJSON(got))
	}
	if r.Header.Get("ETag") != `W/"1"` {
		t.Errorf("GET ETag = %q, want W/\"1\"", r.Header.Get("ETag"))
	}

	// PUT: replace, with a new userName and without title.
	newName := userName + "-renamed"
	replace := map[string]any{
		"schemas":     []string{userURN, enterpriseURN},
		"id":          id, // as Entra and Okta send it; read-only, ignored
		"userName":    newName,
		"name":        map[string]any{"givenName": "Ada", "familyName": "King"},
		"displayName": "Ada King",
		"active":      true,
		"emails":      []map[string]any{{"value": newName + "@example.com", "type": "work", "primary": true}},
		enterpriseURN: map[string]any{"employeeNumber": "1001", "department": "Research"},
	}
	r = inst.do(t, http.MethodPut, "/scim/v2/Users/"+id, replace)
	mustStatus(t, r, http.StatusOK)
	put := r.JSON(t)
	if getStr(put, "id") != id {
		t.Errorf("PUT id = %q, want %q", getStr(put, "id"), id)
	}
	if getStr(put, "userName") != newName {
		t.Errorf("PUT userName = %q, want %q", getStr(put, "userName"), newName)
	}
	if v := getStr(put, "meta", "version"); v != `W/"2"` {
		t.Errorf("PUT meta.version = %q, want W/\"2\"", v)
	}
	if r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("PUT ETag header = %q, want W/\"2\"", r.Header.Get("ETag"))
	}
	if getStr(put, "meta", "created") != getStr(created, "meta", "created") {
		t.Errorf("PUT changed meta.created: %q -> %q", getStr(created, "meta", "created"), getStr(put, "meta", "created"))
	}
	if _, ok := put["title"]; ok {
		t.Errorf("PUT without title kept title: %s", mustJSON(put))
	}
	if getStr(put, enterpriseURN, "department") != "Research" {
		t.Errorf("PUT enterprise department = %q, want Research", getStr(put, enterpriseURN, "department"))
	}
	if g := inst.mustGet(t, "/scim/v2/Users/"+id); !equalJSON(g, put) {
		t.Errorf("GET after PUT differs from the PUT response:\n  PUT %s\n  GET %s", mustJSON(put), mustJSON(g))
	}

	// PATCH
	r = inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(op("replace", "displayName", "Countess Ada")))
	mustStatus(t, r, http.StatusOK, http.StatusNoContent)
	doc := inst.mustGet(t, "/scim/v2/Users/"+id)
	if getStr(doc, "displayName") != "Countess Ada" {
		t.Errorf("after PATCH displayName = %q, want Countess Ada", getStr(doc, "displayName"))
	}
	if v := getStr(doc, "meta", "version"); v != `W/"3"` {
		t.Errorf("after PATCH meta.version = %q, want W/\"3\"", v)
	}

	// Deactivate: still readable, active false.
	r = inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(op("replace", "active", false)))
	mustStatus(t, r, http.StatusOK, http.StatusNoContent)
	doc = inst.mustGet(t, "/scim/v2/Users/"+id)
	if get(doc, "active") != false {
		t.Errorf("after deactivation active = %v, want false", get(doc, "active"))
	}
	if getStr(doc, "userName") != newName {
		t.Errorf("after deactivation userName = %q, want %q", getStr(doc, "userName"), newName)
	}

	// DELETE
	r = inst.do(t, http.MethodDelete, "/scim/v2/Users/"+id, nil)
	mustStatus(t, r, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("DELETE 204 has a body: %s", r)
	}
	checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Users/"+id, nil), http.StatusNotFound, "")
	checkSCIMError(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+id, nil), http.StatusNotFound, "")
	if n := inst.total(t, "/scim/v2/Users?"+filterQuery(fmt.Sprintf("userName eq %q", newName))); n != 0 {
		t.Errorf("deleted user still listed: totalResults %d", n)
	}
}

func testUserUniqueness(t *testing.T, inst *instance) {
	name := uniq("Dup.User")
	first := mustCreateUser(t, inst, name)
	other := mustCreateUser(t, inst, uniq("other.user"))
	before := inst.total(t, "/scim/v2/Users?count=0&"+filterQuery(fmt.Sprintf("userName eq %q", name)))

	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"POST same case", http.MethodPost, "/scim/v2/Users", userBody(name, nil)},
		{"POST lower case", http.MethodPost, "/scim/v2/Users", userBody(strings.ToLower(name), nil)},
		{"POST upper case", http.MethodPost, "/scim/v2/Users", userBody(strings.ToUpper(name), nil)},
		{"PUT other to taken name", http.MethodPut, "/scim/v2/Users/" + other, userBody(strings.ToLower(name), nil)},
		{"PATCH other to taken name", http.MethodPatch, "/scim/v2/Users/" + other, patchBody(op("replace", "userName", strings.ToUpper(name)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSCIMError(t, inst.do(t, tc.method, tc.path, tc.body), http.StatusConflict, "uniqueness")
		})
	}
	if after := inst.total(t, "/scim/v2/Users?count=0&"+filterQuery(fmt.Sprintf("userName eq %q", name))); after != before {
		t.Errorf("users named %q: %d before the conflicts, %d after", name, before, after)
	}
	if got := getStr(inst.mustGet(t, "/scim/v2/Users/"+first), "userName"); got != name {
		t.Errorf("first user's userName = %q, want %q", got, name)
	}
}

func testPagination(t *testing.T, inst *instance) {
	prefix := uniq("page") + "-"
	var ids []string
	for i := range 7 {
		ids = append(ids, mustCreateUser(t, inst, fmt.Sprintf("%s%d", prefix, i)))
	}
	slices.Sort(ids)
	filter := filterQuery(fmt.Sprintf("userName sw %q", prefix))
	path := func(query string) string { return "/scim/v2/Users?" + filter + "&" + query }

	for _, tc := range []struct {
		query                     string
		total, items, start, nRes int
	}{
		{"startIndex=1&count=3", 7, 3, 1, 3},
		{"startIndex=4&count=3", 7, 3, 4, 3},
		{"startIndex=7&count=3", 7, 1, 7, 1},
		{"startIndex=8&count=3", 7, 0, 8, 0},
		{"count=0", 7, 0, 1, 0},
		{"count=100", 7, 7, 1, 7},
		{"startIndex=0&count=2", 7, 2, 1, 2},  // below 1 means 1 (RFC 7644 §3.4.2.4)
		{"startIndex=1&count=-1", 7, 0, 1, 0}, // negative means 0
	} {
		t.Run(tc.query, func(t *testing.T) {
			m := inst.list(t, path(tc.query))
			for k, want := range map[string]int{"totalResults": tc.total, "itemsPerPage": tc.items, "startIndex": tc.start} {
				if got, ok := getNum(m, k); !ok || got != want {
					t.Errorf("%s = %v, want %d", k, get(m, k), want)
				}
			}
			if n := len(getList(m, "Resources")); n != tc.nRes {
				t.Errorf("%d Resources, want %d", n, tc.nRes)
			}
		})
	}

	t.Run("pages cover every user once, stably", func(t *testing.T) {
		var seen []string
		for start := 1; start <= 7; start += 2 {
			q := fmt.Sprintf("startIndex=%d&count=2", start)
			page := inst.list(t, path(q))
			again := inst.list(t, path(q))
			if !equalJSON(ids0(page), ids0(again)) {
				t.Errorf("%s: order differs between two identical requests: %v then %v", q, ids0(page), ids0(again))
			}
			seen = append(seen, ids0(page)...)
		}
		slices.Sort(seen)
		if !slices.Equal(seen, ids) {
			t.Errorf("paging by 2 yielded %v, want each of %v exactly once", seen, ids)
		}
	})

	t.Run("no matches", func(t *testing.T) {
		r := inst.do(t, http.MethodGet, "/scim/v2/Users?"+filterQuery(`userName eq "nobody-at-all-`+randHex(4)+`"`), nil)
		mustStatus(t, r, http.StatusOK)
		m := r.JSON(t)
		res, ok := m["Resources"].([]any)
		if !ok || res == nil || len(res) != 0 {
			t.Errorf(`want "Resources": [], got %s`, r)
		}
		if n, _ := getNum(m, "totalResults"); n != 0 {
			t.Errorf("totalResults = %v, want 0", m["totalResults"])
		}
	})

	for _, q := range []string{"count=abc", "startIndex=abc", "count=1.5"} {
		t.Run(q, func(t *testing.T) {
			checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Users?"+q, nil), http.StatusBadRequest, "")
		})
	}
}

// ids0 is the ids of a list response's resources, in the order given.
func ids0(m map[string]any) []string {
	var out []string
	for _, r := range getList(m, "Resources") {
		out = append(out, getStr(r, "id"))
	}
	return out
}

// testReadOnlyIgnored sends what Microsoft's and Okta's clients send: meta,
// id and groups on a create, and "True" as a boolean. Read-only values are
// ignored (RFC 7643 §2.2).
func testReadOnlyIgnored(t *testing.T, inst *instance) {
	name := uniq("readonly")
	r := inst.do(t, http.MethodPost, "/scim/v2/Users", map[string]any{
		"schemas":  []string{userURN},
		"id":       "client-chosen-id",
		"userName": name,
		"active":   "True",
		"groups":   []any{},
		"password": "hunter2-secret",
		"meta":     map[string]any{"resourceType": "User", "created": "2015-10-10T14:38:21.8617979-07:00"},
	})
	mustStatus(t, r, http.StatusCreated)
	m := r.JSON(t)
	if getStr(m, "id") == "client-chosen-id" {
		t.Errorf("the server took the client's id: %s", r)
	}
	if get(m, "active") != true {
		t.Errorf(`"active": "True" gave active %v, want true`, get(m, "active"))
	}
	if _, ok := m["password"]; ok {
		t.Errorf("password returned: %s", r)
	}
	if getStr(m, "meta", "created") == "2015-10-10T14:38:21.8617979-07:00" {
		t.Errorf("the server took the client's meta.created: %s", r)
	}
	if got := inst.mustGet(t, "/scim/v2/Users/"+getStr(m, "id")); got["password"] != nil {
		t.Errorf("GET returns password: %s", mustJSON(got))
	}
}
