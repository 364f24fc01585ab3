package scim

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/elimity-com/scim/schema"
)

func TestAttributeCatalogLookup(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		kind     resourceKind
		path     string
		wantAttr string // full canonical name of the attribute; "" when not found
		wantSub  string // canonical sub-attribute name, if any
	}{
		{kindUser, "userName", "userName", ""},
		{kindUser, "USERNAME", "userName", ""},
		{kindUser, "DisplayName", "displayName", ""},
		{kindUser, "name.familyName", "name", "familyName"},
		{kindUser, "name.FamilyName", "name", "familyName"},
		{kindUser, "emails.Value", "emails", "value"},
		{kindUser, "emails", "emails", ""},
		{kindUser, "meta.Created", "meta", "created"},
		{kindUser, "meta.lastmodified", "meta", "lastModified"},
		{kindUser, "id", "id", ""},
		{kindUser, "externalId", "externalId", ""},
		{kindUser, "schemas", "schemas", ""},
		{kindUser, "groups.$ref", "groups", "$ref"},
		{kindUser, "x509Certificates.value", "x509Certificates", "value"},
		{kindUser, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "userName", ""},
		{kindUser, "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "name", "givenName"},
		{kindUser, "urn:ietf:params:scim:schemas:core:2.0:User:id", "id", ""},
		{kindUser, ent + ":employeeNumber", ent + ":employeeNumber", ""},
		{kindUser, ent + ":manager.value", ent + ":manager", "value"},
		{kindUser, strings.ToLower(ent) + ":Manager.DisplayName", ent + ":manager", "displayName"},
		{kindUser, "employeeNumber", ent + ":employeeNumber", ""},
		{kindUser, "manager.value", ent + ":manager", "value"},
		{kindGroup, "displayName", "displayName", ""},
		{kindGroup, "members.value", "members", "value"},
		{kindGroup, "Members.$Ref", "members", "$ref"},
		{kindGroup, "meta.created", "meta", "created"},
		{kindGroup, "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "displayName", ""},

		{kindUser, "", "", ""},
		{kindUser, "foo", "", ""},
		{kindUser, "userName.foo", "", ""},
		{kindUser, "name.foo", "", ""},
		{kindUser, "name.familyName.x", "", ""},
		{kindUser, "urn:example:foo:userName", "", ""},
		{kindUser, ent + ":userName", "", ""},
		{kindUser, "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "", ""},
		{kindUser, "members", "", ""},
		{kindGroup, "userName", "", ""},
		{kindGroup, "groups", "", ""},
		{kindGroup, "employeeNumber", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String()+"/"+tc.path, func(t *testing.T) {
			attr, sub, ok := catalogFor(tc.kind).lookup(tc.path)
			if tc.wantAttr == "" {
				if ok {
					t.Fatalf("lookup(%q) = %s, %v, want not found", tc.path, attr.fullName(), sub)
				}
				return
			}
			if !ok {
				t.Fatalf("lookup(%q) not found, want %s", tc.path, tc.wantAttr)
			}
			if attr.fullName() != tc.wantAttr {
				t.Errorf("lookup(%q) attr = %s, want %s", tc.path, attr.fullName(), tc.wantAttr)
			}
			switch {
			case tc.wantSub == "" && sub != nil:
				t.Errorf("lookup(%q) sub = %s, want none", tc.path, sub.Name)
			case tc.wantSub != "" && (sub == nil || sub.Name != tc.wantSub || sub.Parent != attr):
				t.Errorf("lookup(%q) sub = %+v, want %s of %s", tc.path, sub, tc.wantSub, attr.Name)
			}
		})
	}
}

func TestAttributeDefinitions(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	const coreUser = "urn:ietf:params:scim:schemas:core:2.0:User"
	get := func(t *testing.T, kind resourceKind, path string) *attrDef {
		t.Helper()
		attr, sub, ok := catalogFor(kind).lookup(path)
		if !ok {
			t.Fatalf("lookup(%q) failed", path)
		}
		if sub != nil {
			return sub
		}
		return attr
	}
	type want struct {
		Type                  string
		MultiValued           bool
		CaseExact             bool
		Mutability, Returned  string
		Schema, Column        string
		FullName              string
		JSONPath              []string
		SubNames              []string
		Required, IsExtension bool
	}
	tests := []struct {
		kind resourceKind
		path string
		want want
	}{
		{kindUser, "username", want{Type: "string", Mutability: "readWrite", Returned: "default", Schema: coreUser,
			Column: "user_name", FullName: "userName", JSONPath: []string{"userName"}, Required: true}},
		{kindUser, "id", want{Type: "string", CaseExact: true, Mutability: "readOnly", Returned: "always",
			Column: "id", FullName: "id", JSONPath: []string{"id"}, Required: true}},
		{kindUser, "externalId", want{Type: "string", CaseExact: true, Mutability: "readWrite", Returned: "default",
			Column: "external_id", FullName: "externalId", JSONPath: []string{"externalId"}}},
		{kindUser, "active", want{Type: "boolean", Mutability: "readWrite", Returned: "default", Schema: coreUser,
			Column: "active", FullName: "active", JSONPath: []string{"active"}}},
		{kindUser, "displayName", want{Type: "string", Mutability: "readWrite", Returned: "default", Schema: coreUser,
			Column: "display_name", FullName: "displayName", JSONPath: []string{"displayName"}}},
		{kindUser, "title", want{Type: "string", Mutability: "readWrite", Returned: "default", Schema: coreUser,
			FullName: "title", JSONPath: []string{"title"}}},
		{kindUser, "password", want{Type: "string", Mutability: "writeOnly", Returned: "never", Schema: coreUser,
			FullName: "password", JSONPath: []string{"password"}}},
		{kindUser, "meta.created", want{Type: "dateTime", Mutability: "readOnly", Returned: "default",
			Column: "created", FullName: "meta.created", JSONPath: []string{"meta", "created"}}},
		{kindUser, "meta.lastModified", want{Type: "dateTime", Mutability: "readOnly", Returned: "default",
			Column: "last_modified", FullName: "meta.lastModified", JSONPath: []string{"meta", "lastModified"}}},
		{kindUser, "name", want{Type: "complex", Mutability: "readWrite", Returned: "default", Schema: coreUser,
			FullName: "name", JSONPath: []string{"name"},
			SubNames: []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}}},
		{kindUser, "emails", want{Type: "complex", MultiValued: true, Mutability: "readWrite", Returned: "default", Schema: coreUser,
			FullName: "emails", JSONPath: []string{"emails"}, SubNames: []string{"value", "display", "type", "primary"}}},
		{kindUser, "emails.primary", want{Type: "boolean", Mutability: "readWrite", Returned: "default", Schema: coreUser,
			FullName: "emails.primary", JSONPath: []string{"emails", "primary"}}},
		{kindUser, "photos.value", want{Type: "reference", CaseExact: true, Mutability: "readWrite", Returned: "default", Schema: coreUser,
			FullName: "photos.value", JSONPath: []string{"photos", "value"}}},
		{kindUser, "x509Certificates.value", want{Type: "binary", CaseExact: true, Mutability: "readWrite", Returned: "default", Schema: coreUser,
			FullName: "x509Certificates.value", JSONPath: []string{"x509Certificates", "value"}}},
		{kindUser, "groups", want{Type: "complex", MultiValued: true, Mutability: "readOnly", Returned: "default", Schema: coreUser,
			FullName: "groups", JSONPath: []string{"groups"}, SubNames: []string{"value", "$ref", "display", "type"}}},
		{kindUser, "employeeNumber", want{Type: "string", Mutability: "readWrite", Returned: "default", Schema: ent,
			FullName: ent + ":employeeNumber", JSONPath: []string{ent, "employeeNumber"}, IsExtension: true}},
		{kindUser, "manager.value", want{Type: "string", Mutability: "readWrite", Returned: "default", Schema: ent,
			FullName: ent + ":manager.value", JSONPath: []string{ent, "manager", "value"}, IsExtension: true}},
		{kindGroup, "displayName", want{Type: "string", Mutability: "readWrite", Returned: "default",
			Schema: "urn:ietf:params:scim:schemas:core:2.0:Group", Column: "display_name", FullName: "displayName",
			JSONPath: []string{"displayName"}, Required: true}},
		{kindGroup, "members", want{Type: "complex", MultiValued: true, Mutability: "readWrite", Returned: "default",
			Schema: "urn:ietf:params:scim:schemas:core:2.0:Group", FullName: "members", JSONPath: []string{"members"},
			SubNames: []string{"value", "$ref", "type", "display"}}},
		{kindGroup, "meta.created", want{Type: "dateTime", Mutability: "readOnly", Returned: "default",
			Column: "created", FullName: "meta.created", JSONPath: []string{"meta", "created"}}},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String()+"/"+tc.path, func(t *testing.T) {
			a := get(t, tc.kind, tc.path)
			got := want{
				Type: a.Type, MultiValued: a.MultiValued, CaseExact: a.CaseExact,
				Mutability: a.Mutability, Returned: a.Returned, Schema: a.Schema, Column: a.Column,
				FullName: a.fullName(), JSONPath: a.jsonPath(), Required: a.Required, IsExtension: a.isExtension(),
			}
			for _, s := range a.Sub {
				got.SubNames = append(got.SubNames, s.Name)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.path, got, tc.want)
			}
		})
	}
}

