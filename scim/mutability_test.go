package scim

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckPatchMutability(t *testing.T) {
	user := resourceRef{kind: kindUser, id: "u1"}
	group := resourceRef{kind: kindGroup, id: "g1"}
	tests := []struct {
		ref      resourceRef
		ops      string
		mentions string // "" when the check lets the body through
	}{
		{user, `[{"op":"replace","path":"id","value":"x"}]`, "id is read-only"},
		{user, `[{"op":"replace","path":"ID","value":"x"}]`, "id is read-only"},
		{user, `[{"op":"replace","path":"meta","value":{}}]`, "meta is read-only"},
		{user, `[{"op":"remove","path":"meta.created"}]`, "meta.created is read-only"},
		{user, `[{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}]`, "meta.lastModified"},
		{user, `[{"op":"replace","path":"schemas","value":["x"]}]`, "schemas is set by the server"},
		{user, `[{"op":"add","path":"groups","value":[{"value":"x"}]}]`, "groups is read-only"},
		{user, `[{"op":"replace","path":"groups[value eq \"x\"].display","value":"y"}]`, "groups.display is read-only"},
		{user, `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}]`, "manager.displayName is read-only"},
		{user, `[{"op":"replace","value":{"meta":{"created":"2020-01-01T00:00:00Z"}}}]`, "meta is read-only"},
		{user, `[{"op":"replace","value":{"id":"other","active":false}}]`, "id is read-only"},
		{user, `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"id":"other"}}}]`, "id is read-only"},
		{user, `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"id","value":"x"}]`, "operation 2 (replace id)"},
		{group, `[{"op":"replace","path":"id","value":"x"}]`, "id is read-only"},
		{group, `[{"op":"replace","path":"meta.created","value":"x"}]`, "meta.created"},
		// Let through: writable targets, Okta's own id, unknown or bad paths
		// (the library and the applier answer those), unreadable bodies.
		{user, `[{"op":"replace","value":{"id":"u1","active":false}}]`, ""},
		{user, `[{"op":"replace","value":{"schemas":["x"],"active":false}}]`, ""},
		{user, `[{"op":"replace","path":"active","value":false}]`, ""},
		{user, `[{"op":"replace","path":"name.givenName","value":"x"}]`, ""},
		{user, `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x"}]`, ""},
		{user, `[{"op":"replace","path":"nope","value":"x"}]`, ""},
		{user, `[{"op":"replace","path":"a[b","value":"x"}]`, ""},
		{user, `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{}}]`, ""},
		{group, `[{"op":"add","path":"members","value":[{"value":"x"}]}]`, ""},
		{group, `[{"op":"replace","value":{"id":"g1","displayName":"x"}}]`, ""},
		{user, `not json`, ""},
	}
	for _, tc := range tests {
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + tc.ops + `}`
		if tc.ops == "not json" {
			body = tc.ops
		}
		err := checkPatchMutability(tc.ref, []byte(body))
		if tc.mentions == "" {
			if err != nil {
				t.Errorf("%s %s: %v, want nil", tc.ref.kind, tc.ops, err)
			}
			continue
		}
		se, ok := asScimError(err)
		if !ok || se.Status != 400 || se.ScimType != "mutability" || !strings.Contains(se.Detail, tc.mentions) {
			t.Errorf("%s %s: %v, want 400 mutability mentioning %q", tc.ref.kind, tc.ops, err, tc.mentions)
		}
	}
}

// TestPatchResponse: PATCH answers 204 with the ETag unless the client asks
// for attributes, then 200 with the projected resource.
func TestPatchResponse(t *testing.T) {
	s := newTestServer(t)
	uid := s.createUser("patcher", `"title":"t"`)
	gid := s.createGroup("Patchers")
	op := func(path, value string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"` + path + `","value":` + value + `}]}`
	}
	tests := []struct {
		target, body string
		status       int
		etag         string
		has, hasNot  string
	}{
		{"/Users/" + uid, op("title", `"a"`), http.StatusNoContent, `W/"2"`, "", ""},
		{"/Users/" + uid + "?attributes=title", op("title", `"b"`), http.StatusOK, `W/"3"`, `"title":"b"`, `"userName"`},
		{"/Users/" + uid + "?excludedAttributes=title", op("title", `"c"`), http.StatusOK, `W/"4"`, `"userName"`, `"title"`},
		{"/Users/" + uid + "?attributes=id", op("title", `"d"`), http.StatusOK, `W/"5"`, `"id"`, `"title"`},
		{"/Groups/" + gid, op("externalId", `"e"`), http.StatusNoContent, `W/"2"`, "", ""},
		{"/Groups/" + gid + "?excludedAttributes=members", op("externalId", `"f"`), http.StatusOK, `W/"3"`, `"externalId":"f"`, `"members"`},
		{"/Users/" + uid, op("meta.created", `"2020-01-01T00:00:00Z"`), http.StatusBadRequest, "", "mutability", ""},
		{"/Groups/" + gid, op("id", `"x"`), http.StatusBadRequest, "", "mutability", ""},
	}
	for _, tc := range tests {
		r := s.do(http.MethodPatch, tc.target, tc.body)
		if r.status != tc.status || r.header.Get("ETag") != tc.etag {
			t.Errorf("PATCH %s: %d ETag %q, want %d %q: %s", tc.target, r.status, r.header.Get("ETag"), tc.status, tc.etag, r.body)
		}
		if tc.status == http.StatusNoContent && r.body != "" {
			t.Errorf("PATCH %s: 204 with a body %q", tc.target, r.body)
		}
		if tc.has != "" && !strings.Contains(r.body, tc.has) || tc.hasNot != "" && strings.Contains(r.body, tc.hasNot) {
			t.Errorf("PATCH %s: body %s, want %s and not %s", tc.target, r.body, tc.has, tc.hasNot)
		}
	}
}
