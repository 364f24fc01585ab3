package storetest

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// enterprise is the enterprise extension's schema URN: a path segment with
// dots and colons.
const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// Condition builders, to keep the tables readable.

func column(name string) store.Field   { return store.Field{Column: name} }
func at(path ...string) store.Field    { return store.Field{Path: path} }
func pr(f store.Field) store.Cond      { return store.Present{Field: f} }
func not(c store.Cond) store.Cond      { return store.Not{Cond: c} }
func and(cs ...store.Cond) store.Cond  { return store.And(cs) }
func or(cs ...store.Cond) store.Cond   { return store.Or(cs) }
func inGroup(id string) store.Cond     { return store.InGroup{GroupID: id} }
func hasMember(id string) store.Cond   { return store.HasMember{UserID: id} }
func exact(c store.Compare) store.Cond { c.CaseExact = true; return c }

func anyOf(where store.Cond, path ...string) store.Cond {
	return store.AnyOf{Path: path, Where: where}
}

// cmp compares f with v, of the kind v's Go type implies, ignoring case.
func cmp(f store.Field, op store.Op, v any) store.Compare {
	kind := store.KindString
	switch v.(type) {
	case bool:
		kind = store.KindBoolean
	case float64:
		kind = store.KindNumber
	case time.Time:
		kind = store.KindDateTime
	}
	return store.Compare{Field: f, Op: op, Kind: kind, Value: v}
}

// filterCase is one filter and the userNames (or group displayNames) it
// must select.
type filterCase struct {
	name   string
	filter store.Cond
	want   []string
}

