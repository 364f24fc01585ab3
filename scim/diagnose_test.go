package scim

import (
	"net/http"
	"strings"
	"testing"
)

// TestRefusalDetails: bodies the library refuses with its generic detail
// get one that names the attribute; accepted bodies stay accepted.
func TestRefusalDetails(t *testing.T) {
	s := newTestServer(t)
	uid := s.createUser("existing", "")
	const user = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	tests := []struct {
		method, path, body string
		status             int
		scimType, mentions string
	}{
		{"POST", "/Users", `{` + user + `,"userName":"a","active":5}`, 400, "invalidValue", `"active" must be a boolean, not 5`},
		{"POST", "/Users", `{` + user + `,"active":true}`, 400, "invalidValue", `"userName" is required`},
		{"POST", "/Users", `{` + user + `,"userName":5}`, 400, "invalidValue", `"userName" must be a string, not 5`},
		{"POST", "/Users", `{` + user + `,"userName":"b","emails":"x"}`, 400, "invalidSyntax", `"emails" must be an array, not "x"`},
		{"POST", "/Users", `{` + user + `,"userName":"c","emails":[5]}`, 400, "invalidValue", `"emails[0]" must be an object, not 5`},
		{"POST", "/Users", `{` + user + `,"userName":"d","name":{"givenName":5}}`, 400, "invalidValue", `"name.givenName" must be a string`},
		{"POST", "/Users", `{` + user + `,"userName":"e","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":5}}`, 400, "invalidValue", `employeeNumber" must be a string`},
		{"POST", "/Users", `{"userName":"f"}`, 400, "invalidSyntax", "schemas must be an array"},
		{"PUT", "/Users/" + uid, `{` + user + `,"userName":"existing","active":[true]}`, 400, "invalidValue", `"active" must be a boolean, not an array`},
		{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":"x"}`, 400, "invalidSyntax", `"members" must be an array`},
		{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, 400, "invalidValue", `"displayName" is required`},
		// Accepted as before; refusals with a specific detail keep it.
		{"POST", "/Users", `{` + user + `,"userName":"h","Active":"True","EMAILS":[{"Value":"x","Primary":"true"}]}`, 201, "", ""},
		{"POST", "/Users", `{` + user + `,"userName":"EXISTING"}`, 409, "uniqueness", "already"},
		// A lone object for a multi-valued attribute is stored as an array of one.
		{"POST", "/Users", `{` + user + `,"userName":"i","emails":{"value":"i@x"}}`, 201, "", `"emails":[{"value":"i@x"}]`},
		{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"one","members":{"value":"` + uid + `"}}`,
			201, "", `"members":[{"$ref"`},
	}
	for _, tc := range tests {
		r := s.do(tc.method, tc.path, tc.body)
		if tc.status != 400 {
			if r.status != tc.status || !strings.Contains(r.body, tc.mentions) {
				t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
			}
			continue
		}
		m := scimErrorOf(t, r, tc.status, tc.scimType)
		if d, _ := m["detail"].(string); !strings.Contains(d, tc.mentions) {
			t.Errorf("%s %s %s: detail %q, want it to mention %s", tc.method, tc.path, tc.body, d, tc.mentions)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	if r := s.do(http.MethodGet, "/Users?count=0", ""); !strings.Contains(r.body, `"totalResults":3`) {
		t.Errorf("refused bodies were stored: %s", r.body)
	}
}
