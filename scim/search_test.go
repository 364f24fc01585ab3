package scim

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestListRequestFromBody(t *testing.T) {
	const schemas = `"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`
	tests := []struct {
		name string
		body string
		want listRequest
	}{
		{"defaults", `{` + schemas + `}`, listRequest{startIndex: 1, count: defaultCount}},
		{"everything", `{` + schemas + `,"filter":"userName eq \"a\"","startIndex":3,"count":7,"sortBy":"userName","sortOrder":"descending",
			"attributes":["userName","emails"],"excludedAttributes":["name"]}`,
			listRequest{filter: `userName eq "a"`, startIndex: 3, count: 7, sortBy: "userName", sortOrder: "descending",
				proj: projection{include: []attrRef{{attr: "userName"}, {attr: "emails"}}, exclude: []attrRef{{attr: "name"}}}}},
		{"member names ignore case, nulls are absent", `{"Schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"COUNT":2,"filter":null}`,
			listRequest{startIndex: 1, count: 2}},
		{"clamped", `{` + schemas + `,"startIndex":-4,"count":5000}`, listRequest{startIndex: 1, count: maxCount}},
		{"negative count", `{` + schemas + `,"count":-1}`, listRequest{startIndex: 1, count: 0}},
		{"attributes as a string", `{` + schemas + `,"attributes":"userName, id"}`,
			listRequest{startIndex: 1, count: defaultCount, proj: projection{include: []attrRef{{attr: "userName"}, {attr: "id"}}}}},
	}
	for _, tc := range tests {
		got, err := listRequestFromBody(httptest.NewRequest(http.MethodPost, "/Users/.search", strings.NewReader(tc.body)))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, got, tc.want)
		}
	}
}

func TestListRequestFromBodyErrors(t *testing.T) {
	const schemas = `"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`
	tests := []struct {
		body, scimType, mentions string
	}{
		{``, "invalidSyntax", "JSON object"},
		{`[]`, "invalidSyntax", "JSON object"},
		{`{` + schemas + `} {}`, "invalidSyntax", "JSON object"},
		{`{` + schemas + `,"filter":"x"`, "invalidSyntax", "JSON object"},
		{`{}`, "invalidSyntax", "schemas"},
		{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"]}`, "invalidSyntax", "schemas"},
		{`{"schemas":"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}`, "invalidSyntax", "schemas"},
		{`{` + schemas + `,"sortby":"a","sortBy":"b"}`, "invalidSyntax", "twice"},
		{`{` + schemas + `,"limit":3}`, "invalidSyntax", `"limit"`},
		{`{` + schemas + `,"count":"10"}`, "invalidValue", "count"},
		{`{` + schemas + `,"count":1.5}`, "invalidValue", "count"},
		{`{` + schemas + `,"startIndex":99999999999}`, "invalidValue", "startIndex"},
		{`{` + schemas + `,"filter":5}`, "invalidValue", "filter"},
		{`{` + schemas + `,"sortBy":["a"]}`, "invalidValue", "sortBy"},
		{`{` + schemas + `,"sortOrder":"down"}`, "invalidValue", `"down"`},
		{`{` + schemas + `,"attributes":[1]}`, "invalidValue", "attributes"},
	}
	for _, tc := range tests {
		_, err := listRequestFromBody(httptest.NewRequest(http.MethodPost, "/.search", strings.NewReader(tc.body)))
		se, ok := asScimError(err)
		if !ok || se.Status != 400 || string(se.ScimType) != tc.scimType || !strings.Contains(se.Detail, tc.mentions) {
			t.Errorf("body %s: got %v, want 400 %s mentioning %s", tc.body, err, tc.scimType, tc.mentions)
		}
	}
}

func TestSearch(t *testing.T) {
	s := newTestServer(t)
	for _, n := range []string{"c", "a", "b"} {
		s.createUser("s-"+n, `"externalId":"`+n+`"`)
	}
	gid := s.createGroup("s-group")
	search := func(path, params string) map[string]any {
		t.Helper()
		r := s.do(http.MethodPost, path, `{"schemas":["`+searchRequestURN+`"]`+params+`}`)
		if r.status != http.StatusOK {
			t.Fatalf("POST %s %s: %d %s", path, params, r.status, r.body)
		}
		return r.json(t)
	}
	ids := func(m map[string]any, key string) []string {
		out := []string{}
		for _, r := range m["Resources"].([]any) {
			out = append(out, r.(map[string]any)[key].(string))
		}
		return out
	}
	tests := []struct {
		path, params, key string
		want              []string
		total             float64
	}{
		{"/Users/.search", `,"sortBy":"userName"`, "userName", []string{"s-a", "s-b", "s-c"}, 3},
		{"/Users/.search", `,"filter":"userName sw \"s-\"","sortBy":"externalId","sortOrder":"descending","startIndex":2,"count":1`, "userName", []string{"s-b"}, 3},
		{"/Groups/.search", `,"filter":"displayName eq \"S-GROUP\""`, "id", []string{gid}, 1},
		{"/.search", `,"count":10`, "id", nil, 4},
		{"/.search", `,"filter":"members[value eq \"nobody\"]"`, "id", []string{}, 0},
		{"/.search", `,"filter":"displayName eq \"s-group\""`, "id", []string{gid}, 1},
		{"/.search", `,"filter":"externalId pr","sortBy":"externalId"`, "externalId", []string{"a", "b", "c"}, 3},
		{"/.search", `,"startIndex":3,"count":2`, "meta", nil, 4},
	}
	for _, tc := range tests {
		m := search(tc.path, tc.params)
		if m["totalResults"] != tc.total || m["itemsPerPage"] != float64(len(m["Resources"].([]any))) {
			t.Errorf("%s %s: totalResults %v itemsPerPage %v, want %v", tc.path, tc.params, m["totalResults"], m["itemsPerPage"], tc.total)
		}
		if tc.want != nil && !reflect.DeepEqual(ids(m, tc.key), tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.path, tc.params, ids(m, tc.key), tc.want)
		}
	}
	// Across types: Users, then Groups, each with its own type.
	m := search("/.search", `,"startIndex":3,"count":2`)
	var types []string
	for _, r := range m["Resources"].([]any) {
		types = append(types, r.(map[string]any)["meta"].(map[string]any)["resourceType"].(string))
	}
	if !reflect.DeepEqual(types, []string{"User", "Group"}) {
		t.Errorf("page 3-4 across types: %v, want [User Group]", types)
	}
	for _, tc := range []struct{ path, params, scimType string }{
		{"/.search", `,"filter":"nope eq 1"`, "invalidFilter"},
		{"/.search", `,"sortBy":"userName"`, "invalidValue"},
		{"/.search", `,"sortBy":"id","startIndex":10000,"count":1000`, "tooMany"},
		{"/Users/.search", `,"filter":"members[value eq \"x\"]"`, "invalidFilter"},
	} {
		r := s.do(http.MethodPost, tc.path, `{"schemas":["`+searchRequestURN+`"]`+tc.params+`}`)
		scimErrorOf(t, r, http.StatusBadRequest, tc.scimType)
	}
}
