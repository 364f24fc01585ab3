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
		t.Run("Projection", func(t *testing.T) { t.Parallel(); testProjection(t, inst) })
		t.Run("ContentTypes", func(t *testing.T) { t.Parallel(); testContentTypes(t, inst) })
		t.Run("SpecialCharactersInFilters", func(t *testing.T) { t.Parallel(); testFilterSpecialCharacters(t, inst) })
		t.Run("NonASCIIUserName", func(t *testing.T) { t.Parallel(); testNonASCIIUserName(t, inst) })
		t.Run("ConcurrentSameUserName", func(t *testing.T) { t.Parallel(); testConcurrentSameUserName(t, inst) })
		t.Run("ConcurrentPatches", func(t *testing.T) { t.Parallel(); testConcurrentPatches(t, inst) })
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
	t.Run("own name in another case", func(t *testing.T) {
		// Changing the case of one's own userName conflicts with nobody.
		self := uniq("Self.Case")
		id := mustCreateUser(t, inst, self)
		r := inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(op("replace", "userName", strings.ToUpper(self))))
		checkStatus(t, r, http.StatusOK, http.StatusNoContent)
		r = inst.do(t, http.MethodPut, "/scim/v2/Users/"+id, userBody(strings.ToLower(self), nil))
		checkStatus(t, r, http.StatusOK)
		if got := getStr(inst.mustGet(t, "/scim/v2/Users/"+id), "userName"); got != strings.ToLower(self) {
			t.Errorf("userName = %q, want %q", got, strings.ToLower(self))
		}
	})
	t.Run("name free again after delete", func(t *testing.T) {
		gone := uniq("reused")
		id := mustCreateUser(t, inst, gone)
		mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+id, nil), http.StatusNoContent)
		again := mustCreateUser(t, inst, strings.ToUpper(gone))
		if again == id {
			t.Errorf("a re-created user got the deleted user's id %s", id)
		}
	})
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
			if !equalJSON(idsInOrder(page), idsInOrder(again)) {
				t.Errorf("%s: order differs between two identical requests: %v then %v", q, idsInOrder(page), idsInOrder(again))
			}
			seen = append(seen, idsInOrder(page)...)
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

// idsInOrder is the ids of a list response's resources, in the order given.
func idsInOrder(m map[string]any) []string {
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

// testProjection checks attributes= and excludedAttributes= (RFC 7644 §3.4.2.5).
func testProjection(t *testing.T, inst *instance) {
	name := uniq("projected")
	id := mustCreateUser(t, inst, name)

	one := inst.mustGet(t, "/scim/v2/Users/"+id+"?attributes=userName")
	if getStr(one, "id") != id || getStr(one, "userName") != name {
		t.Errorf("attributes=userName lost id or userName: %s", mustJSON(one))
	}
	for _, k := range []string{"emails", "displayName"} {
		if _, ok := one[k]; ok {
			t.Errorf("attributes=userName returned %s: %s", k, mustJSON(one))
		}
	}

	m := inst.list(t, "/scim/v2/Users?attributes=userName&"+filterQuery(fmt.Sprintf("userName eq %q", name)))
	res := getList(m, "Resources")
	if len(res) != 1 {
		t.Fatalf("want 1 user, got %s", mustJSON(m))
	}
	if _, ok := res[0].(map[string]any)["emails"]; ok || getStr(res[0], "userName") != name || getStr(res[0], "id") != id {
		t.Errorf("list with attributes=userName: %s", mustJSON(res[0]))
	}

	ex := inst.mustGet(t, "/scim/v2/Users/"+id+"?excludedAttributes=emails")
	if _, ok := ex["emails"]; ok {
		t.Errorf("excludedAttributes=emails returned emails: %s", mustJSON(ex))
	}
	if getStr(ex, "userName") != name || getStr(ex, "displayName") == "" {
		t.Errorf("excludedAttributes=emails lost other attributes: %s", mustJSON(ex))
	}
}

// testContentTypes: clients send application/json (Microsoft) as well as
// application/scim+json with a charset (Okta).
func testContentTypes(t *testing.T, inst *instance) {
	for _, ct := range []string{"application/json", "application/scim+json; charset=utf-8", "application/json; charset=utf-8"} {
		r := inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(uniq("ctype"), nil), withHeader("Content-Type", ct))
		if checkStatus(t, r, http.StatusCreated) {
			checkSCIMContentType(t, r)
		}
	}
	r := inst.do(t, http.MethodGet, "/scim/v2/Users?count=1", nil, withHeader("Accept", "application/json"))
	checkStatus(t, r, http.StatusOK)
}

