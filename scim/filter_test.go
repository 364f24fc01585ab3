package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

const (
	filterTestEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	filterTestCoreUser   = "urn:ietf:params:scim:schemas:core:2.0:User"
)

// Builders for expected conditions.

func ftCol(name string) store.Field { return store.Field{Column: name} }

func ftPath(p ...string) store.Field { return store.Field{Path: p} }

// ftCI compares a case-insensitive string; ftCX a case-exact one.
func ftCI(f store.Field, op store.Op, v string) store.Compare {
	return store.Compare{Field: f, Op: op, Kind: store.KindString, Value: v}
}

func ftCX(f store.Field, op store.Op, v string) store.Compare {
	return store.Compare{Field: f, Op: op, Kind: store.KindString, Value: v, CaseExact: true}
}

func ftBool(f store.Field, op store.Op, v bool) store.Compare {
	return store.Compare{Field: f, Op: op, Kind: store.KindBoolean, Value: v}
}

// ftTime compares a dateTime; v is an RFC 3339 constant of the test.
func ftTime(f store.Field, op store.Op, v string) store.Compare {
	tm, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		panic(err)
	}
	return store.Compare{Field: f, Op: op, Kind: store.KindDateTime, Value: tm.UTC()}
}

func ftAnyOf(path string, where store.Cond) store.AnyOf {
	return store.AnyOf{Path: []string{path}, Where: where}
}

var ftIDPresent = store.Present{Field: ftCol("id")}

type filterTestCase struct {
	name   string
	kind   resourceKind
	filter string
	want   store.Cond
}

