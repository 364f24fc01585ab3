package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

const searchURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// search is a SearchRequest body with params.
func search(params map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{searchURN}}
	for k, v := range params {
		b[k] = v
	}
	return b
}

func TestSearch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		p := uniq("se")
		var users []string
		for _, n := range []string{"c", "a", "b"} {
			users = append(users, mustCreate(t, inst, "/scim/v2/Users", userBody(p+"-"+n, map[string]any{"externalId": p + "-" + n, "title": "T"})))
		}
		gid := mustCreate(t, inst, "/scim/v2/Groups", map[string]any{
			"schemas": []string{groupURN}, "displayName": p + "-group", "externalId": p + "-g",
			"members": []any{map[string]any{"value": users[0]}},
		})
		filter := fmt.Sprintf("externalId sw %q", p)

		t.Run("Users", func(t *testing.T) {
			r := inst.do(t, http.MethodPost, "/scim/v2/Users/.search", search(map[string]any{
				"filter": filter, "sortBy": "userName", "sortOrder": "descending", "startIndex": 2, "count": 1,
				"attributes": []string{"userName"},
			}))
			mustStatus(t, r, http.StatusOK)
			m := r.JSON(t)
			checkPage(t, m, 3, 1, 2)
			res := getList(m, "Resources")
			if len(res) != 1 || getStr(res[0], "userName") != p+"-b" || get(res[0], "title") != nil || getStr(res[0], "id") == "" {
				t.Errorf("page: %s", mustJSON(res))
			}
		})
		t.Run("Groups without members", func(t *testing.T) {
			r := inst.do(t, http.MethodPost, "/scim/v2/Groups/.search", search(map[string]any{
				"filter": filter, "excludedAttributes": []string{"members"},
			}))
			mustStatus(t, r, http.StatusOK)
			res := getList(r.JSON(t), "Resources")
			if len(res) != 1 || getStr(res[0], "id") != gid || get(res[0], "members") != nil {
				t.Errorf("groups: %s", mustJSON(res))
			}
		})
		t.Run("root", func(t *testing.T) {
			var got []string
			for start := 1; start <= 4; start += 2 {
				r := inst.do(t, http.MethodPost, "/scim/v2/.search", search(map[string]any{"filter": filter, "startIndex": start, "count": 2}))
				mustStatus(t, r, http.StatusOK)
				m := r.JSON(t)
				checkPage(t, m, 4, 2, start)
				for _, res := range getList(m, "Resources") {
					got = append(got, getStr(res, "meta", "resourceType")+":"+getStr(res, "id"))
					if !hasString(get(res, "schemas"), map[string]string{"User": userURN, "Group": groupURN}[getStr(res, "meta", "resourceType")]) {
						t.Errorf("resource without its schema: %s", mustJSON(res))
					}
				}
			}
			want := []string{"User:" + users[0], "User:" + users[1], "User:" + users[2], "Group:" + gid}
			if !slices.Equal(got, want) {
				t.Errorf("root pages: %v, want %v", got, want)
			}
			// Sorted across types, and as a GET.
			m := inst.list(t, "/scim/v2/?sortBy=externalId&sortOrder=descending&"+filterQuery(filter))
			var ext []string
			for _, res := range getList(m, "Resources") {
				ext = append(ext, getStr(res, "externalId"))
			}
			if want := []string{p + "-g", p + "-c", p + "-b", p + "-a"}; !slices.Equal(ext, want) {
				t.Errorf("GET / sorted by externalId descending: %v, want %v", ext, want)
			}
			// A filter only groups understand: users match nothing.
			r := inst.do(t, http.MethodPost, "/scim/v2/.search", search(map[string]any{"filter": fmt.Sprintf("members[value eq %q]", users[0])}))
			mustStatus(t, r, http.StatusOK)
			if got := sortedIDs(r.JSON(t)); !slices.Equal(got, []string{gid}) {
				t.Errorf("members filter across types: %v", got)
			}
		})
		t.Run("bad requests", func(t *testing.T) {
			for _, tc := range []struct {
				path     string
				body     any
				scimType string
			}{
				{"/scim/v2/Users/.search", `{"schemas":["` + searchURN + `"],`, "invalidSyntax"},
				{"/scim/v2/Users/.search", map[string]any{"schemas": []string{listURN}}, "invalidSyntax"},
				{"/scim/v2/Users/.search", search(map[string]any{"count": "ten"}), "invalidValue"},
				{"/scim/v2/Users/.search", search(map[string]any{"sortOrder": "up"}), "invalidValue"},
				{"/scim/v2/Users/.search", search(map[string]any{"sortBy": "nope"}), "invalidValue"},
				{"/scim/v2/Users/.search", search(map[string]any{"filter": "nope eq 1"}), "invalidFilter"},
				{"/scim/v2/.search", search(map[string]any{"filter": "nope eq 1"}), "invalidFilter"},
				{"/scim/v2/.search", search(map[string]any{"sortBy": "title"}), "invalidValue"},
			} {
				checkSCIMError(t, inst.do(t, http.MethodPost, tc.path, tc.body), http.StatusBadRequest, tc.scimType)
			}
		})
	})
}

// checkPage checks a list response's totalResults, itemsPerPage and startIndex.
func checkPage(t *testing.T, m map[string]any, total, items, start int) {
	t.Helper()
	for key, want := range map[string]int{"totalResults": total, "itemsPerPage": items, "startIndex": start} {
		if got, ok := getNum(m, key); !ok || got != want {
			t.Errorf("%s = %v, want %d: %s", key, get(m, key), want, mustJSON(m))
		}
	}
	if n, _ := getNum(m, "itemsPerPage"); n != len(getList(m, "Resources")) {
		t.Errorf("itemsPerPage %d but %d resources", n, len(getList(m, "Resources")))
	}
}
