package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFilters runs on its own server holding only the users it creates, so
// that every filter's result can be compared with an exact set.
func TestFilters(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		ids := seedFilterUsers(t, inst)
		set := func(names ...string) []string {
			var out []string
			for _, n := range names {
				out = append(out, ids[n])
			}
			return sorted(out...)
		}
		dept := enterpriseURN + ":department"
		// alice was created first: every user was modified at or after her
		// creation, written in UTC and, for the same instant, at +02:00.
		aliceTime, err := time.Parse(time.RFC3339, getStr(inst.mustGet(t, "/scim/v2/Users/"+ids["alice"]), "meta", "lastModified"))
		if err != nil {
			t.Fatalf("alice's meta.lastModified: %v", err)
		}
		since := aliceTime.UTC().Format(time.RFC3339)
		sinceOffset := aliceTime.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)

		for _, tc := range []struct {
			filter string
			want   []string
		}{
			{`userName eq "ALICE.F"`, set("alice")},
			{`userName eq "carol.f"`, set("carol")},
			{`userName ne "alice.f"`, set("bob", "carol", "dave")},
			{`externalId eq "ext-bob"`, set("bob")},
			{`displayName co "Smith"`, set("alice", "carol")},
			{`displayName co "smith"`, set("alice", "carol")},
			{`name.familyName sw "Smi"`, set("alice", "carol", "dave")},
			{`emails[type eq "work" and value co "@example.com"]`, set("alice", "dave")},
			{`emails.value ew "@example.com"`, set("alice", "bob", "carol")},
			{`emails.type eq "home"`, set("alice", "bob", "carol")},
			{`active eq false`, set("bob")},
			{`active eq true`, set("alice", "carol", "dave")},
			{`not (active eq true)`, set("bob")},
			{`meta.lastModified gt "2000-01-01T00:00:00Z"`, set("alice", "bob", "carol", "dave")},
			{`meta.lastModified lt "2000-01-01T00:00:00Z"`, set()},
			{`meta.created ge "2015-10-10T14:38:21-07:00"`, set("alice", "bob", "carol", "dave")},
			{`meta.lastModified ge "` + since + `"`, set("alice", "bob", "carol", "dave")},
			{`meta.lastModified ge "` + sinceOffset + `"`, set("alice", "bob", "carol", "dave")},
			{`meta.created lt "` + since + `"`, set()},
			{dept + ` eq "Eng"`, set("alice", "carol")},
			{dept + ` eq "Sales"`, set("bob")},
			{enterpriseURN + `:employeeNumber eq "4"`, set("dave")},
			{`title pr`, set("alice", "carol")},
			{`not (title pr)`, set("bob", "dave")},
			{`userName eq "bob.f" or userName eq "dave.f"`, set("bob", "dave")},
			{`(displayName co "Smith" or userName eq "bob.f") and active eq true`, set("alice", "carol")},
			{`displayName co "Smith" and (emails.value co "home.org" or title eq "Manager")`, set("alice", "carol")},
			{`not (userName eq "alice.f" or userName eq "bob.f")`, set("carol", "dave")},
			// Attribute names are case-insensitive (RFC 7643 §2.1).
			{`DisplayName co "smith"`, set("alice", "carol")},
			{`name.FamilyName eq "Jones"`, set("bob")},
			{`emails.Value co "corp"`, set("bob")},
			{`USERNAME eq "dave.f"`, set("dave")},
			{`userName EQ "dave.f"`, set("dave")},
		} {
			t.Run(tc.filter, func(t *testing.T) {
				t.Parallel()
				m := inst.list(t, "/scim/v2/Users?"+filterQuery(tc.filter))
				got := sortedIDs(m)
				if !slices.Equal(got, tc.want) {
					t.Errorf("filter %s\n  want %v\n  got  %v", tc.filter, names(ids, tc.want), names(ids, got))
				}
				if n, _ := getNum(m, "totalResults"); n != len(tc.want) {
					t.Errorf("filter %s: totalResults %v, want %d", tc.filter, m["totalResults"], len(tc.want))
				}
			})
		}

		for _, filter := range []string{
			`foo eq "x"`,
			`userName xx "a"`,
			`active eq "maybe"`,
			`active eq 5`,
			`(userName eq "a"`,
			`userName eq "a")`,
			`emails[foo eq "x"]`,
			`emails[type eq "work"`,
			`name.foo eq "x"`,
			`userName eq`,
			`userName eq "a" and`,
			`meta.lastModified gt "not-a-date"`,
			`userName gt 5`,
			enterpriseURN + `:nope eq "x"`,
			`userName eq "a'; DROP TABLE users; --"x`,
			`"userName" eq "a"`,
		} {
			t.Run("bad/"+filter, func(t *testing.T) {
				t.Parallel()
				r := inst.do(t, http.MethodGet, "/scim/v2/Users?"+filterQuery(filter), nil)
				checkSCIMError(t, r, http.StatusBadRequest, "invalidFilter")
			})
		}

		t.Run("POST .search", func(t *testing.T) {
			t.Parallel()
			r := inst.do(t, http.MethodPost, "/scim/v2/Users/.search", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
				"filter":  `userName eq "alice.f"`,
			})
			if r.Status == http.StatusNotImplemented {
				// Not offered (RFC 7644 §3.4.3 makes it optional): a clean refusal.
				checkSCIMError(t, r, http.StatusNotImplemented, "")
				return
			}
			mustStatus(t, r, http.StatusOK)
			if got := sortedIDs(r.JSON(t)); !slices.Equal(got, set("alice")) {
				t.Errorf(".search for alice.f gave %v", names(ids, got))
			}
		})
	})
}