// filterCases are valid filters and their translations. The fuzz test
// seeds its corpus from them.
func filterCases() []filterTestCase {
	lastMod := ftCol("last_modified")
	return []filterTestCase{
		// RFC 7644 §3.4.2.2, every example filter, in order.
		{"rfc/userName eq", kindUser, `userName eq "bjensen"`, ftCI(ftCol("user_name"), store.OpEq, "bjensen")},
		{"rfc/name.familyName co", kindUser, `name.familyName co "O'Malley"`,
			ftCI(ftPath("name", "familyName"), store.OpCo, "O'Malley")},
		{"rfc/userName sw", kindUser, `userName sw "J"`, ftCI(ftCol("user_name"), store.OpSw, "J")},
		{"rfc/urn userName sw", kindUser, `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
			ftCI(ftCol("user_name"), store.OpSw, "J")},
		{"rfc/title pr", kindUser, `title pr`, store.Present{Field: ftPath("title")}},
		{"rfc/lastModified gt", kindUser, `meta.lastModified gt "2011-05-13T04:42:34Z"`,
			ftTime(lastMod, store.OpGt, "2011-05-13T04:42:34Z")},
		{"rfc/lastModified ge", kindUser, `meta.lastModified ge "2011-05-13T04:42:34Z"`,
			ftTime(lastMod, store.OpGe, "2011-05-13T04:42:34Z")},
		{"rfc/lastModified lt", kindUser, `meta.lastModified lt "2011-05-13T04:42:34Z"`,
			ftTime(lastMod, store.OpLt, "2011-05-13T04:42:34Z")},
		{"rfc/lastModified le", kindUser, `meta.lastModified le "2011-05-13T04:42:34Z"`,
			ftTime(lastMod, store.OpLe, "2011-05-13T04:42:34Z")},
		{"rfc/pr and eq", kindUser, `title pr and userType eq "Employee"`, store.And{
			store.Present{Field: ftPath("title")},
			ftCI(ftPath("userType"), store.OpEq, "Employee"),
		}},
		{"rfc/pr or eq", kindUser, `title pr or userType eq "Intern"`, store.Or{
			store.Present{Field: ftPath("title")},
			ftCI(ftPath("userType"), store.OpEq, "Intern"),
		}},
		{"rfc/schemas eq extension", kindUser, `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
			store.Present{Field: ftPath(filterTestEnterprise)}},
		{"rfc/and (or) with implied value", kindUser,
			`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, store.And{
				ftCI(ftPath("userType"), store.OpEq, "Employee"),
				store.Or{
					ftAnyOf("emails", ftCI(ftPath("value"), store.OpCo, "example.com")),
					ftAnyOf("emails", ftCI(ftPath("value"), store.OpCo, "example.org")),
				},
			}},
		{"rfc/and not (or)", kindUser,
			`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, store.And{
				ftCI(ftPath("userType"), store.OpNe, "Employee"),
				store.Not{Cond: store.Or{
					ftAnyOf("emails", ftCI(ftPath("value"), store.OpCo, "example.com")),
					ftAnyOf("emails", ftCI(ftPath("value"), store.OpCo, "example.org")),
				}},
			}},
		{"rfc/and (emails.type)", kindUser, `userType eq "Employee" and (emails.type eq "work")`, store.And{
			ftCI(ftPath("userType"), store.OpEq, "Employee"),
			ftAnyOf("emails", ftCI(ftPath("type"), store.OpEq, "work")),
		}},
		{"rfc/and brackets", kindUser, `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, store.And{
			ftCI(ftPath("userType"), store.OpEq, "Employee"),
			ftAnyOf("emails", store.And{
				ftCI(ftPath("type"), store.OpEq, "work"),
				ftCI(ftPath("value"), store.OpCo, "@example.com"),
			}),
		}},
		{"rfc/brackets or brackets", kindUser,
			`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, store.Or{
				ftAnyOf("emails", store.And{
					ftCI(ftPath("type"), store.OpEq, "work"),
					ftCI(ftPath("value"), store.OpCo, "@example.com"),
				}),
				ftAnyOf("ims", store.And{
					ftCI(ftPath("type"), store.OpEq, "xmpp"),
					ftCI(ftPath("value"), store.OpCo, "@foo.com"),
				}),
			}},

		// Okta and Microsoft Entra ID.
		{"okta/userName", kindUser, `userName eq "dade.murphy@example.com"`,
			ftCI(ftCol("user_name"), store.OpEq, "dade.murphy@example.com")},
		{"idp/externalId", kindUser, `externalId eq "00u1a2b3c4"`, ftCX(ftCol("external_id"), store.OpEq, "00u1a2b3c4")},
		{"idp/group externalId", kindGroup, `externalId eq "e-1"`, ftCX(ftCol("external_id"), store.OpEq, "e-1")},
		{"okta/group displayName", kindGroup, `displayName eq "Group"`, ftCI(ftCol("display_name"), store.OpEq, "Group")},
		{"entra/id and members", kindGroup, `id eq "g1" and members[value eq "u1"]`, store.And{
			ftCX(ftCol("id"), store.OpEq, "g1"),
			store.HasMember{UserID: "u1"},
		}},
		{"entra/enterprise employeeNumber", kindUser,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`,
			ftCI(ftPath(filterTestEnterprise, "employeeNumber"), store.OpEq, "701984")},
		{"entra/enterprise manager.value", kindUser,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`,
			ftCI(ftPath(filterTestEnterprise, "manager", "value"), store.OpEq, "m1")},
		{"entra/active string True", kindUser, `active eq "True"`, ftBool(ftCol("active"), store.OpEq, true)},
		{"entra/active string false", kindUser, `active ne "FALSE"`, ftBool(ftCol("active"), store.OpNe, false)},

		// The Microsoft SCIM validator's filters.
		{"ms/DisplayName", kindUser, `DisplayName eq "BobIsAmazing"`, ftCI(ftCol("display_name"), store.OpEq, "BobIsAmazing")},
		{"ms/FamilyName and (Value co or)", kindUser,
			`name.FamilyName eq "Employee" and (emails.Value co "example.com" or emails.Value co "example.org")`, store.And{
				ftCI(ftPath("name", "familyName"), store.OpEq, "Employee"),
				store.Or{
					ftAnyOf("emails", ftCI(ftPath("value"), store.OpCo, "example.com")),
					ftAnyOf("emails", ftCI(ftPath("value"), store.OpCo, "example.org")),
				},
			}},
		{"ms/userName sw", kindUser, `userName sw "O"`, ftCI(ftCol("user_name"), store.OpSw, "O")},
		{"ms/meta.Created gt 7 digits", kindUser, `meta.Created gt "2015-10-10T14:38:21.8617979-07:00"`,
			ftTime(ftCol("created"), store.OpGt, "2015-10-10T21:38:21.8617979Z")},
		{"ms/group DisplayName", kindGroup, `DisplayName eq "Group1DisplayName"`,
			ftCI(ftCol("display_name"), store.OpEq, "Group1DisplayName")},

		// Case-insensitive names, operators and keywords.
		{"case/operators and keywords", kindUser, `USERNAME EQ "x" AND Title PR OR Active Eq TRUE`, store.Or{
			store.And{
				ftCI(ftCol("user_name"), store.OpEq, "x"),
				store.Present{Field: ftPath("title")},
			},
			ftBool(ftCol("active"), store.OpEq, true),
		}},
		{"case/urn", kindUser, `URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department eq "R&D"`,
			ftCI(ftPath(filterTestEnterprise, "department"), store.OpEq, "R&D")},
		{"case/extension without urn", kindUser, `costcenter eq "4130"`,
			ftCI(ftPath(filterTestEnterprise, "costCenter"), store.OpEq, "4130")},

		// Precedence, parentheses, flattening, not.
		{"precedence/and binds tighter", kindUser, `title pr or userType eq "a" and nickName eq "b"`, store.Or{
			store.Present{Field: ftPath("title")},
			store.And{ftCI(ftPath("userType"), store.OpEq, "a"), ftCI(ftPath("nickName"), store.OpEq, "b")},
		}},
		{"precedence/parentheses", kindUser, `(title pr or userType eq "a") and nickName eq "b"`, store.And{
			store.Or{store.Present{Field: ftPath("title")}, ftCI(ftPath("userType"), store.OpEq, "a")},
			ftCI(ftPath("nickName"), store.OpEq, "b"),
		}},
		{"flatten/and chain", kindUser, `title pr and (nickName pr and (locale pr and timezone pr))`, store.And{
			store.Present{Field: ftPath("title")},
			store.Present{Field: ftPath("nickName")},
			store.Present{Field: ftPath("locale")},
			store.Present{Field: ftPath("timezone")},
		}},
		{"flatten/or chain", kindUser, `title pr or nickName pr or locale pr`, store.Or{
			store.Present{Field: ftPath("title")},
			store.Present{Field: ftPath("nickName")},
			store.Present{Field: ftPath("locale")},
		}},
		{"flatten/redundant parentheses", kindUser, `((((title pr))))`, store.Present{Field: ftPath("title")}},
		{"not/simple", kindUser, `not (title pr)`, store.Not{Cond: store.Present{Field: ftPath("title")}}},
		{"not/no space", kindUser, `not(title pr)`, store.Not{Cond: store.Present{Field: ftPath("title")}}},
		{"not/double", kindUser, `not (not (title pr))`, store.Present{Field: ftPath("title")}},
		{"spaces/surrounding and inner", kindUser, "  userName  eq  \"x\"  ", ftCI(ftCol("user_name"), store.OpEq, "x")},
		{"spaces/inside parentheses and brackets", kindUser, `( title pr ) and emails [ type eq "work" ]`, store.And{
			store.Present{Field: ftPath("title")},
			ftAnyOf("emails", ftCI(ftPath("type"), store.OpEq, "work")),
		}},

		// Values.
		{"string/escapes", kindUser, `userName eq "a\"b\\c\/d\te\u00e9\u00C9"`,
			ftCI(ftCol("user_name"), store.OpEq, "a\"b\\c/d\teéÉ")},
		{"string/empty", kindUser, `userName eq ""`, ftCI(ftCol("user_name"), store.OpEq, "")},
		{"string/unicode", kindUser, `displayName co "Zoë 山田"`, ftCI(ftCol("display_name"), store.OpCo, "Zoë 山田")},
		{"string/gt", kindUser, `userName gt "m"`, ftCI(ftCol("user_name"), store.OpGt, "m")},
		{"string/case exact id", kindUser, `id eq "2819c223-7f76-453a-919d-413861904646"`,
			ftCX(ftCol("id"), store.OpEq, "2819c223-7f76-453a-919d-413861904646")},
		{"reference/co", kindUser, `profileUrl co "example.com"`, ftCX(ftPath("profileUrl"), store.OpCo, "example.com")},
		{"reference/photos.value", kindUser, `photos.value sw "https://"`,
			ftAnyOf("photos", ftCX(ftPath("value"), store.OpSw, "https://"))},
		{"boolean/false", kindUser, `active eq false`, ftBool(ftCol("active"), store.OpEq, false)},
		{"boolean/emails.primary", kindUser, `emails[primary eq true]`,
			ftAnyOf("emails", ftBool(ftPath("primary"), store.OpEq, true))},
		{"dateTime/no zone is UTC", kindUser, `meta.created ge "2024-02-29T23:59:59"`,
			ftTime(ftCol("created"), store.OpGe, "2024-02-29T23:59:59Z")},
		{"dateTime/many fraction digits", kindGroup, `meta.lastModified lt "2024-01-01T00:00:00.1234567891234Z"`,
			ftTime(ftCol("last_modified"), store.OpLt, "2024-01-01T00:00:00.123456789Z")},
		{"dateTime/eq", kindGroup, `meta.created eq "2024-01-01T00:00:00+02:00"`,
			ftTime(ftCol("created"), store.OpEq, "2023-12-31T22:00:00Z")},

		// null.
		{"null/eq", kindUser, `title eq null`, store.Not{Cond: store.Present{Field: ftPath("title")}}},
		{"null/ne", kindUser, `title ne null`, store.Present{Field: ftPath("title")}},
		{"null/column", kindUser, `externalId eq null`, store.Not{Cond: store.Present{Field: ftCol("external_id")}}},
		{"null/complex", kindUser, `name eq null`, store.Not{Cond: store.Present{Field: ftPath("name")}}},
		{"null/multi-valued", kindUser, `emails eq null`, store.Not{Cond: ftAnyOf("emails", nil)}},
		{"null/multi-valued sub", kindUser, `emails.value eq null`,
			store.Not{Cond: ftAnyOf("emails", store.Present{Field: ftPath("value")})}},
		{"null/inside brackets", kindUser, `emails[type eq null]`,
			ftAnyOf("emails", store.Not{Cond: store.Present{Field: ftPath("type")}})},

		// pr.
		{"pr/column", kindUser, `externalId pr`, store.Present{Field: ftCol("external_id")}},
		{"pr/complex", kindUser, `name pr`, store.Present{Field: ftPath("name")}},
		{"pr/multi-valued", kindUser, `emails pr`, ftAnyOf("emails", nil)},
		{"pr/multi-valued sub", kindUser, `phoneNumbers.type pr`,
			ftAnyOf("phoneNumbers", store.Present{Field: ftPath("type")})},
		{"pr/extension complex", kindUser, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr`,
			store.Present{Field: ftPath(filterTestEnterprise, "manager")}},
		{"pr/x509Certificates", kindUser, `x509Certificates pr`, ftAnyOf("x509Certificates", nil)},

		// Multi-valued complex attributes.
		{"multi/implied value", kindUser, `emails eq "bjensen@example.com"`,
			ftAnyOf("emails", ftCI(ftPath("value"), store.OpEq, "bjensen@example.com"))},
		{"multi/ne", kindUser, `phoneNumbers.value ne "555"`, ftAnyOf("phoneNumbers", ftCI(ftPath("value"), store.OpNe, "555"))},
		{"multi/addresses", kindUser, `addresses[type eq "work" and postalCode sw "91"]`, ftAnyOf("addresses", store.And{
			ftCI(ftPath("type"), store.OpEq, "work"),
			ftCI(ftPath("postalCode"), store.OpSw, "91"),
		})},
		{"multi/brackets three terms", kindUser, `emails[type eq "work" and value co "@" and primary eq true]`, ftAnyOf("emails", store.And{
			ftCI(ftPath("type"), store.OpEq, "work"),
			ftCI(ftPath("value"), store.OpCo, "@"),
			ftBool(ftPath("primary"), store.OpEq, true),
		})},
		{"multi/brackets or", kindUser, `emails[type eq "work" or type eq "home"]`, ftAnyOf("emails", store.Or{
			ftCI(ftPath("type"), store.OpEq, "work"),
			ftCI(ftPath("type"), store.OpEq, "home"),
		})},
		{"multi/brackets not and parentheses", kindUser, `emails[not (type eq "work") and (value co "a" or value co "b")]`,
			ftAnyOf("emails", store.And{
				store.Not{Cond: ftCI(ftPath("type"), store.OpEq, "work")},
				store.Or{ftCI(ftPath("value"), store.OpCo, "a"), ftCI(ftPath("value"), store.OpCo, "b")},
			})},
		{"multi/brackets case-insensitive", kindUser, `Emails[Type eq "work"]`,
			ftAnyOf("emails", ftCI(ftPath("type"), store.OpEq, "work"))},
		{"multi/brackets with urn", kindUser, `urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]`,
			ftAnyOf("emails", ftCI(ftPath("type"), store.OpEq, "work"))},
		{"multi/two brackets", kindUser, `emails[type eq "work"] and not (ims[value pr])`, store.And{
			ftAnyOf("emails", ftCI(ftPath("type"), store.OpEq, "work")),
			store.Not{Cond: ftAnyOf("ims", store.Present{Field: ftPath("value")})},
		}},
		{"multi/entitlements", kindUser, `entitlements.value eq "admin" or roles[value eq "dev"]`, store.Or{
			ftAnyOf("entitlements", ftCI(ftPath("value"), store.OpEq, "admin")),
			ftAnyOf("roles", ftCI(ftPath("value"), store.OpEq, "dev")),
		}},
		{"multi/x509Certificates.type", kindUser, `x509Certificates.type eq "x"`,
			ftAnyOf("x509Certificates", ftCI(ftPath("type"), store.OpEq, "x"))},

		// Membership.
		{"groups/value eq", kindUser, `groups.value eq "g1"`, store.InGroup{GroupID: "g1"}},
		{"groups/brackets", kindUser, `groups[value eq "g1"]`, store.InGroup{GroupID: "g1"}},
		{"groups/implied value", kindUser, `Groups eq "g1"`, store.InGroup{GroupID: "g1"}},
		{"groups/combined", kindUser, `groups.value eq "g1" and not (groups.value eq "g2")`, store.And{
			store.InGroup{GroupID: "g1"},
			store.Not{Cond: store.InGroup{GroupID: "g2"}},
		}},
		{"members/value eq", kindGroup, `members.value eq "u1"`, store.HasMember{UserID: "u1"}},
		{"members/implied value", kindGroup, `members eq "u1"`, store.HasMember{UserID: "u1"}},
		{"members/case", kindGroup, `Members[Value EQ "u1"]`, store.HasMember{UserID: "u1"}},

		// Answered without reading a resource.
		{"resourceType/User on users", kindUser, `meta.resourceType eq "User"`, ftIDPresent},
		{"resourceType/User on groups", kindGroup, `meta.resourceType eq "User"`, store.Not{Cond: ftIDPresent}},
		{"resourceType/case exact", kindUser, `meta.resourceType eq "user"`, store.Not{Cond: ftIDPresent}},
		{"resourceType/folded", kindUser, `meta.resourceType eq "Group" or userName eq "x"`, ftCI(ftCol("user_name"), store.OpEq, "x")},
		{"resourceType/folded and", kindGroup, `meta.resourceType ne "User" and displayName eq "x"`, ftCI(ftCol("display_name"), store.OpEq, "x")},
		{"resourceType/pr", kindUser, `meta.resourceType pr`, ftIDPresent},
		{"resourceType/sw", kindUser, `meta.resourceType sw "Us"`, ftIDPresent},
		{"meta/pr", kindGroup, `meta pr`, ftIDPresent},
		{"schemas/core", kindUser, `schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`, ftIDPresent},
		{"schemas/core ne", kindUser, `schemas ne "urn:ietf:params:scim:schemas:core:2.0:User"`,
			store.Present{Field: ftPath(filterTestEnterprise)}},
		{"schemas/other", kindUser, `schemas eq "urn:example:other"`, store.Not{Cond: ftIDPresent}},
		{"schemas/group core ne", kindGroup, `schemas ne "urn:ietf:params:scim:schemas:core:2.0:Group"`, store.Not{Cond: ftIDPresent}},
		{"schemas/not folded", kindUser, `not (schemas eq "urn:example:other") and title pr`, store.Present{Field: ftPath("title")}},

		// Injection attempts are values, never SQL.
		{"injection/quote", kindUser, `userName eq "x' OR '1'='1"`, ftCI(ftCol("user_name"), store.OpEq, "x' OR '1'='1")},
		{"injection/escaped quote", kindUser, `userName eq "x\"; DROP TABLE users; --"`,
			ftCI(ftCol("user_name"), store.OpEq, `x"; DROP TABLE users; --`)},
		{"injection/in json path value", kindUser, `title eq "') OR 1=1 --"`, ftCI(ftPath("title"), store.OpEq, "') OR 1=1 --")},
		{"brackets/bracket characters in a string", kindUser, `emails[value eq "a]b[c"] and title eq "[x]"`, store.And{
			ftAnyOf("emails", ftCI(ftPath("value"), store.OpEq, "a]b[c")),
			ftCI(ftPath("title"), store.OpEq, "[x]"),
		}},
		{"brackets/lower-case unicode escape", kindUser, `emails[value eq "\u00e9\u00ea"]`,
			ftAnyOf("emails", ftCI(ftPath("value"), store.OpEq, "éê"))},
		{"injection/in brackets", kindUser, `emails[value eq "a\" or 1=1 --"]`,
			ftAnyOf("emails", ftCI(ftPath("value"), store.OpEq, `a" or 1=1 --`))},
	}
}

