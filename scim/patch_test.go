package scim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

func init() {
	// As NewHandler does at start: Entra ID sends "True" and "False".
	schema.SetAllowStringValues(true)
}

// The tests never build PatchOperation values for what clients send: every
// body goes through the library's real validation, as on the server, and
// the applier gets exactly what the library hands to a resource handler.

// patchCapture is a ResourceHandler that records what Patch receives.
type patchCapture struct{ ops []elimity.PatchOperation }

func (c *patchCapture) Create(*http.Request, elimity.ResourceAttributes) (elimity.Resource, error) {
	return elimity.Resource{}, nil
}
func (c *patchCapture) Get(*http.Request, string) (elimity.Resource, error) {
	return elimity.Resource{}, nil
}
func (c *patchCapture) GetAll(*http.Request, elimity.ListRequestParams) (elimity.Page, error) {
	return elimity.Page{}, nil
}
func (c *patchCapture) Replace(*http.Request, string, elimity.ResourceAttributes) (elimity.Resource, error) {
	return elimity.Resource{}, nil
}
func (c *patchCapture) Delete(*http.Request, string) error { return nil }
func (c *patchCapture) Patch(_ *http.Request, _ string, ops []elimity.PatchOperation) (elimity.Resource, error) {
	c.ops = ops
	return elimity.Resource{}, nil // no attributes: the library answers 204
}

// libraryError is the error body the library answered with.
type libraryError struct {
	Status   string
	ScimType scimerrors.ScimType
	Detail   string
}

// sendPatch sends body as PATCH /Users/x or /Groups/x through a library
// server with types (as built by resourceTypes) and returns the operations
// the library hands to Patch, or its error.
func sendPatch(t *testing.T, types func(users, groups elimity.ResourceHandler) []elimity.ResourceType, kind resourceKind, body string) ([]elimity.PatchOperation, *libraryError) {
	t.Helper()
	users, groups := &patchCapture{}, &patchCapture{}
	srv, err := elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{SupportPatch: true},
		ResourceTypes:         types(users, groups),
	})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, capture := "/Users/x", users
	if kind == kindGroup {
		endpoint, capture = "/Groups/x", groups
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodPatch, endpoint, strings.NewReader(body)))
	if w.Code != http.StatusNoContent {
		var le libraryError
		if err := json.Unmarshal(w.Body.Bytes(), &le); err != nil {
			t.Fatalf("library answered %d with %q", w.Code, w.Body.String())
		}
		return nil, &le
	}
	return capture.ops, nil
}

// libraryOps is what the server does with a PATCH body: normalise a user
// body (normalizePatchBody), then let the library with Onramp's resource
// types validate it.
func libraryOps(t *testing.T, kind resourceKind, body string) ([]elimity.PatchOperation, *libraryError) {
	t.Helper()
	if kind == kindUser {
		body = string(normalizePatchBody([]byte(body)))
	}
	return sendPatch(t, resourceTypes, kind, body)
}

// patchBody wraps a JSON array of operations in a PatchOp request.
func patchBody(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
}

// jsonObject decodes a JSON object written in a test.
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return m
}

// canonicalJSON renders v as compact JSON with sorted keys, so that results
// compare independently of Go types (int64 and float64 both print as 7).
func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var round any
	if err := json.Unmarshal(b, &round); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(round)
	return string(b)
}

// checkScimError asserts that err is a 400 ScimError value (never a pointer,
// which the library would turn into a 500) of the given type whose detail
// mentions each of mentions.
func checkScimError(t *testing.T, err error, want scimerrors.ScimType, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	se, ok := err.(scimerrors.ScimError)
	if !ok {
		t.Fatalf("got %T %v, want a scimerrors.ScimError value", err, err)
	}
	if se.Status != http.StatusBadRequest || se.ScimType != want {
		t.Fatalf("got %d %s (%s), want 400 %s", se.Status, se.ScimType, se.Detail, want)
	}
	for _, m := range mentions {
		if !strings.Contains(se.Detail, m) {
			t.Errorf("detail %q does not mention %q", se.Detail, m)
		}
	}
}

const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// storedUser is the user most cases start from, as the store holds it.
const storedUser = `{
	"userName": "bjensen@example.com",
	"externalId": "ext-1",
	"displayName": "Babs",
	"active": true,
	"name": {"givenName": "Barbara", "familyName": "Jensen"},
	"emails": [
		{"value": "bjensen@example.com", "type": "work", "primary": true},
		{"value": "babs@home.example", "type": "home"}
	],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "employeeNumber": "1"}
}`

// withUser returns storedUser with changes applied: keys with a nil value
// are removed, others set.
func withUser(t *testing.T, changes map[string]any) string {
	t.Helper()
	m := jsonObject(t, storedUser)
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return canonicalJSON(t, m)
}

type userPatchCase struct {
	name  string
	attrs string // stored attributes; "" means storedUser
	ops   string // JSON array of operations, as a client sends them
	want  string // resulting attributes, JSON
	err   scimerrors.ScimType
	// mentions are strings the error detail must contain.
	mentions []string
	// rejected is the scimType of the library's own 400, when it refuses
	// the body before the applier sees it.
	rejected scimerrors.ScimType
}

