package scim

import (
	"reflect"
	"testing"
)

func TestSimpleComparisonMatchesParser(t *testing.T) {
	filters := []string{
		`userName eq "alice@example.com"`,
		`USERNAME EQ "Alice"`,
		`externalId eq "00u1abcd"`,
		`displayName co "Eng"`,
		`name.familyName sw "Li"`,
		`emails.value ew "@example.com"`,
		`emails eq "a@example.com"`,
		`active eq true`,
		`active ne False`,
		`meta.lastModified gt "2026-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
		`userName eq "quote \" backslash \\ unicode \u00e9 \u00E9"`,
		`userName eq ""`,
		`members.$ref eq "x"`,
	}
	for _, f := range filters {
		t.Run(f, func(t *testing.T) {
			toks, norm, err := scanFilter(f)
			if err != nil {
				t.Fatal(err)
			}
			fast, ok := simpleComparison(toks, norm)
			if !ok {
				t.Fatal("not recognised as a simple comparison")
			}
			slow, err := parseFilterAST(norm)
			if err != nil {
				t.Fatalf("parser: %v", err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("fast path %#v\nparser    %#v", fast, slow)
			}
		})
	}
}

func TestSimpleComparisonDeclines(t *testing.T) {
	for _, f := range []string{
		`userName pr`,
		`userName eq "a" and active eq true`,
		`emails[type eq "work"]`,
		`not (userName eq "a")`,
		`(userName eq "a")`,
		`age gt 30`,
		`manager eq null`,
		`userName xx "a"`,
		`9userName eq "a"`,
	} {
		toks, norm, err := scanFilter(f)
		if err != nil {
			continue // rejected before the fast path is asked
		}
		if _, ok := simpleComparison(toks, norm); ok {
			t.Errorf("%q taken by the fast path", f)
		}
	}
}

func BenchmarkParseFilter(b *testing.B) {
	for _, f := range []string{`userName eq "alice@example.com"`, `userName eq "a" or userName eq "b"`} {
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				if _, err := parseFilter(kindUser, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