func TestParseFilter(t *testing.T) {
	for _, tc := range filterCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFilter(tc.kind, tc.filter)
			if err != nil {
				t.Fatalf("parseFilter(%s, %q): %v", tc.kind, tc.filter, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseFilter(%s, %q)\n got %s\nwant %s\n got %#v", tc.kind, tc.filter, formatCond(got), formatCond(tc.want), got)
			}
			checkFilterCond(t, tc.kind, got)
		})
	}
}

type filterTestErrorCase struct {
	name   string
	kind   resourceKind
	filter string
	detail string // the error's Detail must contain this
}

func filterErrorCases() []filterTestErrorCase {
	long := `userName eq "` + strings.Repeat("x", 10_000) + `"`
	ors := strings.Repeat(`title pr or `, maxFilterTerms) + `title pr`
	deep := strings.Repeat("(", maxFilterDepth+1) + "title pr" + strings.Repeat(")", maxFilterDepth+1)
	return []filterTestErrorCase{
		// Attributes.
		{"unknown attribute", kindUser, `foo eq "x"`, `unknown attribute "foo"`},
		{"unknown attribute in or", kindUser, `userName eq "x" or bar pr`, `unknown attribute "bar"`},
		{"user attribute on groups", kindGroup, `userName eq "x"`, `unknown attribute "userName"`},
		{"members on users", kindUser, `members.value eq "x"`, `unknown attribute "members"`},
		{"unknown schema", kindUser, `urn:example:ext:1.0:User:foo eq "x"`, `unknown schema "urn:example:ext:1.0:User"`},
		{"wrong schema", kindUser, `urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"`, `unknown schema`},
		{"core attribute under extension urn", kindUser,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "x"`, `unknown attribute`},
		{"sub-attribute of simple", kindUser, `userName.first eq "x"`, `"userName" is a string and has no sub-attributes`},
		{"sub-attribute of boolean", kindUser, `active.value eq true`, `"active" is a boolean and has no sub-attributes`},
		{"unknown sub-attribute", kindUser, `name.nickName eq "x"`, `unknown sub-attribute "nickName" of "name"`},
		{"unknown sub-attribute in brackets", kindUser, `emails[foo eq "x"]`, `unknown sub-attribute "foo" of "emails"`},
		{"attribute path in brackets", kindUser, `emails[emails.value eq "x"]`, `inside emails[...] name only sub-attributes`},
		{"brackets on sub-attribute", kindUser, `emails.value[type eq "x"]`, `brackets follow a multi-valued attribute`},
		{"brackets on singular", kindUser, `name[givenName eq "x"]`, `"name" is not a multi-valued complex attribute`},
		{"brackets on simple", kindUser, `userName[value eq "x"]`, `"userName" is not a multi-valued complex attribute`},
		{"complex without sub", kindUser, `name eq "Babs"`, `"name" is complex: name one of its sub-attributes, such as "name.formatted"`},
		{"meta without sub", kindUser, `meta gt "x"`, `such as "meta.created"`},
		{"password", kindUser, `password eq "secret"`, `"password" cannot be filtered`},
		{"password pr", kindUser, `password pr`, `"password" cannot be filtered`},
		{"binary", kindUser, `x509Certificates.value eq "TUlJ"`, `"x509Certificates.value" is binary and cannot be filtered`},
		{"binary implied", kindUser, `x509Certificates eq "TUlJ"`, `is binary and cannot be filtered`},
		{"binary in brackets", kindUser, `x509Certificates[value pr]`, `is binary and cannot be filtered`},
		{"meta.location", kindUser, `meta.location co "x"`, `"meta.location" cannot be filtered`},
		{"meta.version", kindGroup, `meta.version eq "W/\"1\""`, `"meta.version" cannot be filtered`},
		{"column name is not an attribute", kindUser, `user_name eq "x"`, `unknown attribute "user_name"`},

		// Operators and values.
		{"boolean co", kindUser, `active co "t"`, `"active" is boolean: co is not defined for it`},
		{"boolean gt", kindUser, `active gt false`, `"active" is boolean: gt is not defined for it`},
		{"boolean maybe", kindUser, `active eq "maybe"`, `"active": "maybe" is not a boolean`},
		{"boolean number", kindUser, `active eq 1`, `"active": 1 is not a boolean`},
		{"dateTime yesterday", kindUser, `meta.created gt "yesterday"`, `"meta.created": "yesterday" is not a dateTime`},
		{"dateTime number", kindUser, `meta.created gt 20240101`, `"meta.created": 20240101 is not a dateTime`},
		{"dateTime date only", kindUser, `meta.created gt "2024-01-01"`, `is not a dateTime`},
		{"dateTime comma", kindUser, `meta.created gt "2024-01-01T00:00:00,5Z"`, `is not a dateTime`},
		{"dateTime co", kindUser, `meta.lastModified co "2024"`, `"meta.lastModified" is dateTime: co is not defined for it`},
		{"string number", kindUser, `userName eq 42`, `"userName": 42 is not a string`},
		{"string boolean", kindUser, `title eq true`, `"title": true is not a string`},
		{"string null gt", kindUser, `title gt null`, `"title": null can only be compared with eq or ne`},
		{"string NUL", kindUser, `userName eq "a\u0000b"`, `cannot contain the NUL character`},
		{"groups display", kindUser, `groups.display eq "Eng"`, `groups can only be filtered as groups.value eq`},
		{"groups ne", kindUser, `groups.value ne "g1"`, `groups can only be filtered as groups.value eq`},
		{"groups pr", kindUser, `groups pr`, `groups can only be filtered as groups.value eq`},
		{"groups brackets and", kindUser, `groups[value eq "g1" and type eq "direct"]`, `groups can only be filtered`},
		{"groups number", kindUser, `groups.value eq 7`, `"groups.value": 7 is not a string`},
		{"members display", kindGroup, `members[display eq "Babs"]`, `members can only be filtered as members.value eq`},
		{"members co", kindGroup, `members.value co "u"`, `members can only be filtered`},
		{"schemas co", kindUser, `schemas co "enterprise"`, `"schemas" can only be filtered with eq, ne or pr`},
		{"resourceType number", kindUser, `meta.resourceType eq 1`, `"meta.resourceType": 1 is not a string`},

		// Syntax.
		{"empty", kindUser, ``, `filter is empty`},
		{"blank", kindUser, "   ", `filter is empty`},
		{"unbalanced open", kindUser, `(userName eq "x"`, `missing ")" to close the "(" at position 1`},
		{"unbalanced open nested", kindUser, `title pr and ((userName eq "x")`, `missing ")" to close the "(" at position 14`},
		{"unbalanced close", kindUser, `userName eq "x")`, `unexpected ")" at position 16: there is no "(" to close`},
		{"unbalanced bracket", kindUser, `emails[type eq "x"`, `missing "]" to close the "[" at position 7`},
		{"stray bracket", kindUser, `userName eq "x"]`, `unexpected "]" at position 16`},
		{"nested brackets", kindUser, `emails[type[value eq "x"]]`, `brackets cannot be nested`},
		{"empty brackets", kindUser, `emails[]`, `unexpected "]" at position 8`},
		{"sub-attribute after brackets", kindUser, `emails[type eq "work"].value eq "x"`, `only allowed in a PATCH path`},
		{"trailing garbage", kindUser, `userName eq "x" garbage`, `unexpected "garbage" at position 17: expected "and", "or" or the end of the filter`},
		{"trailing and", kindUser, `userName eq "x" and`, `the filter ends too early`},
		{"missing operator", kindUser, `userName`, `the filter ends too early: expected an operator after "userName"`},
		{"unknown operator", kindUser, `userName equals "x"`, `unexpected "equals" at position 10: expected an operator`},
		{"missing value", kindUser, `userName eq`, `the filter ends too early: expected a value after "eq"`},
		{"unquoted value", kindUser, `userName eq bjensen`, `unexpected "bjensen" at position 13: expected a value`},
		{"single quotes", kindUser, `userName eq 'x'`, `unexpected character "'" at position 13; strings must be in double quotes`},
		{"unterminated string", kindUser, `userName eq "x`, `unterminated string starting at position 13`},
		{"bad escape", kindUser, `userName eq "\x41"`, `invalid escape "\x" in a string at position 14`},
		{"bad unicode escape", kindUser, `userName eq "\u12"`, `invalid \u escape`},
		{"control character in string", kindUser, "userName eq \"a\tb\"", `control character '\t' in a string at position 15`},
		{"tab between tokens", kindUser, "userName\teq \"x\"", `unexpected character "\t" at position 9`},
		{"missing space before operator", kindUser, `userName eq"x"`, `expected a space before "\"x\"" at position 12`},
		{"missing space before and", kindUser, `title pr and(userName pr)`, `expected a space before "(" at position 13`},
		{"missing space before or", kindUser, `userName eq "x"or title pr`, `expected a space before "or" at position 16`},
		{"invalid number", kindUser, `userName eq 01`, `invalid number "01" at position 13`},
		{"invalid number 2", kindUser, `userName eq 1.`, `invalid number "1."`},
		{"value first", kindUser, `"x" eq userName`, `unexpected "\"x\"" at position 1: expected an attribute name`},
		{"invalid attribute name", kindUser, `a.b.c eq "x"`, `invalid attribute name "a.b.c" at position 1`},
		{"not without parentheses", kindUser, `not userName eq "x"`, `unexpected "userName" at position 5: expected an operator after "not"`},
		{"semicolon", kindUser, `userName eq "x"; DROP TABLE users`, `unexpected character ";" at position 16`},
		{"function call", kindUser, `lower(userName) eq "x"`, `unexpected "(" at position 6: expected an operator after "lower"`},
		{"invalid UTF-8", kindUser, "userName eq \"\xff\"", `filter is not valid UTF-8`},
		{"non-ASCII outside string", kindUser, `userNäme eq "x"`, `unexpected character "ä" at position 6`},

		// Limits.
		{"10,000 characters", kindUser, long, `filter is longer than 4096 bytes`},
		{"too many comparisons", kindUser, ors, `the filter has more than 200 comparisons`},
		{"too deep", kindUser, deep, `the filter is nested more than 16 levels deep`},
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range filterErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFilter(tc.kind, tc.filter)
			if err == nil {
				t.Fatalf("parseFilter(%s, %.80q) = %s, want an error", tc.kind, tc.filter, formatCond(got))
			}
			detail := requireInvalidFilter(t, err)
			if !strings.Contains(detail, tc.detail) {
				t.Errorf("parseFilter(%s, %.80q) detail\n got %q\nwant it to contain %q", tc.kind, tc.filter, detail, tc.detail)
			}
		})
	}
}