func TestApplyUserPatch(t *testing.T) {
	obj := func(s string) any { return jsonObject(t, `{"v":`+s+`}`)["v"] }
	workEmail := `{"value": "bjensen@example.com", "type": "work", "primary": true}`
	homeEmail := `{"value": "babs@home.example", "type": "home"}`
	cases := []userPatchCase{
		// Simple attributes.
		{name: "replace displayName",
			ops:  `[{"op":"replace","path":"displayName","value":"Barbara J"}]`,
			want: withUser(t, map[string]any{"displayName": "Barbara J"})},
		{name: "add displayName when absent",
			attrs: `{"userName":"u"}`,
			ops:   `[{"op":"add","path":"displayName","value":"U"}]`,
			want:  `{"displayName":"U","userName":"u"}`},
		{name: "remove displayName",
			ops:  `[{"op":"remove","path":"displayName"}]`,
			want: withUser(t, map[string]any{"displayName": nil})},
		{name: "remove absent attribute is a no-op",
			ops:  `[{"op":"remove","path":"nickName"}]`,
			want: withUser(t, nil)},
		{name: "path names are case-insensitive, results canonical",
			ops:  `[{"op":"replace","path":"DISPLAYNAME","value":"X"},{"op":"replace","path":"Active","value":false}]`,
			want: withUser(t, map[string]any{"displayName": "X", "active": false})},
		{name: "core-URN-qualified path",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:userName","value":"b@example.com"}]`,
			want: withUser(t, map[string]any{"userName": "b@example.com"})},
		{name: "replace externalId",
			ops:  `[{"op":"replace","path":"externalId","value":"ext-2"}]`,
			want: withUser(t, map[string]any{"externalId": "ext-2"})},
		{name: "replace active with a boolean",
			ops:  `[{"op":"replace","path":"active","value":false}]`,
			want: withUser(t, map[string]any{"active": false})},
		{name: "Entra: Replace active with the string False",
			ops:  `[{"op":"Replace","path":"active","value":"False"}]`,
			want: withUser(t, map[string]any{"active": false})},
		{name: "Entra: Add active with the string True",
			attrs: `{"userName":"u","active":false}`,
			ops:   `[{"op":"Add","path":"active","value":"True"}]`,
			want:  `{"active":true,"userName":"u"}`},

		// Complex attributes.
		{name: "replace name.givenName",
			ops:  `[{"op":"replace","path":"name.givenName","value":"Barb"}]`,
			want: withUser(t, map[string]any{"name": obj(`{"givenName":"Barb","familyName":"Jensen"}`)})},
		{name: "replace name.FamilyName (sub-attribute case-insensitive)",
			ops:  `[{"op":"replace","path":"name.FamilyName","value":"Smith"}]`,
			want: withUser(t, map[string]any{"name": obj(`{"givenName":"Barbara","familyName":"Smith"}`)})},
		{name: "add name.middleName creates the sub-attribute",
			ops:  `[{"op":"add","path":"name.middleName","value":"Q"}]`,
			want: withUser(t, map[string]any{"name": obj(`{"givenName":"Barbara","familyName":"Jensen","middleName":"Q"}`)})},
		{name: "add name.givenName when name is absent",
			attrs: `{"userName":"u"}`,
			ops:   `[{"op":"add","path":"name.givenName","value":"G"}]`,
			want:  `{"name":{"givenName":"G"},"userName":"u"}`},
		{name: "remove name.givenName",
			ops:  `[{"op":"remove","path":"name.givenName"}]`,
			want: withUser(t, map[string]any{"name": obj(`{"familyName":"Jensen"}`)})},
		{name: "remove the last sub-attribute removes the attribute",
			attrs: `{"userName":"u","name":{"givenName":"G"}}`,
			ops:   `[{"op":"remove","path":"name.givenName"}]`,
			want:  `{"userName":"u"}`},
		{name: "replace name merges sub-attributes (RFC 7644 3.5.2.3)",
			ops:  `[{"op":"replace","path":"name","value":{"GivenName":"B","formatted":"B Jensen"}}]`,
			want: withUser(t, map[string]any{"name": obj(`{"givenName":"B","familyName":"Jensen","formatted":"B Jensen"}`)})},

		// Multi-valued attributes.
		{name: "add emails appends",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"b@other.example","type":"other"}]}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `,` + homeEmail + `,{"value":"b@other.example","type":"other"}]`)})},
		{name: "add emails with a single object",
			ops:  `[{"op":"add","path":"emails","value":{"Value":"b@other.example","Type":"other"}}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `,` + homeEmail + `,{"value":"b@other.example","type":"other"}]`)})},
		{name: "add emails merges into the same value instead of duplicating",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"BJENSEN@example.com","type":"work","display":"Work"}]}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"BJENSEN@example.com","type":"work","primary":true,"display":"Work"},` + homeEmail + `]`)})},
		{name: "add a primary email clears primary on the others",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"new@example.com","type":"other","primary":true}]}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"bjensen@example.com","type":"work","primary":false},` + homeEmail + `,{"value":"new@example.com","type":"other","primary":true}]`)})},
		{name: "two primary values in one operation",
			ops:      `[{"op":"add","path":"emails","value":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}]`,
			err:      scimerrors.ScimTypeInvalidValue,
			mentions: []string{"emails", "primary"}},
		{name: "replace emails replaces the whole list",
			ops:  `[{"op":"replace","path":"emails","value":[{"value":"only@example.com","type":"work"}]}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"only@example.com","type":"work"}]`)})},
		{name: "replace emails with an empty list removes it",
			ops:  `[{"op":"replace","path":"emails","value":[]}]`,
			want: withUser(t, map[string]any{"emails": nil})},
		{name: "add emails with an empty list changes nothing",
			ops:  `[{"op":"add","path":"emails","value":[]}]`,
			want: withUser(t, nil)},
		{name: "remove emails",
			ops:  `[{"op":"remove","path":"emails"}]`,
			want: withUser(t, map[string]any{"emails": nil})},
		{name: "remove emails with a value list removes those values",
			ops:  `[{"op":"remove","path":"emails","value":[{"value":"BABS@home.example"}]}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `]`)})},
		{name: "add phoneNumbers with Entra's string booleans",
			ops:  `[{"op":"Add","path":"phoneNumbers","value":[{"value":"+1 555","type":"mobile","primary":"True"}]}]`,
			want: withUser(t, map[string]any{"phoneNumbers": obj(`[{"value":"+1 555","type":"mobile","primary":true}]`)})},

		// Value filters.
		{name: `Entra: replace emails[type eq "work"].value`,
			ops:  `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"barbara@example.com"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"barbara@example.com","type":"work","primary":true},` + homeEmail + `]`)})},
		{name: "filter names and values are case-insensitive (type is not caseExact)",
			ops:  `[{"op":"replace","path":"Emails[Type eq \"WORK\"].Value","value":"barbara@example.com"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"barbara@example.com","type":"work","primary":true},` + homeEmail + `]`)})},
		{name: "filter with and",
			ops:  `[{"op":"replace","path":"emails[type eq \"work\" and primary eq true].display","value":"W"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"bjensen@example.com","type":"work","primary":true,"display":"W"},` + homeEmail + `]`)})},
		{name: "filter with co",
			ops:  `[{"op":"replace","path":"emails[value co \"HOME\"].type","value":"other"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `,{"value":"babs@home.example","type":"other"}]`)})},
		{name: "filter with not",
			ops:  `[{"op":"remove","path":"emails[not (type eq \"work\")]"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `]`)})},
		{name: "set primary through a filter clears the others",
			ops:  `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@home.example","type":"home","primary":true}]`)})},
		{name: "replace emails[type eq work] replaces the matched value",
			ops:  `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w@example.com","type":"work"}}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"w@example.com","type":"work"},` + homeEmail + `]`)})},
		{name: "add emails[type eq work] merges into the matched value",
			ops:  `[{"op":"add","path":"emails[type eq \"work\"]","value":{"display":"Work"}}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"bjensen@example.com","type":"work","primary":true,"display":"Work"},` + homeEmail + `]`)})},
		{name: `remove emails[type eq "work"]`,
			ops:  `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + homeEmail + `]`)})},
		{name: "remove the only matching value removes the attribute",
			attrs: `{"userName":"u","emails":[{"value":"a@x","type":"work"}]}`,
			ops:   `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			want:  `{"userName":"u"}`},
		{name: "remove a sub-attribute of matching values",
			ops:  `[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"bjensen@example.com","type":"work"},` + homeEmail + `]`)})},
		{name: "remove with a filter matching nothing",
			ops:      `[{"op":"remove","path":"emails[type eq \"other\"]"}]`,
			err:      scimerrors.ScimTypeNoTarget,
			mentions: []string{"emails"}},
		{name: "Entra: add emails[type eq work].value to a user without emails creates the value",
			attrs: `{"userName":"u"}`,
			ops:   `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"u@example.com"}]`,
			want:  `{"emails":[{"type":"work","value":"u@example.com"}],"userName":"u"}`},
		{name: "replace with an equality filter matching nothing creates the value",
			ops:  `[{"op":"replace","path":"emails[type eq \"other\" and primary eq false].value","value":"o@example.com"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `,` + homeEmail + `,{"type":"other","primary":false,"value":"o@example.com"}]`)})},
		{name: "replace a whole value through an equality filter matching nothing keeps the filter's attributes",
			attrs: `{"userName":"u"}`,
			ops:   `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"u@example.com","primary":true}}]`,
			want:  `{"emails":[{"type":"work","value":"u@example.com","primary":true}],"userName":"u"}`},
		{name: "sub-attribute of every value (no filter)",
			ops:  `[{"op":"replace","path":"emails.display","value":"E"}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"bjensen@example.com","type":"work","primary":true,"display":"E"},{"value":"babs@home.example","type":"home","display":"E"}]`)})},
		{name: "replace with another filter matching nothing",
			ops:      `[{"op":"replace","path":"emails[value sw \"nobody\"].value","value":"o@example.com"}]`,
			err:      scimerrors.ScimTypeNoTarget,
			mentions: []string{"emails"}},
		{name: "replace a filtered value with a list",
			ops:      `[{"op":"replace","path":"emails[type eq \"work\"]","value":[{"value":"a@x"},{"value":"b@x"}]}]`,
			err:      scimerrors.ScimTypeInvalidValue,
			mentions: []string{"emails", "single value"}},
		{name: "value filter on a single-valued attribute",
			ops:      `[{"op":"replace","path":"name[givenName eq \"Barbara\"].familyName","value":"X"}]`,
			err:      scimerrors.ScimTypeInvalidPath,
			mentions: []string{"name", "multi-valued"}},

		// The enterprise extension.
		{name: "replace enterprise department",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Eng"}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Eng","employeeNumber":"1"}`)})},
		{name: "add enterprise employeeNumber when the extension is absent",
			attrs: `{"userName":"u"}`,
			ops:   `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"7"}]`,
			want:  `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7"},"userName":"u"}`},
		{name: "extension attribute names are case-insensitive",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:DEPARTMENT","value":"Eng"}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Eng","employeeNumber":"1"}`)})},
		{name: "remove the last extension attribute removes the extension",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}]`,
			want: withUser(t, map[string]any{enterpriseURN: nil})},
		{name: "Entra: manager as a plain id",
			ops:  `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr-1"}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Sales","employeeNumber":"1","manager":{"value":"mgr-1"}}`)})},
		{name: "Entra: manager as an empty id clears it",
			attrs: `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"mgr-1"}}}`,
			ops:   `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]`,
			want:  `{"userName":"u"}`},
		{name: "manager as an object; read-only displayName dropped",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"mgr-2","displayName":"Boss"}}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Sales","employeeNumber":"1","manager":{"value":"mgr-2"}}`)})},
		{name: "replace manager.value",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"mgr-3"}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Sales","employeeNumber":"1","manager":{"value":"mgr-3"}}`)})},
		{name: "remove manager",
			attrs: `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"mgr-1"},"department":"D"}}`,
			ops:   `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want:  `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"},"userName":"u"}`},

		// Without a path.
		{name: "Okta: replace without path {active: false}",
			ops:  `[{"op":"replace","value":{"active":false}}]`,
			want: withUser(t, map[string]any{"active": false})},
		{name: "without path, any case and Entra strings",
			ops:  `[{"op":"Replace","value":{"Active":"False","DisplayName":"B"}}]`,
			want: withUser(t, map[string]any{"active": false, "displayName": "B"})},
		{name: "without path, dotted and URN-qualified keys",
			ops: `[{"op":"replace","value":{
				"name.givenName":"G",
				"NAME.familyName":"F",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"Eng"}}}]`,
			want: withUser(t, map[string]any{
				"name":        obj(`{"givenName":"G","familyName":"F"}`),
				enterpriseURN: obj(`{"department":"Eng","employeeNumber":"7"}`)})},
		{name: "without path, Entra manager id inside the extension object",
			ops:  `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"mgr-1"}}}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Sales","employeeNumber":"1","manager":{"value":"mgr-1"}}`)})},
		{name: "without path, a URN-qualified Entra manager id",
			ops:  `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"mgr-1"}}]`,
			want: withUser(t, map[string]any{enterpriseURN: obj(`{"department":"Sales","employeeNumber":"1","manager":{"value":"mgr-1"}}`)})},
		{name: "without path, the core schema URN as a container",
			ops:  `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"displayName":"C"}}}]`,
			want: withUser(t, map[string]any{"displayName": "C"})},
		{name: "without path, a complex value merges",
			ops:  `[{"op":"replace","value":{"name":{"givenName":"G"}}}]`,
			want: withUser(t, map[string]any{"name": obj(`{"givenName":"G","familyName":"Jensen"}`)})},
		{name: "without path, add appends to a multi-valued attribute",
			ops:  `[{"op":"add","value":{"emails":[{"value":"x@example.com","type":"other"}]}}]`,
			want: withUser(t, map[string]any{"emails": obj(`[` + workEmail + `,` + homeEmail + `,{"value":"x@example.com","type":"other"}]`)})},
		{name: "without path, replace replaces a multi-valued attribute",
			ops:  `[{"op":"replace","value":{"emails":[{"value":"x@example.com","type":"other"}]}}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"x@example.com","type":"other"}]`)})},
		{name: "without path, a filtered key",
			ops:  `[{"op":"replace","value":{"emails[type eq \"work\"].value":"w@example.com"}}]`,
			want: withUser(t, map[string]any{"emails": obj(`[{"value":"w@example.com","type":"work","primary":true},` + homeEmail + `]`)})},
		{name: "without path, the resource's id is ignored",
			ops:  `[{"op":"replace","value":{"id":"2819c223","displayName":"B"}}]`,
			want: withUser(t, map[string]any{"displayName": "B"})},
		{name: "without path, groups is read-only",
			ops:      `[{"op":"replace","value":{"groups":[{"value":"g1"}]}}]`,
			err:      scimerrors.ScimTypeMutability,
			mentions: []string{"groups"}},

		// Password: accepted, never stored.
		{name: "replace password is accepted and dropped",
			ops:  `[{"op":"replace","path":"password","value":"hunter2"}]`,
			want: withUser(t, nil)},
		{name: "Okta: password without path is dropped, the rest applied",
			ops:  `[{"op":"replace","value":{"password":"hunter2","active":false}}]`,
			want: withUser(t, map[string]any{"active": false})},
		{name: "Okta: password alone",
			ops:  `[{"op":"replace","value":{"password":"hunter2"}}]`,
			want: withUser(t, nil)},

		// Refusals by the applier.
		{name: "groups is read-only",
			ops:      `[{"op":"add","path":"groups","value":[{"value":"g1"}]}]`,
			err:      scimerrors.ScimTypeMutability,
			mentions: []string{"groups is read-only"}},
		{name: "manager.displayName is read-only",
			ops:      `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"Boss"}]`,
			err:      scimerrors.ScimTypeMutability,
			mentions: []string{"manager.displayName"}},
		{name: "userName is required",
			ops:      `[{"op":"remove","path":"userName"}]`,
			err:      scimerrors.ScimTypeInvalidValue,
			mentions: []string{"userName", "required"}},
		{name: "the error names the operation",
			ops:      `[{"op":"replace","path":"displayName","value":"ok"},{"op":"remove","path":"emails[type eq \"pager\"]"}]`,
			err:      scimerrors.ScimTypeNoTarget,
			mentions: []string{`operation 2 (remove emails[type eq "pager"])`}},

		// Refusals by the library, before the applier: they pin what the
		// library does, so that a library upgrade that changes it shows.
		{name: "library: remove without path", ops: `[{"op":"remove"}]`, rejected: scimerrors.ScimTypeNoTarget},
		{name: "library: unknown attribute", ops: `[{"op":"replace","path":"shoeSize","value":"9"}]`, rejected: scimerrors.ScimTypeInvalidPath},
		{name: "library: id", ops: `[{"op":"replace","path":"id","value":"x"}]`, rejected: scimerrors.ScimTypeInvalidPath},
		{name: "library: meta", ops: `[{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}]`, rejected: scimerrors.ScimTypeInvalidPath},
		{name: "library: not a boolean", ops: `[{"op":"replace","path":"active","value":"yes"}]`, rejected: scimerrors.ScimTypeInvalidValue},
		{name: "library: unknown op", ops: `[{"op":"merge","path":"active","value":true}]`, rejected: scimerrors.ScimTypeInvalidValue},
		{name: "library: unknown filter attribute", ops: `[{"op":"remove","path":"emails[shoe eq \"x\"]"}]`, rejected: scimerrors.ScimTypeInvalidPath},
		{name: "library: path-less value not an object", ops: `[{"op":"replace","value":"x"}]`, rejected: scimerrors.ScimTypeInvalidValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stored := tc.attrs
			if stored == "" {
				stored = storedUser
			}
			ops, lerr := libraryOps(t, kindUser, patchBody(tc.ops))
			if tc.rejected != "" {
				if lerr == nil || lerr.ScimType != tc.rejected {
					t.Fatalf("library: got %+v, want a 400 %s", lerr, tc.rejected)
				}
				return
			}
			if lerr != nil {
				t.Fatalf("library rejected the body: %+v", lerr)
			}
			attrs := jsonObject(t, stored)
			before := canonicalJSON(t, attrs)
			got, err := applyUserPatch(attrs, ops)
			if after := canonicalJSON(t, attrs); after != before {
				t.Errorf("input modified:\n got %s\nwant %s", after, before)
			}
			if tc.err != "" {
				checkScimError(t, err, tc.err, tc.mentions...)
				if got != nil {
					t.Errorf("got attributes %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if g, w := canonicalJSON(t, got), canonicalJSON(t, jsonObject(t, tc.want)); g != w {
				t.Errorf("attributes:\n got %s\nwant %s", g, w)
			}
			if strings.Contains(canonicalJSON(t, got), "hunter2") {
				t.Error("the password was kept")
			}
		})
	}
}