// TestAttributeCatalogCoversSchemas checks that the catalog holds every
// attribute and sub-attribute of the schemas the server serves, under its
// canonical name, with its type, and nothing else.
func TestAttributeCatalogCoversSchemas(t *testing.T) {
	for _, tc := range []struct {
		kind    resourceKind
		schemas []schema.Schema
	}{
		{kindUser, []schema.Schema{schema.CoreUserSchema(), schema.ExtensionEnterpriseUser()}},
		{kindGroup, []schema.Schema{schema.CoreGroupSchema()}},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			cat := catalogFor(tc.kind)
			count := 0
			check := func(prefix string, attrs []schema.CoreAttribute) {
				for _, ca := range attrs {
					count++
					attr, _, ok := cat.lookup(prefix + ca.Name())
					if !ok || attr.Name != ca.Name() || attr.Type != ca.AttributeType() || attr.MultiValued != ca.MultiValued() {
						t.Errorf("lookup(%q) = %+v, %v", prefix+ca.Name(), attr, ok)
						continue
					}
					if len(attr.Sub) != len(ca.SubAttributes()) {
						t.Errorf("%s has %d sub-attributes, want %d", attr.Name, len(attr.Sub), len(ca.SubAttributes()))
					}
					for _, cs := range ca.SubAttributes() {
						_, sub, ok := cat.lookup(prefix + ca.Name() + "." + cs.Name())
						if !ok || sub == nil || sub.Name != cs.Name() || sub.Type != cs.AttributeType() || sub.CaseExact != cs.CaseExact() {
							t.Errorf("lookup(%q) = %+v, %v", prefix+ca.Name()+"."+cs.Name(), sub, ok)
						}
					}
				}
			}
			check("", schema.CommonAttributes())
			for _, s := range tc.schemas {
				check(s.ID+":", s.Attributes)
			}
			if len(cat.Attrs) != count {
				t.Errorf("catalog has %d top-level attributes, schemas have %d", len(cat.Attrs), count)
			}
			if cat.Schema != tc.schemas[0].ID {
				t.Errorf("Schema = %q, want %q", cat.Schema, tc.schemas[0].ID)
			}
			if got := len(cat.Extensions); got != len(tc.schemas)-1 {
				t.Errorf("%d extensions, want %d", got, len(tc.schemas)-1)
			}
			var first []string
			for _, a := range cat.Attrs[:4] {
				first = append(first, a.Name)
			}
			if want := []string{"schemas", "id", "externalId", "meta"}; !reflect.DeepEqual(first, want) {
				t.Errorf("first attributes %v, want the common ones %v", first, want)
			}
		})
	}
}