// requireInvalidFilter checks that err is a 400 invalidFilter SCIM error
// value (a pointer would become a 500), with a short detail, and returns the
// detail.
func requireInvalidFilter(t *testing.T, err error) string {
	t.Helper()
	if _, isPtr := err.(*scimerrors.ScimError); isPtr {
		t.Fatalf("error is a *ScimError, want a value: %v", err)
	}
	var se scimerrors.ScimError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not a ScimError", err, err)
	}
	if se.Status != http.StatusBadRequest || se.ScimType != scimerrors.ScimTypeInvalidFilter {
		t.Fatalf("error status %d scimType %q, want 400 invalidFilter (%s)", se.Status, se.ScimType, se.Detail)
	}
	if se.Detail == "" {
		t.Fatal("error has no detail")
	}
	// The detail quotes at most one clipped token, so it stays short
	// whatever the client sent.
	if n := utf8.RuneCountInString(se.Detail); n > 300 {
		t.Fatalf("detail is %d characters long: %q", n, se.Detail)
	}
	return se.Detail
}

func TestParseFilterDetailClipsLongTokens(t *testing.T) {
	long := strings.Repeat("a", 1000)
	for _, f := range []string{
		long + ` eq "x"`,
		`userName eq "x" ` + long,
		`active eq "` + long + `"`,
		`meta.created gt "` + long + `"`,
	} {
		_, err := parseFilter(kindUser, f)
		detail := requireInvalidFilter(t, err)
		if strings.Contains(detail, strings.Repeat("a", maxQuoted+1)) {
			t.Errorf("detail repeats more than %d characters of a token: %q", maxQuoted, detail)
		}
	}
}

