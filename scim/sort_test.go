package scim

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

func TestParseSort(t *testing.T) {
	col := func(c string) store.Field { return store.Field{Column: c} }
	path := func(p ...string) store.Field { return store.Field{Path: p} }
	tests := []struct {
		kind   resourceKind
		sortBy string
		order  string
		want   *store.Sort
	}{
		{kindUser, "", "", nil},
		{kindUser, "", "descending", nil},
		{kindUser, "userName", "", &store.Sort{Field: col("user_name"), Kind: store.KindString}},
		{kindUser, "USERNAME", "Descending", &store.Sort{Field: col("user_name"), Kind: store.KindString, Desc: true}},
		{kindUser, userSchemaURN + ":userName", "ascending", &store.Sort{Field: col("user_name"), Kind: store.KindString}},
		{kindUser, "id", "", &store.Sort{Field: col("id"), Kind: store.KindString, CaseExact: true}},
		{kindUser, "externalId", "", &store.Sort{Field: col("external_id"), Kind: store.KindString, CaseExact: true}},
		{kindUser, "meta.lastModified", "", &store.Sort{Field: col("last_modified"), Kind: store.KindDateTime}},
		{kindUser, "active", "", &store.Sort{Field: col("active"), Kind: store.KindBoolean}},
		{kindUser, "name.familyName", "", &store.Sort{Field: path("name", "familyName"), Kind: store.KindString}},
		{kindUser, "title", "", &store.Sort{Field: path("title"), Kind: store.KindString}},
		{kindUser, "employeeNumber", "", &store.Sort{Field: path(enterpriseSchemaURN, "employeeNumber"), Kind: store.KindString}},
		{kindUser, enterpriseSchemaURN + ":manager.value", "", &store.Sort{Field: path(enterpriseSchemaURN, "manager", "value"), Kind: store.KindString}},
		{kindUser, "emails", "", &store.Sort{Field: path("emails"), Element: []string{"value"}, Kind: store.KindString}},
		{kindUser, "Emails.Type", "", &store.Sort{Field: path("emails"), Element: []string{"type"}, Kind: store.KindString}},
		{kindUser, "phoneNumbers.value", "descending", &store.Sort{Field: path("phoneNumbers"), Element: []string{"value"}, Kind: store.KindString, Desc: true}},
		{kindGroup, "displayName", "", &store.Sort{Field: col("display_name"), Kind: store.KindString}},
		{kindGroup, "meta.created", "", &store.Sort{Field: col("created"), Kind: store.KindDateTime}},
	}
	for _, tc := range tests {
		got, err := parseSort(tc.kind, tc.sortBy, tc.order)
		if err != nil {
			t.Errorf("parseSort(%s, %q, %q): %v", tc.kind, tc.sortBy, tc.order, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseSort(%s, %q, %q) = %+v, want %+v", tc.kind, tc.sortBy, tc.order, got, tc.want)
		}
	}
}

func TestParseSortErrors(t *testing.T) {
	tests := []struct {
		kind     resourceKind
		sortBy   string
		order    string
		mentions string
	}{
		{kindUser, "userName", "up", `"up"`},
		{kindUser, "userName", "asc", `"asc"`},
		{kindUser, "nope", "", `"nope"`},
		{kindUser, "name", "", "name.formatted"},
		{kindUser, "name.nope", "", `"nope"`},
		{kindUser, "manager", "", "manager"},
		{kindUser, "groups", "", "groups"},
		{kindUser, "groups.value", "", "groups"},
		{kindUser, "password", "", "password"},
		{kindUser, "x509Certificates", "", "binary"},
		{kindUser, "schemas", "", "schemas"},
		{kindUser, "meta.version", "", "meta.version"},
		{kindUser, "meta", "", "meta"},
		{kindGroup, "members.value", "", "members"},
		{kindGroup, "userName", "", "userName"},
		{kindUser, "urn:x:y:z", "", "urn:x:y"},
	}
	for _, tc := range tests {
		_, err := parseSort(tc.kind, tc.sortBy, tc.order)
		var se scimerrors.ScimError
		if !errors.As(err, &se) || se.Status != 400 || se.ScimType != scimerrors.ScimTypeInvalidValue {
			t.Errorf("parseSort(%s, %q, %q): %v, want a 400 invalidValue", tc.kind, tc.sortBy, tc.order, err)
			continue
		}
		if !strings.Contains(se.Detail, tc.mentions) {
			t.Errorf("parseSort(%s, %q, %q): detail %q should mention %s", tc.kind, tc.sortBy, tc.order, se.Detail, tc.mentions)
		}
	}
}
