package scim

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func TestParseETags(t *testing.T) {
	tests := []struct {
		header string
		want   etagList
		pre    store.Precondition
	}{
		{`W/"3"`, etagList{versions: []int64{3}}, store.Precondition{IfVersion: []int64{3}}},
		{`"3"`, etagList{versions: []int64{3}}, store.Precondition{IfVersion: []int64{3}}},
		{` W/"1" , "2",W/"12"`, etagList{versions: []int64{1, 2, 12}}, store.Precondition{IfVersion: []int64{1, 2, 12}}},
		{`*`, etagList{any: true}, store.Precondition{}},
		{`W/"2", *`, etagList{any: true, versions: []int64{2}}, store.Precondition{}},
		{`"abc"`, etagList{}, store.Precondition{IfVersion: []int64{0}}},
		{`3`, etagList{}, store.Precondition{IfVersion: []int64{0}}},
		{`W/""`, etagList{}, store.Precondition{IfVersion: []int64{0}}},
		{`"0", "-1", "99999999999999999999"`, etagList{}, store.Precondition{IfVersion: []int64{0}}},
		{``, etagList{}, store.Precondition{IfVersion: []int64{0}}},
	}
	for _, tc := range tests {
		got := parseETags(tc.header)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseETags(%q) = %+v, want %+v", tc.header, got, tc.want)
		}
		if pre := got.precondition(); !reflect.DeepEqual(pre, tc.pre) {
			t.Errorf("parseETags(%q).precondition() = %+v, want %+v", tc.header, pre, tc.pre)
		}
	}
}

func TestParseResourcePath(t *testing.T) {
	tests := []struct {
		path string
		want resourceRef
		ok   bool
	}{
		{"/Users/abc", resourceRef{kindUser, "abc"}, true},
		{"/Groups/g%201", resourceRef{kindGroup, "g 1"}, true},
		{"/Users/", resourceRef{}, false},
		{"/Users", resourceRef{}, false},
		{"/Users/.search", resourceRef{}, false},
		{"/Schemas/x", resourceRef{}, false},
	}
	for _, tc := range tests {
		got, ok := parseResourcePath(tc.path)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseResourcePath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestIfNoneMatch(t *testing.T) {
	s := newTestServer(t)
	uid := s.createUser("inm", "")
	gid := s.createGroup("INM")
	for _, path := range []string{"/Users/" + uid, "/Groups/" + gid} {
		tests := []struct {
			header string
			want   int
		}{
			{`W/"1"`, http.StatusNotModified},
			{`"1"`, http.StatusNotModified},
			{`W/"7", W/"1"`, http.StatusNotModified},
			{`*`, http.StatusNotModified},
			{`W/"2"`, http.StatusOK},
			{`garbage`, http.StatusOK},
		}
		for _, tc := range tests {
			r := s.do(http.MethodGet, path, "", "If-None-Match", tc.header)
			if r.status != tc.want {
				t.Errorf("GET %s If-None-Match %s: %d, want %d: %s", path, tc.header, r.status, tc.want, r.body)
			}
			if r.header.Get("ETag") != `W/"1"` {
				t.Errorf("GET %s If-None-Match %s: ETag %q, want W/\"1\"", path, tc.header, r.header.Get("ETag"))
			}
			if tc.want == http.StatusNotModified && r.body != "" {
				t.Errorf("304 with a body: %q", r.body)
			}
		}
	}
	r := s.do(http.MethodGet, "/Users/nope", "", "If-None-Match", "*")
	scimErrorOf(t, r, http.StatusNotFound, "")
}

func TestIfMatch(t *testing.T) {
	s := newTestServer(t)
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"externalId","value":"x"}]}`
	type step struct {
		method, ifMatch string
		want            int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"PATCH current weak, then stale", []step{{http.MethodPatch, `W/"1"`, 204}, {http.MethodPatch, `W/"1"`, 412}, {http.MethodPatch, `"2"`, 204}}},
		{"PATCH any", []step{{http.MethodPatch, `*`, 204}, {http.MethodPatch, `*`, 204}}},
		{"PATCH list", []step{{http.MethodPatch, `W/"5", W/"1"`, 204}, {http.MethodPatch, `W/"5", W/"1"`, 412}}},
		{"PATCH foreign tag", []step{{http.MethodPatch, `"xyz"`, 412}}},
		{"PUT stale then current", []step{{http.MethodPut, `W/"9"`, 412}, {http.MethodPut, `W/"1"`, 200}}},
		{"DELETE stale then current", []step{{http.MethodDelete, `W/"2"`, 412}, {http.MethodDelete, `W/"1"`, 204}, {http.MethodDelete, `W/"1"`, 404}}},
	}
	for _, kind := range []string{"Users", "Groups"} {
		for i, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				name := strings.ToLower(kind) + itoa(i)
				var id, put string
				if kind == "Users" {
					id = s.createUser(name, "")
					put = `{"schemas":["` + userSchemaURN + `"],"userName":"` + name + `"}`
				} else {
					id = s.createGroup(name)
					put = `{"schemas":["` + groupSchemaURN + `"],"displayName":"` + name + `"}`
				}
				for _, st := range tc.steps {
					body := map[string]string{http.MethodPatch: patch, http.MethodPut: put}[st.method]
					r := s.do(st.method, "/"+kind+"/"+id, body, "If-Match", st.ifMatch)
					if st.want == http.StatusPreconditionFailed {
						m := scimErrorOf(t, r, st.want, "")
						if d, _ := m["detail"].(string); !strings.Contains(d, "changed") {
							t.Errorf("412 detail %q should say the resource changed", d)
						}
						continue
					}
					if r.status != st.want {
						t.Fatalf("%s If-Match %s: %d, want %d: %s", st.method, st.ifMatch, r.status, st.want, r.body)
					}
					if st.method != http.MethodDelete && r.header.Get("ETag") == "" {
						t.Errorf("%s answered %d without an ETag", st.method, r.status)
					}
				}
			})
		}
	}
}