// checkFilterCond asserts the invariants every translated condition keeps: only
// the kind's columns, typed values, non-empty paths, flattened and/or, no
// double negation, no constants.
func checkFilterCond(t *testing.T, kind resourceKind, c store.Cond) {
	t.Helper()
	columns := map[string]bool{}
	for _, col := range storeColumns[kind] {
		columns[col] = true
	}
	var walk func(c store.Cond, inElem bool, depth int)
	checkField := func(f store.Field, inElem bool) {
		switch {
		case f.Column != "" && (inElem || !columns[f.Column] || f.Path != nil):
			t.Errorf("bad column field %#v (in element %v)", f, inElem)
		case f.Column == "" && len(f.Path) == 0 && !inElem:
			t.Errorf("empty field %#v", f)
		}
	}
	walk = func(c store.Cond, inElem bool, depth int) {
		if depth > maxCondDepth {
			t.Fatalf("condition deeper than %d", maxCondDepth)
		}
		switch c := c.(type) {
		case store.Compare:
			checkField(c.Field, inElem)
			ok := false
			switch c.Kind {
			case store.KindString:
				s, isStr := c.Value.(string)
				ok = isStr && !strings.ContainsRune(s, 0)
			case store.KindBoolean:
				_, ok = c.Value.(bool)
			case store.KindNumber:
				_, ok = c.Value.(float64)
			case store.KindDateTime:
				_, ok = c.Value.(time.Time)
			}
			if !ok {
				t.Errorf("value %#v does not fit kind %d", c.Value, c.Kind)
			}
			if !filterCompareOps[string(c.Op)] {
				t.Errorf("bad operator %q", c.Op)
			}
			if c.Kind != store.KindString && (c.Op == store.OpCo || c.Op == store.OpSw || c.Op == store.OpEw) {
				t.Errorf("%s on kind %d", c.Op, c.Kind)
			}
		case store.Present:
			checkField(c.Field, inElem)
		case store.And:
			if len(c) < 2 {
				t.Errorf("And of %d", len(c))
			}
			for _, x := range c {
				if _, nested := x.(store.And); nested {
					t.Errorf("And nested in And")
				}
				walk(x, inElem, depth+1)
			}
		case store.Or:
			if len(c) < 2 {
				t.Errorf("Or of %d", len(c))
			}
			for _, x := range c {
				if _, nested := x.(store.Or); nested {
					t.Errorf("Or nested in Or")
				}
				walk(x, inElem, depth+1)
			}
		case store.Not:
			if _, double := c.Cond.(store.Not); double {
				t.Errorf("double negation")
			}
			walk(c.Cond, inElem, depth+1)
		case store.AnyOf:
			if inElem || len(c.Path) == 0 {
				t.Errorf("bad AnyOf %#v", c)
			}
			if c.Where != nil {
				walk(c.Where, true, depth+1)
			}
		case store.HasMember:
			if kind != kindGroup || inElem {
				t.Errorf("HasMember on %s", kind)
			}
		case store.InGroup:
			if kind != kindUser || inElem {
				t.Errorf("InGroup on %s", kind)
			}
		default:
			t.Errorf("unexpected condition %#v", c)
		}
	}
	walk(c, false, 0)
}