// userFixtures creates the users the filter tables run against and returns
// them by userName. The first two are created at least one second before
// the others, so that meta timestamps differ.
func userFixtures(t *testing.T, s *store.Store) map[string]*store.User {
	t.Helper()
	users := map[string]*store.User{}
	add := func(a attrs) {
		u := createUser(t, s, a)
		users[u.UserName()] = u
	}
	add(attrs{
		"userName": "bjensen", "displayName": "Barbara Jensen", "externalId": "ext-1", "active": true,
		"title": "Tour Guide", "nickName": `Babs%_\`, "score": 42.5, "flag": true,
		"hired": "2024-01-02T03:04:05Z",
		"name":  attrs{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{
			attrs{"type": "work", "value": "bjensen@example.com", "primary": true},
			attrs{"type": "home", "value": "babs@home.org"},
		},
		"tags": []any{"a", "B"},
		enterprise: attrs{
			"employeeNumber": "701984", "costCenter": "4130",
			"manager": attrs{"value": "m-1"},
			"badges":  []any{attrs{"id": "b1"}, attrs{"id": "b2"}},
		},
	})
	add(attrs{
		"userName": "JSmith", "displayName": "", "externalId": "EXT-2", "active": false,
		"title": "Engineer", "score": 7.0, "flag": false, "hired": "2023-05-06T00:00:00Z",
		"name":     attrs{"givenName": "John"},
		"emails":   []any{attrs{"type": "home", "value": "js@home.org"}},
		"tags":     []any{},
		enterprise: attrs{"employeeNumber": "12"},
	})
	// Wait for the next second: the remaining users are created later.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	add(attrs{
		// Values of the wrong JSON type, and empty ones: never a match, never an error.
		"userName": "alice_100%", "title": "", "score": "42.5", "flag": "true",
		"name": attrs{}, "emails": []any{}, "tags": "a", "nickName": nil,
		enterprise: "not an object",
	})
	// Would match the LIKE patterns above if _ and % were not escaped.
	add(attrs{"userName": "alicex100"})
	add(attrs{"userName": "bob100x"})
	return users
}

func testFilterUsers(t *testing.T, s *store.Store) {
	ctx := t.Context()
	users := userFixtures(t, s)
	eng := createGroup(t, s, "Engineering", users["bjensen"].ID, users["JSmith"].ID)
	empty := createGroup(t, s, "Empty")
	createGroup(t, s, "Sales", users["alice_100%"].ID)

	all := []string{"JSmith", "alice_100%", "alicex100", "bjensen", "bob100x"}
	except := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
	}
	early, late := users["bjensen"].Created, users["alice_100%"].Created
	createdAt := func(match func(time.Time) bool) []string {
		var out []string
		for name, u := range users {
			if match(u.Created) {
				out = append(out, name)
			}
		}
		return out
	}
	un := column("user_name")

	cases := []filterCase{
		{"no filter", nil, all},

		// userName: the indexed column, case-insensitive unless asked.
		{"userName eq, any case", cmp(un, store.OpEq, "BJENSEN"), []string{"bjensen"}},
		{"userName eq, exact case, no match", exact(cmp(un, store.OpEq, "BJENSEN")), nil},
		{"userName eq, exact case", exact(cmp(un, store.OpEq, "JSmith")), []string{"JSmith"}},
		{"userName ne", cmp(un, store.OpNe, "BJensen"), except("bjensen")},
		{"userName co", cmp(un, store.OpCo, "SMI"), []string{"JSmith"}},
		{"userName co, exact, no match", exact(cmp(un, store.OpCo, "smi")), nil},
		{"userName co, exact", exact(cmp(un, store.OpCo, "Smi")), []string{"JSmith"}},
		{"userName sw", cmp(un, store.OpSw, "j"), []string{"JSmith"}},
		{"userName sw, exact, no match", exact(cmp(un, store.OpSw, "j")), nil},
		{"userName sw, exact", exact(cmp(un, store.OpSw, "JS")), []string{"JSmith"}},
		{"userName ew", cmp(un, store.OpEw, "SMITH"), []string{"JSmith"}},
		{"userName ew, exact", exact(cmp(un, store.OpEw, "ith")), []string{"JSmith"}},
		{"userName ew, exact, no match", exact(cmp(un, store.OpEw, "ITH")), nil},
		{"userName co empty", cmp(un, store.OpCo, ""), all},
		{"userName ew empty, exact", exact(cmp(un, store.OpEw, "")), all},
		{"userName sw whole value, exact", exact(cmp(un, store.OpSw, "bob100x")), []string{"bob100x"}},
		{"userName ew longer than the value, exact", exact(cmp(un, store.OpEw, "xbob100x")), nil},

		// LIKE escaping: % and _ match only themselves.
		{"co _", cmp(un, store.OpCo, "_"), []string{"alice_100%"}},
		{"co %", cmp(un, store.OpCo, "%"), []string{"alice_100%"}},
		{"sw alice_", cmp(un, store.OpSw, "alice_"), []string{"alice_100%"}},
		{"co 100%", cmp(un, store.OpCo, "100%"), []string{"alice_100%"}},
		{"ew 0%", cmp(un, store.OpEw, "0%"), []string{"alice_100%"}},
		{"co _1, exact", exact(cmp(un, store.OpCo, "_1")), []string{"alice_100%"}},
		{"sw alice_, exact", exact(cmp(un, store.OpSw, "alice_")), []string{"alice_100%"}},
		{"ew 0%, exact", exact(cmp(un, store.OpEw, "0%")), []string{"alice_100%"}},
		{"co backslash", cmp(at("nickName"), store.OpCo, `\`), []string{"bjensen"}},
		{"ew %_backslash", cmp(at("nickName"), store.OpEw, `S%_\`), []string{"bjensen"}},
		{"co %_backslash, exact", exact(cmp(at("nickName"), store.OpCo, `%_\`)), []string{"bjensen"}},
		{"sw babs%", cmp(at("nickName"), store.OpSw, "babs%"), []string{"bjensen"}},

		// Ordering compares bytes (ASCII case folded unless exact).
		{"userName gt", cmp(un, store.OpGt, "c"), []string{"JSmith"}},
		{"userName lt", cmp(un, store.OpLt, "alicex"), []string{"alice_100%"}},
		{"userName ge", cmp(un, store.OpGe, "bjensen"), []string{"JSmith", "bjensen", "bob100x"}},
		{"userName le", cmp(un, store.OpLe, "ALICEX100"), []string{"alice_100%", "alicex100"}},
		{"userName gt, exact", exact(cmp(un, store.OpGt, "a")), except("JSmith")},

		// Other columns.
		{"id eq", exact(cmp(column("id"), store.OpEq, users["bjensen"].ID)), []string{"bjensen"}},
		{"displayName eq", cmp(column("display_name"), store.OpEq, "barbara jensen"), []string{"bjensen"}},
		{"displayName pr (empty is absent)", pr(column("display_name")), []string{"bjensen"}},
		{"externalId eq, exact", exact(cmp(column("external_id"), store.OpEq, "ext-1")), []string{"bjensen"}},
		{"externalId eq, exact, no match", exact(cmp(column("external_id"), store.OpEq, "EXT-1")), nil},
		{"externalId eq, any case", cmp(column("external_id"), store.OpEq, "EXT-1"), []string{"bjensen"}},
		{"externalId ne includes absent", exact(cmp(column("external_id"), store.OpNe, "ext-1")), except("bjensen")},
		{"externalId pr", pr(column("external_id")), []string{"JSmith", "bjensen"}},
		{"active eq true (absent is active)", cmp(column("active"), store.OpEq, true), except("JSmith")},
		{"active eq false", cmp(column("active"), store.OpEq, false), []string{"JSmith"}},
		{"active ne true", cmp(column("active"), store.OpNe, true), []string{"JSmith"}},
		{"active pr", pr(column("active")), all},

		// Strings in the JSON document.
		{"title eq", cmp(at("title"), store.OpEq, "tour guide"), []string{"bjensen"}},
		{"title eq, exact, no match", exact(cmp(at("title"), store.OpEq, "tour guide")), nil},
		{"title co", cmp(at("title"), store.OpCo, "GUIDE"), []string{"bjensen"}},
		{"title ne includes absent", cmp(at("title"), store.OpNe, "engineer"), except("JSmith")},
		{"title eq empty", cmp(at("title"), store.OpEq, ""), []string{"alice_100%"}},
		{"title pr", pr(at("title")), []string{"JSmith", "bjensen"}},
		{"title gt", cmp(at("title"), store.OpGt, "F"), []string{"bjensen"}},
		{"name.familyName eq", cmp(at("name", "familyName"), store.OpEq, "JENSEN"), []string{"bjensen"}},
		{"name.givenName sw", cmp(at("name", "givenName"), store.OpSw, "j"), []string{"JSmith"}},
		{"name pr (empty object is absent)", pr(at("name")), []string{"JSmith", "bjensen"}},
		{"name.familyName pr", pr(at("name", "familyName")), []string{"bjensen"}},
		{"nickName pr (null is absent)", pr(at("nickName")), []string{"bjensen"}},
		{"missing attribute eq", cmp(at("nothing"), store.OpEq, "x"), nil},
		{"missing attribute ne", cmp(at("nothing"), store.OpNe, "x"), all},
		{"string compared inside a string", cmp(at("title", "deeper"), store.OpEq, "x"), nil},
		{"object compared as a string", cmp(at("name"), store.OpEq, "x"), nil},

		// Numbers: a string that looks like a number is not one.
		{"score gt", cmp(at("score"), store.OpGt, 40.0), []string{"bjensen"}},
		{"score eq", cmp(at("score"), store.OpEq, 7.0), []string{"JSmith"}},
		{"score ge", cmp(at("score"), store.OpGe, 7.0), []string{"JSmith", "bjensen"}},
		{"score lt", cmp(at("score"), store.OpLt, 42.5), []string{"JSmith"}},
		{"score le", cmp(at("score"), store.OpLe, 42.5), []string{"JSmith", "bjensen"}},
		{"score ne includes other types", cmp(at("score"), store.OpNe, 7.0), except("JSmith")},
		{"score eq as a string", cmp(at("score"), store.OpEq, "42.5"), []string{"alice_100%"}},
		{"score eq a number as a string", cmp(at("score"), store.OpEq, "7"), nil},
		{"number compared on an object", cmp(at("name"), store.OpGt, 1.0), nil},
		{"score pr", pr(at("score")), []string{"JSmith", "alice_100%", "bjensen"}},

		// Booleans.
		{"flag eq true", cmp(at("flag"), store.OpEq, true), []string{"bjensen"}},
		{"flag eq false", cmp(at("flag"), store.OpEq, false), []string{"JSmith"}},
		{"flag ne true", cmp(at("flag"), store.OpNe, true), except("bjensen")},
		{"flag eq as a string", cmp(at("flag"), store.OpEq, "true"), []string{"alice_100%"}},
		{"flag pr (false is a value)", pr(at("flag")), []string{"JSmith", "alice_100%", "bjensen"}},

		// dateTime strings in the document.
		{"hired gt", cmp(at("hired"), store.OpGt, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), []string{"bjensen"}},
		{"hired lt", cmp(at("hired"), store.OpLt, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), []string{"JSmith"}},
		{"hired eq", cmp(at("hired"), store.OpEq, time.Date(2023, 5, 6, 0, 0, 0, 0, time.UTC)), []string{"JSmith"}},

		// Multi-valued attributes.
		{"emails pr (empty array is absent)", pr(at("emails")), []string{"JSmith", "bjensen"}},
		{"tags pr", pr(at("tags")), []string{"alice_100%", "bjensen"}},
		{"emails[type eq work and value co @]", anyOf(and(cmp(at("type"), store.OpEq, "work"), cmp(at("value"), store.OpCo, "@")), "emails"), []string{"bjensen"}},
		{"emails[type eq home]", anyOf(cmp(at("type"), store.OpEq, "home"), "emails"), []string{"JSmith", "bjensen"}},
		{"emails[...] needs one element to match all", anyOf(and(cmp(at("type"), store.OpEq, "work"), cmp(at("value"), store.OpCo, "home")), "emails"), nil},
		{"emails[value ew]", anyOf(cmp(at("value"), store.OpEw, ".ORG"), "emails"), []string{"JSmith", "bjensen"}},
		{"emails[not (type eq work)]", anyOf(not(cmp(at("type"), store.OpEq, "work")), "emails"), []string{"JSmith", "bjensen"}},
		{"emails[type eq work or value sw JS]", anyOf(or(cmp(at("type"), store.OpEq, "work"), cmp(at("value"), store.OpSw, "JS")), "emails"), []string{"JSmith", "bjensen"}},
		{"emails[primary eq true]", anyOf(cmp(at("primary"), store.OpEq, true), "emails"), []string{"bjensen"}},
		{"emails[primary ne true]", anyOf(cmp(at("primary"), store.OpNe, true), "emails"), []string{"JSmith", "bjensen"}},
		{"emails[primary pr]", anyOf(pr(at("primary")), "emails"), []string{"bjensen"}},
		{"emails with any element", anyOf(nil, "emails"), []string{"JSmith", "bjensen"}},
		{"not emails[type eq work]", not(anyOf(cmp(at("type"), store.OpEq, "work"), "emails")), except("bjensen")},
		{"tags[value eq b] (simple values)", anyOf(cmp(at(), store.OpEq, "b"), "tags"), []string{"bjensen"}},
		{"tags[value eq b], exact", anyOf(exact(cmp(at(), store.OpEq, "b")), "tags"), nil},
		{"tags[value eq a] (a string is not an array)", anyOf(cmp(at(), store.OpEq, "a"), "tags"), []string{"bjensen"}},
		{"tags[value pr]", anyOf(pr(at()), "tags"), []string{"bjensen"}},
		{"emails[value eq x] on simple values", anyOf(cmp(at("value"), store.OpEq, "a"), "tags"), nil},
		{"elements of a string", anyOf(nil, "title"), nil},

		// Extension attributes: a URN path segment with dots and colons.
		{"enterprise employeeNumber eq", cmp(at(enterprise, "employeeNumber"), store.OpEq, "701984"), []string{"bjensen"}},
		{"enterprise manager.value eq", exact(cmp(at(enterprise, "manager", "value"), store.OpEq, "m-1")), []string{"bjensen"}},
		{"enterprise employeeNumber pr", pr(at(enterprise, "employeeNumber")), []string{"JSmith", "bjensen"}},
		{"enterprise pr", pr(at(enterprise)), []string{"JSmith", "alice_100%", "bjensen"}},
		{"enterprise badges[id eq b2]", anyOf(cmp(at("id"), store.OpEq, "B2"), enterprise, "badges"), []string{"bjensen"}},
		{"path through a string", cmp(at(enterprise, "employeeNumber"), store.OpNe, "701984"), except("bjensen")},

		// meta timestamps.
		{"created lt", cmp(column("created"), store.OpLt, late), createdAt(func(c time.Time) bool { return c.Before(late) })},
		{"created ge", cmp(column("created"), store.OpGe, late), createdAt(func(c time.Time) bool { return !c.Before(late) })},
		{"created eq", cmp(column("created"), store.OpEq, early), createdAt(func(c time.Time) bool { return c.Equal(early) })},
		{"created ne", cmp(column("created"), store.OpNe, early), createdAt(func(c time.Time) bool { return !c.Equal(early) })},
		{"created gt, before all", cmp(column("created"), store.OpGt, early.Add(-time.Second)), all},
		{"created le, before all", cmp(column("created"), store.OpLe, early.Add(-time.Second)), nil},
		{"created gt, fractional second", cmp(column("created"), store.OpGt, late.Add(-500*time.Millisecond)), createdAt(func(c time.Time) bool { return !c.Before(late) })},
		{"created ge, fractional second", cmp(column("created"), store.OpGe, early.Add(500*time.Millisecond)), createdAt(func(c time.Time) bool { return c.After(early) })},
		{"lastModified le, in another zone", cmp(column("last_modified"), store.OpLe, late.In(time.FixedZone("X", -7*3600))), all},
		{"lastModified gt", cmp(column("last_modified"), store.OpGt, late), nil},

		// Logic.
		{"and of nothing", and(), all},
		{"or of nothing", or(), nil},
		{"not (a or b)", not(or(cmp(un, store.OpEq, "bjensen"), cmp(column("active"), store.OpEq, false))), except("bjensen", "JSmith")},
		{"a and not b[...]", and(pr(at("title")), not(anyOf(cmp(at("type"), store.OpEq, "work"), "emails"))), []string{"JSmith"}},
		{"not not", not(not(cmp(un, store.OpEq, "bjensen"))), []string{"bjensen"}},
		{"and of or", and(cmp(un, store.OpSw, "a"), or(cmp(un, store.OpCo, "_"), cmp(un, store.OpCo, "x"))), []string{"alice_100%", "alicex100"}},
		{"not (number gt) includes other types", not(cmp(at("score"), store.OpGt, 10.0)), except("bjensen")},
		{"not (absent eq)", not(cmp(at("title"), store.OpEq, "Engineer")), except("JSmith")},
		{"pointer conditions", &store.Compare{Field: un, Op: store.OpEq, Value: "bjensen"}, []string{"bjensen"}},

		// Membership.
		{"in group", inGroup(eng.ID), []string{"JSmith", "bjensen"}},
		{"not in group", not(inGroup(eng.ID)), except("JSmith", "bjensen")},
		{"in empty group", inGroup(empty.ID), nil},
		{"in unknown group", inGroup("nope"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.ListUsers(ctx, store.ListQuery{Filter: tc.filter, Count: 100})
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			var got []string
			for _, u := range p.Resources {
				got = append(got, u.UserName())
			}
			wantEqual(t, "matches", sorted(got), sorted(tc.want))
			wantEqual(t, "total", p.Total, len(tc.want))
		})
	}
}

func testFilterGroups(t *testing.T, s *store.Store) {
	ctx := t.Context()
	bjensen := createUser(t, s, attrs{"userName": "bjensen"})
	jsmith := createUser(t, s, attrs{"userName": "jsmith"})
	alice := createUser(t, s, attrs{"userName": "alice"})
	eng := &store.Group{
		Attributes: attrs{"displayName": "Engineering", "description": "All engineers", "labels": []any{"tech"}},
		Members:    []store.Member{{Value: bjensen.ID}, {Value: jsmith.ID}},
	}
	wantNoErr(t, "CreateGroup", s.CreateGroup(ctx, eng, event("group.create")))
	sales := createGroup(t, s, "Sales", alice.ID)
	wantNoErr(t, "CreateGroup", s.CreateGroup(ctx, &store.Group{Attributes: attrs{"displayName": "Empty", "externalId": "g-ext"}}, event("group.create")))

	dn := column("display_name")
	cases := []filterCase{
		{"no filter", nil, []string{"Empty", "Engineering", "Sales"}},
		{"displayName eq, any case", cmp(dn, store.OpEq, "ENGINEERING"), []string{"Engineering"}},
		{"displayName sw, exact", exact(cmp(dn, store.OpSw, "S")), []string{"Sales"}},
		{"displayName ne", cmp(dn, store.OpNe, "sales"), []string{"Empty", "Engineering"}},
		{"externalId pr", pr(column("external_id")), []string{"Empty"}},
		{"externalId eq", exact(cmp(column("external_id"), store.OpEq, "g-ext")), []string{"Empty"}},
		{"id eq", exact(cmp(column("id"), store.OpEq, sales.ID)), []string{"Sales"}},
		{"description co", cmp(at("description"), store.OpCo, "ENGINEER"), []string{"Engineering"}},
		{"labels[value eq tech]", anyOf(cmp(at(), store.OpEq, "TECH"), "labels"), []string{"Engineering"}},
		{"has member", hasMember(bjensen.ID), []string{"Engineering"}},
		{"has member alice", hasMember(alice.ID), []string{"Sales"}},
		{"has both members", and(hasMember(bjensen.ID), hasMember(jsmith.ID)), []string{"Engineering"}},
		{"has either member", or(hasMember(alice.ID), hasMember(jsmith.ID)), []string{"Engineering", "Sales"}},
		{"has not member", not(hasMember(bjensen.ID)), []string{"Empty", "Sales"}},
		{"has unknown member", hasMember("nope"), nil},
		{"created ge", cmp(column("created"), store.OpGe, eng.Created), []string{"Empty", "Engineering", "Sales"}},
		{"lastModified lt", cmp(column("last_modified"), store.OpLt, eng.Created), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.ListGroups(ctx, store.ListQuery{Filter: tc.filter, Count: 100}, store.GroupOptions{})
			if err != nil {
				t.Fatalf("ListGroups: %v", err)
			}
			var got []string
			for _, g := range p.Resources {
				got = append(got, g.DisplayName())
			}
			wantEqual(t, "matches", sorted(got), sorted(tc.want))
			wantEqual(t, "total", p.Total, len(tc.want))
		})
	}
}

// testFilterErrors: conditions the SCIM layer must never build are refused
// with an error, never rendered; values no database could hold are
// ErrInvalidValue.
func testFilterErrors(t *testing.T, s *store.Store) {
	ctx := t.Context()
	createUser(t, s, attrs{"userName": "someone"})
	deep := cmp(column("user_name"), store.OpEq, "x")
	var nested store.Cond = deep
	for range 100 {
		nested = not(nested)
	}
	invalid := []struct {
		name   string
		filter store.Cond
	}{
		{"unknown column", cmp(column("password"), store.OpEq, "x")},
		{"column of another table", cmp(column("members"), store.OpEq, "x")},
		{"SQL as a column", cmp(column("user_name) OR (1=1"), store.OpEq, "x")},
		{"column of the wrong kind", cmp(column("active"), store.OpEq, "true")},
		{"column inside a multi-valued attribute", anyOf(cmp(column("user_name"), store.OpEq, "x"), "emails")},
		{"gt on a boolean", cmp(column("active"), store.OpGt, true)},
		{"co on a number", cmp(at("score"), store.OpCo, 1.0)},
		{"co on a dateTime", cmp(column("created"), store.OpCo, time.Now())},
		{"unknown operator", cmp(at("title"), store.Op("like"), "x")},
		{"value of the wrong type", store.Compare{Field: at("score"), Op: store.OpEq, Kind: store.KindNumber, Value: "5"}},
		{"unknown kind", store.Compare{Field: at("score"), Op: store.OpEq, Kind: store.Kind(42), Value: "5"}},
		{"quote in a path", cmp(at(`a"b`), store.OpEq, "x")},
		{"backslash in a path", cmp(at(`a\b`), store.OpEq, "x")},
		{"control character in a path", cmp(at("a\nb"), store.OpEq, "x")},
		{"empty path segment", cmp(at(""), store.OpEq, "x")},
		{"empty path", cmp(at(), store.OpEq, "x")},
		{"has member on users", hasMember("x")},
		{"nil inside and", and(cmp(column("user_name"), store.OpEq, "x"), nil)},
		{"not nil", not(nil)},
		{"nil pointer", (*store.Compare)(nil)},
		{"too deep", nested},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ListUsers(ctx, store.ListQuery{Filter: tc.filter, Count: 10})
			if err == nil {
				t.Fatal("ListUsers accepted the filter")
			}
			if errors.Is(err, store.ErrInvalidValue) {
				t.Fatalf("a programming error reported as a client's: %v", err)
			}
		})
	}
	_, err := s.ListGroups(ctx, store.ListQuery{Filter: inGroup("x"), Count: 10}, store.GroupOptions{})
	if err == nil {
		t.Error("ListGroups accepted an InGroup condition")
	}
	_, err = s.ListGroups(ctx, store.ListQuery{Filter: cmp(column("user_name"), store.OpEq, "x"), Count: 10}, store.GroupOptions{})
	if err == nil {
		t.Error("ListGroups accepted the user_name column")
	}

	for name, f := range map[string]store.Cond{
		"NUL in a value":        cmp(column("user_name"), store.OpEq, "a\x00"),
		"bad UTF-8 in a value":  cmp(at("title"), store.OpCo, "\xff"),
		"NaN":                   cmp(at("score"), store.OpEq, math.NaN()),
		"NUL in a member id":    inGroup("\x00"),
		"NUL inside an element": anyOf(cmp(at("value"), store.OpEq, "\x00"), "emails"),
	} {
		_, err := s.ListUsers(ctx, store.ListQuery{Filter: f, Count: 10})
		wantErr(t, name, err, store.ErrInvalidValue)
	}
	// Error texts carry no SQL.
	_, err = s.ListUsers(ctx, store.ListQuery{Filter: cmp(column("user_name"), store.OpEq, "a\x00"), Count: 10})
	if strings.Contains(err.Error(), "SELECT") || strings.Contains(err.Error(), "lower(") {
		t.Errorf("error %q shows SQL", err)
	}
}