// seedFilterUsers creates four users with distinguishing attributes and
// returns their ids by short name.
func seedFilterUsers(t *testing.T, inst *instance) map[string]string {
	t.Helper()
	users := []struct {
		short string
		body  map[string]any
	}{
		{"alice", map[string]any{
			"schemas": []string{userURN, enterpriseURN}, "userName": "alice.f", "externalId": "ext-alice",
			"name": map[string]any{"givenName": "Alice", "familyName": "Smith"}, "displayName": "Alice Smith",
			"emails": []map[string]any{{"value": "alice@example.com", "type": "work", "primary": true}, {"value": "alice@home.org", "type": "home"}},
			"active": true, "title": "Engineer",
			enterpriseURN: map[string]any{"department": "Eng", "employeeNumber": "1"},
		}},
		{"bob", map[string]any{
			"schemas": []string{userURN, enterpriseURN}, "userName": "bob.f", "externalId": "ext-bob",
			"name": map[string]any{"givenName": "Bob", "familyName": "Jones"}, "displayName": "Bob Jones",
			"emails":      []map[string]any{{"value": "bob@corp.example.org", "type": "work"}, {"value": "bob@example.com", "type": "home"}},
			"active":      false,
			enterpriseURN: map[string]any{"department": "Sales", "employeeNumber": "2"},
		}},
		{"carol", map[string]any{
			"schemas": []string{userURN, enterpriseURN}, "userName": "Carol.F", "externalId": "ext-carol",
			"name": map[string]any{"givenName": "Carol", "familyName": "Smithers"}, "displayName": "Carol Smithers",
			"emails": []map[string]any{{"value": "carol@example.com", "type": "home"}},
			"active": true, "title": "Manager",
			enterpriseURN: map[string]any{"department": "Eng", "employeeNumber": "3"},
		}},
		{"dave", map[string]any{
			"schemas": []string{userURN, enterpriseURN}, "userName": "dave.f",
			"name": map[string]any{"givenName": "Dave", "familyName": "Smith"}, "displayName": "Dave",
			"emails":      []map[string]any{{"value": "dave@example.com.au", "type": "work"}},
			"active":      true,
			enterpriseURN: map[string]any{"employeeNumber": "4"},
		}},
	}
	ids := map[string]string{}
	for _, u := range users {
		ids[u.short] = mustCreate(t, inst, "/scim/v2/Users", u.body)
	}
	return ids
}

// names turns ids back into short names, for readable messages.
func names(ids map[string]string, list []string) string {
	var out []string
	for _, id := range list {
		n := id
		for short, v := range ids {
			if v == id {
				n = short
			}
		}
		out = append(out, n)
	}
	return "[" + strings.Join(out, " ") + "]"
}