// testFilterSpecialCharacters: SQL LIKE wildcards and JSON escapes in
// filter values are matched literally.
func testFilterSpecialCharacters(t *testing.T, inst *instance) {
	p := uniq("spc") + "-"
	ids := map[string]string{}
	for _, n := range []string{"wild_card", "wildXcard", "pct%name", "pctXname", `quo"te`, `back\slash`, "star*name"} {
		ids[n] = mustCreateUser(t, inst, p+n)
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{fmt.Sprintf(`userName sw %q`, p+"wild_"), []string{"wild_card"}},
		{fmt.Sprintf(`userName sw %q`, p+"pct%"), []string{"pct%name"}},
		{fmt.Sprintf(`userName sw %q and userName ew "_card"`, p), []string{"wild_card"}},
		{fmt.Sprintf(`userName sw %q and userName co "%%"`, p), []string{"pct%name"}},
		{fmt.Sprintf(`userName eq %q`, p+`quo"te`), []string{`quo"te`}},
		{fmt.Sprintf(`userName eq %q`, p+`back\slash`), []string{`back\slash`}},
		{fmt.Sprintf(`userName sw %q and userName co "*"`, p), []string{"star*name"}},
		{fmt.Sprintf(`userName sw %q and userName co "\\"`, p), []string{`back\slash`}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			m := inst.list(t, "/scim/v2/Users?"+filterQuery(tc.filter))
			var want []string
			for _, n := range tc.want {
				want = append(want, ids[n])
			}
			if got := sortedIDs(m); !slices.Equal(got, sorted(want...)) {
				t.Errorf("filter %s: got %s, want %v", tc.filter, names(ids, got), tc.want)
			}
		})
	}
}

// testNonASCIIUserName: userName is caseExact false for every letter, not
// just ASCII ones.
func testNonASCIIUserName(t *testing.T, inst *instance) {
	t.Run("exact match", func(t *testing.T) {
		// The existence check every IdP makes before a create.
		name := "ÅSA.ÖBERG-" + strings.ToUpper(randHex(4))
		id := mustCreateUser(t, inst, name)
		for _, v := range []string{name, strings.ToLower(name)} {
			m := inst.list(t, "/scim/v2/Users?"+filterQuery(fmt.Sprintf("userName eq %q", v)))
			if got := sortedIDs(m); !slices.Equal(got, []string{id}) {
				t.Errorf("user %q: filter userName eq %q found %v, want [%s]", name, v, got, id)
			}
		}
	})
	name := "jörg.émile-" + randHex(4)
	id := mustCreateUser(t, inst, name)
	r := inst.do(t, http.MethodGet, "/scim/v2/Users?"+filterQuery(fmt.Sprintf("userName eq %q", strings.ToUpper(name))), nil)
	mustStatus(t, r, http.StatusOK)
	if got := sortedIDs(r.JSON(t)); !slices.Equal(got, []string{id}) {
		t.Errorf("userName eq %q: got %v, want [%s] (userName %q)", strings.ToUpper(name), got, id, name)
	}
	checkSCIMError(t, inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(strings.ToUpper(name), nil)), http.StatusConflict, "uniqueness")
	// Whatever the server decided, an IdP's existence check must not find
	// two users for one userName.
	if n := inst.total(t, "/scim/v2/Users?"+filterQuery(fmt.Sprintf("userName eq %q", name))); n != 1 {
		t.Errorf("userName eq %q: totalResults %d, want 1", name, n)
	}
}

// testConcurrentSameUserName creates one userName from many clients at
// once, as an IdP retrying in parallel does: one 201, the rest 409.
func testConcurrentSameUserName(t *testing.T, inst *instance) {
	name := uniq("racer")
	const n = 8
	var reqs []request
	for range n {
		reqs = append(reqs, request{http.MethodPost, "/scim/v2/Users", userBody(name, nil), nil})
	}
	results := inst.parallel(t, reqs)
	statuses := make([]int, n)
	for i, r := range results {
		statuses[i] = r.Status
	}
	created := 0
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("concurrent POST of userName %q: got %s, want 201 or 409", name, results[i])
		}
	}
	if created != 1 {
		t.Errorf("concurrent POSTs of one userName: %d created, want 1 (statuses %v)", created, statuses)
	}
	if got := inst.total(t, "/scim/v2/Users?"+filterQuery(fmt.Sprintf("userName eq %q", name))); got != 1 {
		t.Errorf("%d users named %q, want 1", got, name)
	}
}

// testConcurrentPatches sends PATCHes to one user at once, each adding a
// different e-mail: none may be lost, and the version counts every one.
func testConcurrentPatches(t *testing.T, inst *instance) {
	id := mustCreate(t, inst, "/scim/v2/Users", userBody(uniq("contended"), nil))
	const n = 8
	var reqs []request
	for i := range n {
		reqs = append(reqs, request{http.MethodPatch, "/scim/v2/Users/" + id, patchBody(
			op("add", "emails", []any{map[string]any{"value": fmt.Sprintf("addr%d@example.com", i), "type": "other"}})), nil})
	}
	results := inst.parallel(t, reqs)
	for _, r := range results {
		checkStatus(t, r, http.StatusOK, http.StatusNoContent)
	}
	u := inst.mustGet(t, "/scim/v2/Users/"+id)
	if got := len(getList(u, "emails")); got != n {
		t.Errorf("after %d concurrent PATCHes adding one e-mail each, %d e-mails: %s", n, got, mustJSON(getList(u, "emails")))
	}
	if v := getStr(u, "meta", "version"); v != fmt.Sprintf(`W/"%d"`, n+1) {
		t.Errorf("meta.version = %s after %d PATCHes, want W/\"%d\"", v, n, n+1)
	}
}