func testPagination(t *testing.T, s *store.Store) {
	ctx := t.Context()
	empty, err := s.ListUsers(ctx, store.ListQuery{Count: 10})
	wantNoErr(t, "ListUsers on an empty store", err)
	if empty.Resources == nil || len(empty.Resources) != 0 || empty.Total != 0 {
		t.Fatalf("empty page: %+v; want Total 0 and a non-nil empty slice", empty)
	}

	var ids []string
	for _, n := range []string{"g", "c", "a", "f", "b", "e", "d"} {
		u := createUser(t, s, attrs{"userName": n, "team": map[bool]string{true: "x", false: "y"}[n < "d"]})
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)

	page := func(q store.ListQuery) (int, []string) {
		t.Helper()
		p, err := s.ListUsers(ctx, q)
		wantNoErr(t, "ListUsers", err)
		if p.Resources == nil {
			t.Fatal("Resources is nil")
		}
		out := []string{}
		for _, u := range p.Resources {
			out = append(out, u.ID)
		}
		return p.Total, out
	}
	total, got := page(store.ListQuery{Count: 0})
	wantEqual(t, "count 0: total only", [2]any{total, got}, [2]any{7, []string{}})
	var all []string
	for start := 1; start <= 7; start += 3 {
		total, got := page(store.ListQuery{StartIndex: start, Count: 3})
		wantEqual(t, "total", total, 7)
		all = append(all, got...)
	}
	wantEqual(t, "pages in id order, each once", all, ids)
	_, got = page(store.ListQuery{StartIndex: 0, Count: 2})
	wantEqual(t, "startIndex 0 means 1", got, ids[:2])
	total, got = page(store.ListQuery{StartIndex: 8, Count: 2})
	wantEqual(t, "past the end", [2]any{total, got}, [2]any{7, []string{}})
	total, got = page(store.ListQuery{StartIndex: 2, Count: 2, Filter: cmp(at("team"), store.OpEq, "x")})
	wantEqual(t, "filtered total", total, 3)
	wantEqual(t, "filtered page size", len(got), 2)

	// Group pages carry members, batched, when asked.
	g1 := createGroup(t, s, "one", ids[0], ids[1])
	g2 := createGroup(t, s, "two", ids[2])
	createGroup(t, s, "three")
	gp, err := s.ListGroups(ctx, store.ListQuery{Count: 10}, store.GroupOptions{WithMembers: true})
	wantNoErr(t, "ListGroups", err)
	wantEqual(t, "group total", gp.Total, 3)
	for _, g := range gp.Resources {
		want := map[string][]string{g1.ID: ids[:2], g2.ID: ids[2:3]}[g.ID]
		wantEqual(t, "members of "+g.DisplayName(), memberValues(g.Members), append([]string{}, want...))
	}
	gp, err = s.ListGroups(ctx, store.ListQuery{Count: 10}, store.GroupOptions{})
	wantNoErr(t, "ListGroups", err)
	for _, g := range gp.Resources {
		if g.Members != nil {
			t.Errorf("members of %s listed without WithMembers", g.DisplayName())
		}
	}
	gp, err = s.ListGroups(ctx, store.ListQuery{Count: 0}, store.GroupOptions{})
	wantNoErr(t, "ListGroups", err)
	if gp.Total != 3 || gp.Resources == nil || len(gp.Resources) != 0 {
		t.Errorf("count 0: %+v", gp)
	}
}