type groupPatchCase struct {
	name     string
	attrs    string // stored attributes; "" means storedGroup
	ops      string
	want     string // resulting attributes; "" means unchanged
	changes  store.MemberChanges
	err      scimerrors.ScimType
	mentions []string
	rejected scimerrors.ScimType
}

const storedGroup = `{"displayName":"Engineering","externalId":"g-ext"}`

func TestApplyGroupPatch(t *testing.T) {
	cases := []groupPatchCase{
		{name: "replace displayName",
			ops:  `[{"op":"replace","path":"displayName","value":"Eng"}]`,
			want: `{"displayName":"Eng","externalId":"g-ext"}`},
		{name: "Okta: path-less replace with the group's id",
			ops:  `[{"op":"replace","value":{"id":"abf4dd94","displayName":"Eng"}}]`,
			want: `{"displayName":"Eng","externalId":"g-ext"}`},
		{name: "path-less replace, any case",
			ops:  `[{"op":"Replace","value":{"DisplayName":"Eng"}}]`,
			want: `{"displayName":"Eng","externalId":"g-ext"}`},
		{name: "replace and remove externalId",
			ops:  `[{"op":"replace","path":"externalId","value":"x"},{"op":"remove","path":"externalId"}]`,
			want: `{"displayName":"Engineering"}`},
		{name: "add members",
			ops:     `[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2","display":"Two"}]}]`,
			changes: store.MemberChanges{Add: []string{"u1", "u2"}}},
		{name: "add members repeats collapse",
			ops:     `[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u1"}]},{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
			changes: store.MemberChanges{Add: []string{"u1"}}},
		{name: "add members with a single object and client-cased keys",
			ops:     `[{"op":"add","path":"Members","value":{"Value":"u1","Type":"User"}}]`,
			changes: store.MemberChanges{Add: []string{"u1"}}},
		{name: "Entra: Add members with $ref null",
			ops:     `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"}]}]`,
			changes: store.MemberChanges{Add: []string{"u1"}}},
		{name: `remove members[value eq "u1"]`,
			ops:     `[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			changes: store.MemberChanges{Remove: []string{"u1"}}},
		{name: "remove members with or",
			ops:     `[{"op":"remove","path":"members[value eq \"u1\" or value eq \"u2\"]"}]`,
			changes: store.MemberChanges{Remove: []string{"u1", "u2"}}},
		{name: "remove members filter names are case-insensitive",
			ops:     `[{"op":"remove","path":"MEMBERS[VALUE EQ \"u1\"]"}]`,
			changes: store.MemberChanges{Remove: []string{"u1"}}},
		{name: "Entra: Remove members with a value list",
			ops:     `[{"op":"Remove","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`,
			changes: store.MemberChanges{Remove: []string{"u1", "u2"}}},
		{name: "remove members without value removes all",
			ops:     `[{"op":"remove","path":"members"}]`,
			changes: store.MemberChanges{Replace: true}},
		{name: "replace members",
			ops:     `[{"op":"replace","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`,
			changes: store.MemberChanges{Replace: true, Add: []string{"u1", "u2"}}},
		{name: "replace members with an empty list",
			ops:     `[{"op":"replace","path":"members","value":[]}]`,
			changes: store.MemberChanges{Replace: true}},
		{name: "add members with an empty list changes nothing",
			ops: `[{"op":"add","path":"members","value":[]}]`},
		{name: "path-less replace with members",
			ops:     `[{"op":"replace","value":{"displayName":"Eng","members":[{"value":"u1"}]}}]`,
			want:    `{"displayName":"Eng","externalId":"g-ext"}`,
			changes: store.MemberChanges{Replace: true, Add: []string{"u1"}}},
		{name: "path-less add with members",
			ops:     `[{"op":"add","value":{"members":[{"value":"u1"}]}}]`,
			changes: store.MemberChanges{Add: []string{"u1"}}},

		// Folding sequences into one net change.
		{name: "add X then remove X: X not added",
			ops:     `[{"op":"add","path":"members","value":[{"value":"x"}]},{"op":"remove","path":"members[value eq \"x\"]"}]`,
			changes: store.MemberChanges{Remove: []string{"x"}}},
		{name: "remove X then add X: X added",
			ops:     `[{"op":"remove","path":"members[value eq \"x\"]"},{"op":"add","path":"members","value":[{"value":"x"}]}]`,
			changes: store.MemberChanges{Add: []string{"x"}}},
		{name: "remove all then add Y",
			ops:     `[{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"y"}]}]`,
			changes: store.MemberChanges{Replace: true, Add: []string{"y"}}},
		{name: "add Y then remove all",
			ops:     `[{"op":"add","path":"members","value":[{"value":"y"}]},{"op":"remove","path":"members"}]`,
			changes: store.MemberChanges{Replace: true}},
		{name: "remove X then replace",
			ops:     `[{"op":"remove","path":"members[value eq \"x\"]"},{"op":"replace","path":"members","value":[{"value":"y"}]}]`,
			changes: store.MemberChanges{Replace: true, Add: []string{"y"}}},
		{name: "replace then remove one of the new members",
			ops:     `[{"op":"replace","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"remove","path":"members[value eq \"a\"]"}]`,
			changes: store.MemberChanges{Replace: true, Add: []string{"b"}}},
		{name: "remove all then remove one",
			ops:     `[{"op":"remove","path":"members"},{"op":"remove","path":"members","value":[{"value":"a"}]}]`,
			changes: store.MemberChanges{Replace: true}},
		{name: "adds and removes of different members",
			ops:     `[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"remove","path":"members","value":[{"value":"c"},{"value":"a"}]}]`,
			changes: store.MemberChanges{Add: []string{"b"}, Remove: []string{"c", "a"}}},

		// Refusals by the applier.
		{name: "member without value",
			ops:      `[{"op":"add","path":"members","value":[{"display":"Nobody"}]}]`,
			err:      scimerrors.ScimTypeInvalidValue,
			mentions: []string{"members", "value"}},
		{name: "nested group member",
			ops:      `[{"op":"add","path":"members","value":[{"value":"g2","type":"Group"}]}]`,
			err:      scimerrors.ScimTypeInvalidValue,
			mentions: []string{"members"}},
		{name: "members filter on display",
			ops:      `[{"op":"remove","path":"members[display eq \"Bob\"]"}]`,
			err:      scimerrors.ScimTypeInvalidFilter,
			mentions: []string{"members", "value eq"}},
		{name: "members filter with ne",
			ops:      `[{"op":"remove","path":"members[value ne \"u1\"]"}]`,
			err:      scimerrors.ScimTypeInvalidFilter,
			mentions: []string{"members"}},
		{name: "members filter with and",
			ops:      `[{"op":"remove","path":"members[value eq \"u1\" and type eq \"User\"]"}]`,
			err:      scimerrors.ScimTypeInvalidFilter,
			mentions: []string{"members"}},
		{name: "member sub-attribute",
			ops:      `[{"op":"replace","path":"members[value eq \"u1\"].display","value":"X"}]`,
			err:      scimerrors.ScimTypeInvalidPath,
			mentions: []string{"members", "display"}},
		{name: "members.value",
			ops:      `[{"op":"remove","path":"members.value"}]`,
			err:      scimerrors.ScimTypeInvalidPath,
			mentions: []string{"members"}},
		{name: "filtered replace of a member",
			ops:      `[{"op":"replace","path":"members[value eq \"u1\"]","value":{"value":"u2"}}]`,
			err:      scimerrors.ScimTypeInvalidPath,
			mentions: []string{"members", "remove"}},
		{name: "displayName is required",
			ops:      `[{"op":"remove","path":"displayName"}]`,
			err:      scimerrors.ScimTypeInvalidValue,
			mentions: []string{"displayName", "required"}},

		// Refusals by the library.
		{name: "library: members as a bare string", ops: `[{"op":"add","path":"members","value":"u1"}]`, rejected: scimerrors.ScimTypeInvalidValue},
		{name: "library: member value not a string", ops: `[{"op":"add","path":"members","value":[{"value":7}]}]`, rejected: scimerrors.ScimTypeInvalidValue},
		{name: "library: unknown attribute", ops: `[{"op":"replace","path":"owner","value":"x"}]`, rejected: scimerrors.ScimTypeInvalidPath},
		// The filter parser takes at most two comparisons inside brackets.
		{name: "library: three or-ed member ids", ops: `[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\" or value eq \"c\"]"}]`, rejected: scimerrors.ScimTypeInvalidPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stored := tc.attrs
			if stored == "" {
				stored = storedGroup
			}
			want := tc.want
			if want == "" {
				want = stored
			}
			ops, lerr := libraryOps(t, kindGroup, patchBody(tc.ops))
			if tc.rejected != "" {
				if lerr == nil || lerr.ScimType != tc.rejected {
					t.Fatalf("library: got %+v, want a 400 %s", lerr, tc.rejected)
				}
				return
			}
			if lerr != nil {
				t.Fatalf("library rejected the body: %+v", lerr)
			}
			attrs := jsonObject(t, stored)
			got, changes, err := applyGroupPatch(attrs, ops)
			if canonicalJSON(t, attrs) != canonicalJSON(t, jsonObject(t, stored)) {
				t.Errorf("input modified: %v", attrs)
			}
			if tc.err != "" {
				checkScimError(t, err, tc.err, tc.mentions...)
				if got != nil || !reflect.DeepEqual(changes, store.MemberChanges{}) {
					t.Errorf("got %v %+v with an error", got, changes)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if g, w := canonicalJSON(t, got), canonicalJSON(t, jsonObject(t, want)); g != w {
				t.Errorf("attributes:\n got %s\nwant %s", g, w)
			}
			if !reflect.DeepEqual(changes, tc.changes) {
				t.Errorf("member changes:\n got %+v\nwant %+v", changes, tc.changes)
			}
		})
	}
}

// TestPatchIdPFixtures replays every PATCH that Okta and Entra ID really
// sent (testdata/patch/idp, from elimity-com/scim) through the library and
// the applier.
func TestPatchIdPFixtures(t *testing.T) {
	type expectation struct {
		stored  string
		want    string
		changes store.MemberChanges
	}
	expect := map[string]expectation{
		"okta/update_user_patch.json": {
			stored: `{"userName":"test.user@okta.local","name":{"givenName":"Another","familyName":"User"},
				"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
				"active":true}`,
			// The response's attributes.
			want: `{"userName":"test.user@okta.local","name":{"givenName":"Another","familyName":"User"},
				"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
				"active":false}`,
		},
		"okta/update_group_name.json": {
			stored: `{"displayName":"Test SCIMv1"}`,
			want:   `{"displayName":"Test SCIMv2"}`,
		},
		"okta/update_group_membership.json": {
			stored: `{"displayName":"Test SCIMv2"}`,
			want:   `{"displayName":"Test SCIMv2"}`,
			// remove 89bb..., add 23a3..., then replace with both.
			changes: store.MemberChanges{Replace: true, Add: []string{
				"23a35c27-23d3-4c03-b4c5-6443c09e7173", "89bb1940-b905-4575-9e7f-6f887cfb368e"}},
		},
		"azuread/update_user.json": {
			stored: `{"externalId":"6c75de36-30fa-4d2d-a196-6bdcdb6b6539","userName":"Test_User_00aa00aa@testuser.com",
				"name":{"formatted":"givenName updatedFamilyName","familyName":"familyName","givenName":"givenName"},
				"active":true,"emails":[{"value":"Test_User_11bb11bb@testuser.com","type":"work","primary":true}]}`,
			// The response's attributes.
			want: `{"externalId":"6c75de36-30fa-4d2d-a196-6bdcdb6b6539","userName":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com",
				"name":{"formatted":"givenName updatedFamilyName","familyName":"updatedFamilyName","givenName":"givenName"},
				"active":false,"emails":[{"value":"updatedEmail@microsoft.com","type":"work","primary":true}]}`,
		},
		"azuread/update_group.json": {
			stored: `{"externalId":"60f1bb27-2e1e-402d-bcc4-ec999564a194","displayName":"old"}`,
			want:   `{"externalId":"60f1bb27-2e1e-402d-bcc4-ec999564a194","displayName":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}`,
			// Added, then removed in the same request: not added.
			changes: store.MemberChanges{Remove: []string{"f648f8d5ea4e4cd38e9c"}},
		},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "patch", "idp", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := filepath.ToSlash(strings.TrimPrefix(file, filepath.Join("testdata", "patch", "idp")+string(filepath.Separator)))
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx struct {
				Request json.RawMessage
				Method  string
				Path    string
			}
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatal(err)
			}
			exp, ok := expect[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			if fx.Method != http.MethodPatch {
				t.Fatalf("%s is a %s, not a PATCH", name, fx.Method)
			}
			kind := kindUser
			if strings.HasPrefix(fx.Path, "/Groups/") {
				kind = kindGroup
			}
			ops, lerr := libraryOps(t, kind, string(fx.Request))
			if lerr != nil {
				t.Fatalf("library rejected the request: %+v", lerr)
			}
			stored := jsonObject(t, exp.stored)
			var (
				got     map[string]any
				changes store.MemberChanges
			)
			if kind == kindUser {
				got, err = applyUserPatch(stored, ops)
			} else {
				got, changes, err = applyGroupPatch(stored, ops)
			}
			if err != nil {
				t.Fatalf("applier: %v", err)
			}
			if g, w := canonicalJSON(t, got), canonicalJSON(t, jsonObject(t, exp.want)); g != w {
				t.Errorf("attributes:\n got %s\nwant %s", g, w)
			}
			if !reflect.DeepEqual(changes, exp.changes) {
				t.Errorf("member changes:\n got %+v\nwant %+v", changes, exp.changes)
			}
		})
	}
	for name := range expect {
		if !seen[name] {
			t.Errorf("fixture %s is missing", name)
		}
	}
}

// TestPatchAtomic checks that a failing operation fails the whole patch and
// leaves the caller's attributes as they were, even when earlier operations
// changed nested values.
func TestPatchAtomic(t *testing.T) {
	t.Run("user", func(t *testing.T) {
		ops, lerr := libraryOps(t, kindUser, patchBody(`[
			{"op":"replace","path":"displayName","value":"changed"},
			{"op":"replace","path":"name.givenName","value":"changed"},
			{"op":"add","path":"emails","value":[{"value":"new@example.com","primary":true}]},
			{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"changed"},
			{"op":"remove","path":"emails[type eq \"pager\"]"}]`))
		if lerr != nil {
			t.Fatalf("library: %+v", lerr)
		}
		attrs := jsonObject(t, storedUser)
		got, err := applyUserPatch(attrs, ops)
		checkScimError(t, err, scimerrors.ScimTypeNoTarget, "operation 5")
		if got != nil {
			t.Errorf("got attributes with an error: %v", got)
		}
		if g, w := canonicalJSON(t, attrs), canonicalJSON(t, jsonObject(t, storedUser)); g != w {
			t.Errorf("input modified:\n got %s\nwant %s", g, w)
		}
	})
	t.Run("group", func(t *testing.T) {
		ops, lerr := libraryOps(t, kindGroup, patchBody(`[
			{"op":"replace","path":"displayName","value":"changed"},
			{"op":"add","path":"members","value":[{"value":"u1"}]},
			{"op":"add","path":"members","value":[{"display":"no value"}]}]`))
		if lerr != nil {
			t.Fatalf("library: %+v", lerr)
		}
		attrs := jsonObject(t, storedGroup)
		got, changes, err := applyGroupPatch(attrs, ops)
		checkScimError(t, err, scimerrors.ScimTypeInvalidValue, "operation 3", "members")
		if got != nil || !reflect.DeepEqual(changes, store.MemberChanges{}) {
			t.Errorf("got %v %+v with an error", got, changes)
		}
		if g, w := canonicalJSON(t, attrs), canonicalJSON(t, jsonObject(t, storedGroup)); g != w {
			t.Errorf("input modified:\n got %s\nwant %s", g, w)
		}
	})
	t.Run("result shares nothing with the input", func(t *testing.T) {
		ops, lerr := libraryOps(t, kindUser, patchBody(`[{"op":"replace","path":"displayName","value":"x"}]`))
		if lerr != nil {
			t.Fatalf("library: %+v", lerr)
		}
		attrs := jsonObject(t, storedUser)
		got, err := applyUserPatch(attrs, ops)
		if err != nil {
			t.Fatal(err)
		}
		got["name"].(map[string]any)["givenName"] = "mutated"
		got["emails"].([]any)[0].(map[string]any)["value"] = "mutated"
		if g, w := canonicalJSON(t, attrs), canonicalJSON(t, jsonObject(t, storedUser)); g != w {
			t.Errorf("input shares values with the result:\n got %s\nwant %s", g, w)
		}
	})
}

// TestPatchLibraryRejectsRealClients pins the bodies real clients send that
// the library refuses as they are, and shows that normalizePatchBody lets
// them through. If a library upgrade starts accepting one, the first check
// fails and the rewrite may go.
func TestPatchLibraryRejectsRealClients(t *testing.T) {
	cases := []struct {
		name, body string
		rejected   scimerrors.ScimType
		want       string // the user's attributes after the normalised body
	}{
		{name: "Entra manager as a plain id",
			body:     patchBody(`[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr-1"}]`),
			rejected: scimerrors.ScimTypeInvalidValue,
			want:     `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"mgr-1"}}}`},
		{name: "Entra manager cleared with an empty id",
			body:     patchBody(`[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]`),
			rejected: scimerrors.ScimTypeInvalidValue,
			want:     `{"userName":"u"}`},
		{name: "Okta password sync without path",
			body:     patchBody(`[{"op":"replace","value":{"password":"hunter2"}}]`),
			rejected: scimerrors.ScimTypeInvalidValue,
			want:     `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"old"}}}`},
		{name: "password with a path",
			body:     patchBody(`[{"op":"replace","path":"password","value":"hunter2"},{"op":"replace","path":"active","value":false}]`),
			rejected: scimerrors.ScimTypeInvalidPath,
			want:     `{"active":false,"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"old"}}}`},
	}
	const stored = `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"old"}}}`
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, lerr := sendPatch(t, resourceTypes, kindUser, tc.body); lerr == nil || lerr.ScimType != tc.rejected {
				t.Errorf("library without normalisation: got %+v, want a 400 %s", lerr, tc.rejected)
			}
			ops, lerr := libraryOps(t, kindUser, tc.body)
			if lerr != nil {
				t.Fatalf("library after normalisation: %+v", lerr)
			}
			got, err := applyUserPatch(jsonObject(t, stored), ops)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := canonicalJSON(t, got), canonicalJSON(t, jsonObject(t, tc.want)); g != w {
				t.Errorf("attributes:\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestNormalizePatchBody(t *testing.T) {
	same := []string{
		``,
		`not json`,
		`[]`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
		patchBody(`[{"op":"replace","path":"active","value":false}]`),
		patchBody(`[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m"}}]`),
		patchBody(`[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}}]`),
	}
	for _, body := range same {
		if got := string(normalizePatchBody([]byte(body))); got != body {
			t.Errorf("normalizePatchBody(%s) = %s, want it unchanged", body, got)
		}
	}
	rewritten := []struct{ in, want string }{
		{patchBody(`[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]`),
			patchBody(`[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m"}}]`)},
		{patchBody(`[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]`),
			patchBody(`[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`)},
		{patchBody(`[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Manager":""},"displayName":"d"}}]`),
			patchBody(`[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{},"displayName":"d"}},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`)},
		{patchBody(`[{"op":"replace","path":"PASSWORD","value":"p"}]`),
			patchBody(`[{"op":"add","value":{}}]`)},
		{patchBody(`[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"Password":"p","displayName":"d"},"active":1.50}}]`),
			patchBody(`[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"displayName":"d"},"active":1.50}}]`)},
	}
	for _, tc := range rewritten {
		got := normalizePatchBody([]byte(tc.in))
		if g, w := canonicalJSON(t, json.RawMessage(got)), canonicalJSON(t, json.RawMessage(tc.want)); g != w {
			t.Errorf("normalizePatchBody(%s)\n got %s\nwant %s", tc.in, g, w)
		}
		if strings.Contains(string(got), `"p"`) {
			t.Errorf("password kept: %s", got)
		}
	}
}

// TestPatchPasswordStockSchema checks the applier's own handling of password
// for a library configured with RFC 7643's User schema, which defines
// password (Onramp's drops it; see TestPatchLibraryRejectsRealClients).
func TestPatchPasswordStockSchema(t *testing.T) {
	stock := func(users, groups elimity.ResourceHandler) []elimity.ResourceType {
		return []elimity.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
				SchemaExtensions: []elimity.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}, Handler: users},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(), Handler: groups},
		}
	}
	for _, ops := range []string{
		`[{"op":"replace","path":"password","value":"hunter2"},{"op":"replace","path":"displayName","value":"d"}]`,
		`[{"op":"replace","value":{"password":"hunter2","displayName":"d"}}]`,
		`[{"op":"add","path":"password","value":"hunter2"},{"op":"remove","path":"password"},{"op":"replace","path":"displayName","value":"d"}]`,
	} {
		got, lerr := sendPatch(t, stock, kindUser, patchBody(ops))
		if lerr != nil {
			t.Fatalf("library: %+v", lerr)
		}
		attrs, err := applyUserPatch(map[string]any{"userName": "u"}, got)
		if err != nil {
			t.Fatal(err)
		}
		if g := canonicalJSON(t, attrs); g != `{"displayName":"d","userName":"u"}` {
			t.Errorf("%s: got %s", ops, g)
		}
	}
}

