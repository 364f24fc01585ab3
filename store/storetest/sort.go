package storetest

import (
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// testSortUsers: ListQuery.Sort orders by columns, JSON values and the
// primary (else first) element of a multi-valued attribute, ignoring case
// when asked, with missing values last in ascending order, first in
// descending order, and ties by id.
func testSortUsers(t *testing.T, s *store.Store) {
	ctx := t.Context()
	email := func(v string, primary bool) map[string]any {
		return map[string]any{"value": v, "primary": primary}
	}
	// Created in this order, so ids ascend in this order.
	for _, a := range []attrs{
		{"userName": "bravo", "title": "b", "displayName": "Émile", "active": true, "n": 2.0,
			"emails": []any{email("z@x", false), email("a@x", true)}, "name": map[string]any{"familyName": "Zed"}},
		{"userName": "Alpha", "title": "B", "active": false, "n": 10.0,
			"emails": []any{email("m@x", false)}, "name": map[string]any{"familyName": "alpha"}},
		{"userName": "charlie", "displayName": "emile", "n": "not a number",
			"emails": []any{}, "name": map[string]any{"familyName": "Bee"}},
		{"userName": "ÁNGEL", "title": "a", "active": true, "n": -1.0,
			"emails": []any{email("b@x", false), email("c@x", false)}},
		{"userName": "delta", "title": "A", "emails": "not a list"},
	} {
		createUser(t, s, a)
	}
	asc := func(f store.Field, k store.Kind, exact bool) *store.Sort {
		return &store.Sort{Field: f, Kind: k, CaseExact: exact}
	}
	desc := func(srt *store.Sort) *store.Sort { srt.Desc = true; return srt }
	col := func(c string) store.Field { return store.Field{Column: c} }
	path := func(p ...string) store.Field { return store.Field{Path: p} }
	emails := &store.Sort{Field: path("emails"), Element: []string{"value"}, Kind: store.KindString}

	tests := []struct {
		name string
		sort *store.Sort
		want []string
	}{
		{"none: by id", nil, []string{"bravo", "Alpha", "charlie", "ÁNGEL", "delta"}},
		{"userName ignoring case, Unicode", asc(col("user_name"), store.KindString, false), []string{"Alpha", "bravo", "charlie", "delta", "ÁNGEL"}},
		{"userName exact", asc(col("user_name"), store.KindString, true), []string{"Alpha", "bravo", "charlie", "delta", "ÁNGEL"}},
		{"userName descending", desc(asc(col("user_name"), store.KindString, false)), []string{"ÁNGEL", "delta", "charlie", "bravo", "Alpha"}},
		// title: b, B, -, a, A. Ignoring case, ties keep id order; missing last.
		{"title ignoring case", asc(path("title"), store.KindString, false), []string{"ÁNGEL", "delta", "bravo", "Alpha", "charlie"}},
		{"title exact", asc(path("title"), store.KindString, true), []string{"delta", "Alpha", "ÁNGEL", "bravo", "charlie"}},
		{"title descending: missing first", desc(asc(path("title"), store.KindString, false)), []string{"charlie", "bravo", "Alpha", "ÁNGEL", "delta"}},
		{"displayName column, missing last", asc(col("display_name"), store.KindString, false), []string{"charlie", "bravo", "Alpha", "ÁNGEL", "delta"}},
		{"active", asc(col("active"), store.KindBoolean, true), []string{"Alpha", "bravo", "charlie", "ÁNGEL", "delta"}},
		{"number, wrong types missing", asc(path("n"), store.KindNumber, true), []string{"ÁNGEL", "bravo", "Alpha", "charlie", "delta"}},
		{"number descending", desc(asc(path("n"), store.KindNumber, true)), []string{"charlie", "delta", "Alpha", "bravo", "ÁNGEL"}},
		{"sub-attribute", asc(path("name", "familyName"), store.KindString, false), []string{"Alpha", "charlie", "bravo", "ÁNGEL", "delta"}},
		{"created, then id", asc(col("created"), store.KindDateTime, true), []string{"bravo", "Alpha", "charlie", "ÁNGEL", "delta"}},
		// emails: primary a@x, first m@x, none, first b@x, not a list.
		{"primary or first element", emails, []string{"bravo", "ÁNGEL", "Alpha", "charlie", "delta"}},
	}
	for _, tc := range tests {
		for _, page := range []struct{ start, count int }{{1, 5}, {2, 2}} {
			got, err := s.ListUsers(ctx, store.ListQuery{StartIndex: page.start, Count: page.count, Sort: tc.sort})
			wantNoErr(t, tc.name, err)
			names := []string{}
			for _, u := range got.Resources {
				names = append(names, u.UserName())
			}
			wantEqual(t, tc.name+" total", got.Total, 5)
			wantEqual(t, tc.name, names, tc.want[page.start-1:page.start-1+page.count])
		}
	}
	// With a filter, and on groups.
	got, err := s.ListUsers(ctx, store.ListQuery{Count: 10, Filter: store.Present{Field: path("title")},
		Sort: desc(asc(path("title"), store.KindString, true))})
	wantNoErr(t, "filtered sort", err)
	wantEqual(t, "filtered sort total", got.Total, 4)
	wantEqual(t, "filtered sort first", got.Resources[0].UserName(), "bravo")
}

func testSortGroups(t *testing.T, s *store.Store) {
	ctx := t.Context()
	for _, name := range []string{"beta", "Alpha", "Émile", "gamma"} {
		createGroup(t, s, name)
	}
	for _, tc := range []struct {
		sort store.Sort
		want []string
	}{
		{store.Sort{Field: store.Field{Column: "display_name"}, Kind: store.KindString}, []string{"Alpha", "beta", "gamma", "Émile"}},
		{store.Sort{Field: store.Field{Column: "display_name"}, Kind: store.KindString, CaseExact: true}, []string{"Alpha", "beta", "gamma", "Émile"}},
		{store.Sort{Field: store.Field{Column: "display_name"}, Kind: store.KindString, Desc: true}, []string{"Émile", "gamma", "beta", "Alpha"}},
	} {
		got, err := s.ListGroups(ctx, store.ListQuery{Count: 10, Sort: &tc.sort}, store.GroupOptions{})
		wantNoErr(t, "ListGroups sorted", err)
		names := []string{}
		for _, g := range got.Resources {
			names = append(names, g.DisplayName())
		}
		wantEqual(t, "groups sorted", names, tc.want)
	}
	for _, bad := range []store.Sort{
		{Field: store.Field{Column: "user_name"}, Kind: store.KindString},
		{Field: store.Field{Column: "display_name"}, Kind: store.KindNumber},
		{Field: store.Field{Column: "display_name"}, Element: []string{"value"}, Kind: store.KindString},
		{Field: store.Field{Path: []string{`a"b`}}, Kind: store.KindString},
	} {
		_, err := s.ListGroups(ctx, store.ListQuery{Count: 10, Sort: &bad}, store.GroupOptions{})
		if err == nil {
			t.Errorf("ListGroups with sort %+v: no error", bad)
		}
	}
}