// testFilterCaseFolding: userName and a group's displayName ignore case for
// every script (strings.EqualFold), through their folded keys, under every
// operator; exact comparisons stay exact.
func testFilterCaseFolding(t *testing.T, s *store.Store) {
	ctx := t.Context()
	all := []string{
		"jörg@example.com", "JOERG@example.com", "Émile.Zola", "ΣΟΦΙΑ", "straße",
		"\u212Aelvin", // with a KELVIN SIGN
		"Ä_100%", "ä-100x",
	}
	for _, n := range all {
		createUser(t, s, attrs{"userName": n})
	}
	except := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
	}
	un := column("user_name")
	// Keys in byte order: joerg@ < jörg@ < kelvin < straße < ä-100x < ä_100%
	// < émile.zola < σοφια.
	users := []filterCase{
		{"eq, other case of ö", cmp(un, store.OpEq, "JÖRG@EXAMPLE.COM"), []string{"jörg@example.com"}},
		{"eq, mixed case", cmp(un, store.OpEq, "Jörg@Example.Com"), []string{"jörg@example.com"}},
		{"eq, o is not ö", cmp(un, store.OpEq, "JORG@example.com"), nil},
		{"eq, exact, no match", exact(cmp(un, store.OpEq, "JÖRG@example.com")), nil},
		{"eq, exact", exact(cmp(un, store.OpEq, "jörg@example.com")), []string{"jörg@example.com"}},
		{"ne", cmp(un, store.OpNe, "JÖRG@example.com"), except("jörg@example.com")},
		{"not eq", not(cmp(un, store.OpEq, "JÖRG@example.com")), except("jörg@example.com")},
		{"sw", cmp(un, store.OpSw, "JÖ"), []string{"jörg@example.com"}},
		{"sw, o is not ö", cmp(un, store.OpSw, "jo"), []string{"JOERG@example.com"}},
		{"sw, exact", exact(cmp(un, store.OpSw, "jö")), []string{"jörg@example.com"}},
		{"sw, exact, no match", exact(cmp(un, store.OpSw, "JÖ")), nil},
		{"co", cmp(un, store.OpCo, "ÖRG@"), []string{"jörg@example.com"}},
		{"co, both", cmp(un, store.OpCo, "RG@EXAMPLE"), []string{"JOERG@example.com", "jörg@example.com"}},
		{"co, other letter", cmp(un, store.OpCo, "ÜRG"), nil},
		{"ew", cmp(un, store.OpEw, "ÉMILE.ZOLA"), []string{"Émile.Zola"}},
		{"sw é", cmp(un, store.OpSw, "émile"), []string{"Émile.Zola"}},
		{"sw e is not é", cmp(un, store.OpSw, "emile"), nil},
		{"eq, Greek small sigma", cmp(un, store.OpEq, "σοφια"), []string{"ΣΟΦΙΑ"}},
		{"eq, Greek final sigma", cmp(un, store.OpEq, "ςοφια"), []string{"ΣΟΦΙΑ"}},
		{"co, Greek", cmp(un, store.OpCo, "οφι"), []string{"ΣΟΦΙΑ"}},
		{"eq, k for the Kelvin sign", cmp(un, store.OpEq, "KELVIN"), []string{"\u212Aelvin"}},
		{"sw, k for the Kelvin sign", cmp(un, store.OpSw, "k"), []string{"\u212Aelvin"}},
		{"eq, capital sharp s", cmp(un, store.OpEq, "STRA\u1E9EE"), []string{"straße"}},
		{"eq, ss is not ß", cmp(un, store.OpEq, "STRASSE"), nil},
		{"co _ escaped", cmp(un, store.OpCo, "_"), []string{"Ä_100%"}},
		{"sw ä_ escaped", cmp(un, store.OpSw, "ä_"), []string{"Ä_100%"}},
		{"ew % escaped", cmp(un, store.OpEw, "0%"), []string{"Ä_100%"}},
		{"sw Ä", cmp(un, store.OpSw, "Ä"), []string{"Ä_100%", "ä-100x"}},
		{"lt", cmp(un, store.OpLt, "K"), []string{"JOERG@example.com", "jörg@example.com"}},
		{"ge, Kelvin sign", cmp(un, store.OpGe, "\u212AELVIN"), except("JOERG@example.com", "jörg@example.com")},
		{"gt, ß after ss", cmp(un, store.OpGt, "STRASSE"), except("JOERG@example.com", "jörg@example.com", "\u212Aelvin")},
		{"le", cmp(un, store.OpLe, "ä_100%"), except("Émile.Zola", "ΣΟΦΙΑ")},
		{"pr", pr(un), all},
	}
	for _, tc := range users {
		t.Run("users/"+tc.name, func(t *testing.T) {
			p, err := s.ListUsers(ctx, store.ListQuery{Filter: tc.filter, Count: 100})
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			var got []string
			for _, u := range p.Resources {
				got = append(got, u.UserName())
			}
			wantEqual(t, "matches", sorted(got), sorted(tc.want))
			wantEqual(t, "total", p.Total, len(tc.want))
		})
	}

	for _, n := range []string{"Émile", "Ölfreunde", "ΣΟΦΙΑ", "Engineering"} {
		createGroup(t, s, n)
	}
	dn := column("display_name")
	groups := []filterCase{
		{"eq", cmp(dn, store.OpEq, "émile"), []string{"Émile"}},
		{"eq, upper case", cmp(dn, store.OpEq, "ÉMILE"), []string{"Émile"}},
		{"eq, e is not é", cmp(dn, store.OpEq, "Emile"), nil},
		{"eq, exact, no match", exact(cmp(dn, store.OpEq, "émile")), nil},
		{"ne", cmp(dn, store.OpNe, "ÉMILE"), []string{"Engineering", "ΣΟΦΙΑ", "Ölfreunde"}},
		{"sw", cmp(dn, store.OpSw, "öl"), []string{"Ölfreunde"}},
		{"co", cmp(dn, store.OpCo, "FREUNDE"), []string{"Ölfreunde"}},
		{"ew, Greek", cmp(dn, store.OpEw, "φια"), []string{"ΣΟΦΙΑ"}},
		{"ge", cmp(dn, store.OpGe, "Ö"), []string{"ΣΟΦΙΑ", "Ölfreunde"}},
	}
	for _, tc := range groups {
		t.Run("groups/"+tc.name, func(t *testing.T) {
			p, err := s.ListGroups(ctx, store.ListQuery{Filter: tc.filter, Count: 100}, store.GroupOptions{})
			if err != nil {
				t.Fatalf("ListGroups: %v", err)
			}
			var got []string
			for _, g := range p.Resources {
				got = append(got, g.DisplayName())
			}
			wantEqual(t, "matches", sorted(got), sorted(tc.want))
			wantEqual(t, "total", p.Total, len(tc.want))
		})
	}
}
