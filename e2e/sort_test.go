package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestSort(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		if get(inst.mustGet(t, "/scim/v2/ServiceProviderConfig"), "sort", "supported") != true {
			t.Error("sort.supported is not true")
		}
		p := uniq("srt")
		// userName suffix -> attributes. Created in this order.
		seed := []struct {
			suffix string
			extra  map[string]any
		}{
			{"b", map[string]any{"title": "Beta", "emails": []any{map[string]any{"value": "z@x.example"}, map[string]any{"value": "a@x.example", "primary": true}}}},
			{"A", map[string]any{"title": "alpha", "emails": []any{map[string]any{"value": "m@x.example"}}}},
			{"c", map[string]any{}},
			{"D", map[string]any{"title": "Alpha", enterpriseURN: map[string]any{"employeeNumber": "1"}}},
		}
		for _, s := range seed {
			mustCreate(t, inst, "/scim/v2/Users", userBody(p+"-"+s.suffix, s.extra))
		}
		filter := fmt.Sprintf("userName sw %q", p)
		for _, tc := range []struct {
			sortBy, order string
			want          []string
		}{
			{"userName", "", []string{"A", "b", "c", "D"}},
			{"USERNAME", "descending", []string{"D", "c", "b", "A"}},
			{"title", "ascending", []string{"A", "D", "b", "c"}},
			{"title", "descending", []string{"c", "b", "A", "D"}},
			{"emails", "", []string{"b", "A", "c", "D"}},
			{"emails.value", "descending", []string{"c", "D", "A", "b"}},
			{enterpriseURN + ":employeeNumber", "", []string{"D", "b", "A", "c"}},
			{"meta.created", "", []string{"b", "A", "c", "D"}},
		} {
			q := "sortBy=" + url.QueryEscape(tc.sortBy) + "&sortOrder=" + tc.order + "&" + filterQuery(filter)
			checkSortedList(t, inst, "/scim/v2/Users?"+q, p, tc.want)
			// Pages of a sorted list are its slices.
			checkSortedList(t, inst, "/scim/v2/Users?startIndex=2&count=2&"+q, p, tc.want[1:3])
		}
		for _, tc := range []struct{ query, mentions string }{
			{"sortBy=nope", `nope`},
			{"sortBy=name", "name"},
			{"sortBy=groups", "groups"},
			{"sortBy=userName&sortOrder=sideways", "sideways"},
		} {
			r := inst.do(t, http.MethodGet, "/scim/v2/Users?"+tc.query, nil)
			checkSCIMError(t, r, http.StatusBadRequest, "invalidValue")
			if !strings.Contains(string(r.Body), tc.mentions) {
				t.Errorf("%s: detail should mention %q: %s", r.req, tc.mentions, r)
			}
		}
		g := uniq("SG")
		for _, n := range []string{"b", "a", "C"} {
			mustCreateGroup(t, inst, g+"-"+n)
		}
		m := inst.list(t, "/scim/v2/Groups?sortBy=displayName&sortOrder=descending&excludedAttributes=members&"+filterQuery(fmt.Sprintf("displayName sw %q", g)))
		var got []string
		for _, r := range getList(m, "Resources") {
			got = append(got, strings.TrimPrefix(getStr(r, "displayName"), g+"-"))
		}
		if !slices.Equal(got, []string{"C", "b", "a"}) {
			t.Errorf("groups by displayName descending: %v", got)
		}
	})
}

// checkSortedList GETs path and checks the userName suffixes, in order.
func checkSortedList(t *testing.T, inst *instance, path, prefix string, want []string) {
	t.Helper()
	var got []string
	for _, r := range getList(inst.list(t, path), "Resources") {
		got = append(got, strings.TrimPrefix(getStr(r, "userName"), prefix+"-"))
	}
	if !slices.Equal(got, want) {
		t.Errorf("GET %s: %v, want %v", path, got, want)
	}
}