func FuzzParseFilter(f *testing.F) {
	for _, tc := range filterCases() {
		f.Add(tc.filter)
	}
	for _, tc := range filterErrorCases() {
		if len(tc.filter) < 300 {
			f.Add(tc.filter)
		}
	}
	f.Fuzz(func(t *testing.T, filter string) {
		for _, kind := range []resourceKind{kindUser, kindGroup} {
			c, err := parseFilter(kind, filter)
			if err != nil {
				requireInvalidFilter(t, err)
				// Our syntax check mirrors the parser's grammar: when the
				// check passes, the parser must too.
				if err == errFilterSyntax {
					t.Fatalf("parseFilter(%s, %q): the syntax check passed but the parser failed", kind, filter)
				}
				continue
			}
			if c == nil {
				t.Fatalf("parseFilter(%s, %q) = nil, nil", kind, filter)
			}
			checkFilterCond(t, kind, c)
			_ = formatCond(c)
		}
	})
}

func TestFilterFormatCond(t *testing.T) {
	c, err := parseFilter(kindUser, `userName eq "x" and (emails[type eq "work"] or emails pr) and not (meta.created gt "2024-01-01T00:00:00Z") and groups.value eq "g"`)
	if err != nil {
		t.Fatal(err)
	}
	want := `(user_name eq "x"/i and ($.emails[type eq "work"/i] or $.emails[*]) and not (created gt 2024-01-01T00:00:00Z) and inGroup("g"))`
	if got := formatCond(c); got != want {
		t.Errorf("formatCond\n got %s\nwant %s", got, want)
	}
}