// TestPatchValueFilter exercises the in-memory filter evaluator on one
// e-mail value.
func TestPatchValueFilter(t *testing.T) {
	emails, _, ok := catalogFor(kindUser).lookup("emails")
	if !ok {
		t.Fatal("no emails attribute")
	}
	value := map[string]any{"value": "Babs@Example.com", "type": "work", "primary": true}
	cases := []struct {
		filter string
		want   bool
		err    bool
	}{
		{filter: `type eq "work"`, want: true},
		{filter: `type eq "WORK"`, want: true},
		{filter: `TYPE eq "work"`, want: true},
		{filter: `type eq "home"`, want: false},
		{filter: `type ne "home"`, want: true},
		{filter: `display ne "x"`, want: true}, // absent: ne matches
		{filter: `display eq "x"`, want: false},
		{filter: `display pr`, want: false},
		{filter: `value pr`, want: true},
		{filter: `value co "example"`, want: true},
		{filter: `value sw "babs@"`, want: true},
		{filter: `value ew ".COM"`, want: true},
		{filter: `value ew ".org"`, want: false},
		{filter: `value gt "a"`, want: true},
		{filter: `value lt "a"`, want: false},
		{filter: `value ge "babs@example.com"`, want: true},
		{filter: `value le "babs@example.com"`, want: true},
		{filter: `primary eq true`, want: true},
		{filter: `primary eq false`, want: false},
		{filter: `primary ne false`, want: true},
		{filter: `type eq "work" and primary eq true`, want: true},
		{filter: `type eq "home" or primary eq true`, want: true},
		{filter: `type eq "home" and primary eq true`, want: false},
		{filter: `not (type eq "home")`, want: true},
		{filter: `display eq null`, want: true},
		{filter: `type eq "wo\"rk"`, want: false},
		{filter: `primary gt true`, err: true},
		{filter: `shoe eq "x"`, err: true},
	}
	for _, tc := range cases {
		path, err := filter.ParsePath([]byte("emails[" + tc.filter + "]"))
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		got, err := matchValue(emails, path.ValueExpression, value)
		if tc.err {
			if err == nil {
				t.Errorf("%s: got %v, want an error", tc.filter, got)
			} else {
				checkScimError(t, err, scimerrors.ScimTypeInvalidFilter)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.filter, got, err, tc.want)
		}
	}
}