// TestAttributeColumns checks that every store column is reachable and
// that no other attribute claims a column.
func TestAttributeColumns(t *testing.T) {
	for kind, cols := range storeColumns {
		cat := catalogFor(kind)
		claimed := map[string]string{}
		for _, a := range cat.Attrs {
			for _, x := range append([]*attrDef{a}, a.Sub...) {
				if x.Column != "" {
					claimed[x.fullName()] = x.Column
				}
			}
		}
		if !reflect.DeepEqual(claimed, cols) {
			t.Errorf("%s columns\n got %v\nwant %v", kind, claimed, cols)
		}
	}
}

func TestAttributeResolveErrors(t *testing.T) {
	cat := catalogFor(kindUser)
	tests := []struct{ uri, name, sub, want string }{
		{"", "foo", "", `unknown attribute "foo"`},
		{"urn:example:x", "foo", "", `unknown schema "urn:example:x" for User resources`},
		{"urn:ietf:params:scim:schemas:core:2.0:User", "employeeNumber", "", `unknown attribute "urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber"`},
		{"", "userName", "x", `"userName" is a string and has no sub-attributes`},
		{"", "active", "x", `"active" is a boolean and has no sub-attributes`},
		{"", "meta", "created", ``},
		{"", "name", "middle", `unknown sub-attribute "middle" of "name"`},
		{"", "manager", "x", `unknown sub-attribute "x" of "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"`},
		{"", strings.Repeat("x", 500), "", `unknown attribute "` + strings.Repeat("x", maxQuoted) + `"...`},
	}
	for _, tc := range tests {
		_, _, err := cat.resolve(tc.uri, tc.name, tc.sub)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("resolve(%q, %q, %q): %v", tc.uri, tc.name, tc.sub, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("resolve(%q, %.20q, %q) = %v, want %s", tc.uri, tc.name, tc.sub, err, tc.want)
		}
	}
}

func TestAttributeCatalogBuiltOnce(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]*catalog, 8)
	for i := range got {
		wg.Go(func() { got[i] = catalogFor(resourceKind(i % 2)) })
	}
	wg.Wait()
	for i, c := range got {
		if c != catalogFor(resourceKind(i%2)) || c.Kind != resourceKind(i%2) {
			t.Fatalf("catalogFor(%d) returned a different or wrong catalog", i%2)
		}
	}
	if catalogFor(kindUser) == catalogFor(kindGroup) {
		t.Fatal("users and groups share a catalog")
	}
}

func TestAttributeResourceKindString(t *testing.T) {
	for kind, want := range map[resourceKind]string{kindUser: "User", kindGroup: "Group", 7: "resourceKind(7)"} {
		if got := kind.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(kind), got, want)
		}
	}
}