func TestParseFilterManyComparisons(t *testing.T) {
	var parts []string
	var want store.Or
	for i := range 80 { // 80 UUIDs fill about 3,800 bytes
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		parts = append(parts, `id eq "`+id+`"`)
		want = append(want, ftCX(ftCol("id"), store.OpEq, id))
	}
	f := strings.Join(parts, " or ")
	if len(f) > maxFilterLength {
		t.Fatalf("test filter is %d bytes", len(f))
	}
	got, err := parseFilter(kindUser, f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s", formatCond(got))
	}
}

// The catalog has no decimal or integer attribute yet; check the number
// rules on made-up ones.
func TestFilterCompareNumbers(t *testing.T) {
	dec := &attrDef{Name: "weight", Type: attrTypeDecimal}
	integer := &attrDef{Name: "age", Type: attrTypeInteger}
	f := ftPath("x")
	tests := []struct {
		attr   *attrDef
		op     filter.CompareOperator
		value  any
		want   store.Cond
		detail string
	}{
		{dec, filter.GT, json.Number("1.5"), store.Compare{Field: f, Op: store.OpGt, Kind: store.KindNumber, Value: 1.5}, ""},
		{dec, filter.EQ, json.Number("-2e3"), store.Compare{Field: f, Op: store.OpEq, Kind: store.KindNumber, Value: -2000.0}, ""},
		{integer, filter.LE, json.Number("42"), store.Compare{Field: f, Op: store.OpLe, Kind: store.KindNumber, Value: 42.0}, ""},
		{integer, filter.EQ, json.Number("1.5"), nil, `"age": 1.5 is not an integer`},
		{integer, filter.EQ, json.Number("99999999999999999999"), nil, `"age": 99999999999999999999 is not an integer`},
		{dec, filter.EQ, json.Number("1e999"), nil, `"weight": 1e999 is out of range`},
		{dec, filter.EQ, "1.5", nil, `"weight": "1.5" is not a number`},
		{dec, filter.CO, json.Number("1"), nil, `"weight" is decimal: co is not defined for it`},
		{integer, filter.SW, json.Number("1"), nil, `"age" is integer: sw is not defined for it`},
	}
	for _, tc := range tests {
		got, err := compareCond(f, tc.attr, tc.op, tc.value)
		if tc.detail != "" {
			if detail := requireInvalidFilter(t, err); detail != tc.detail {
				t.Errorf("%s %s %v: detail %q, want %q", tc.attr.Name, tc.op, tc.value, detail, tc.detail)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s %v = %#v, %v; want %#v", tc.attr.Name, tc.op, tc.value, got, err, tc.want)
		}
	}
}

// TestFilterDepthLimits checks that the deepest filters the syntax limit lets
// through stay within maxCondDepth, and so within the store's limit.
func TestFilterDepthLimits(t *testing.T) {
	n := maxFilterDepth
	for name, f := range map[string]string{
		"parentheses": strings.Repeat(`title pr and (nickName pr or (`, n/2) + "locale pr" + strings.Repeat("))", n/2),
		"not":         strings.Repeat(`title pr and not (nickName pr or not (`, n/2) + "locale pr" + strings.Repeat("))", n/2),
		"alternating": strings.Repeat(`title pr or nickName pr and not (`, n) + "locale pr" + strings.Repeat(")", n),
		"brackets":    strings.Repeat(`title pr and not (nickName pr or not (`, n/2-2) + `emails[not (type pr and not (value pr))]` + strings.Repeat("))", n/2-2),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := parseFilter(kindUser, f)
			if err != nil {
				t.Fatal(err)
			}
			if d := condDepth(c); d > maxCondDepth || d < n {
				t.Errorf("depth %d, want between %d and %d", d, n, maxCondDepth)
			}
			checkFilterCond(t, kindUser, c)
		})
	}
}
