package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestErrors sends bad requests one at a time to a server of its own and
// checks each gets a 4xx SCIM error, never a 500, and writes nothing: the
// numbers of users and groups, and the existing user's document, are the
// same before and after.
func TestErrors(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		uid := mustCreateUser(t, inst, uniq("existing"))
		gid := mustCreateGroup(t, inst, uniq("Existing Group"), uid)
		missing := "00000000-0000-0000-0000-" + randHex(6)

		const limit = 1 << 20
		big := `{"schemas":["` + userURN + `"],"userName":"big-` + randHex(4) + `","displayName":"` + strings.Repeat("a", limit) + `"}`
		bigPatch := `{"schemas":["` + patchOpURN + `"],"Operations":[{"op":"replace","path":"displayName","value":"` + strings.Repeat("b", limit) + `"}]}`
		badUTF8 := []byte(`{"schemas":["` + userURN + `"],"userName":"bad-utf8-` + randHex(4) + "\xff\xfe\"}")
		validUser := userBody(uniq("valid"), nil)

		for _, tc := range []struct {
			name         string
			method, path string
			body         any
			opts         []reqOpt
			status       int
			scimType     string
		}{
			{"malformed JSON", http.MethodPost, "/scim/v2/Users", `{"userName": "x",`, nil, 400, "invalidSyntax"},
			{"not an object", http.MethodPost, "/scim/v2/Users", `["userName"]`, nil, 400, ""},
			{"empty body", http.MethodPost, "/scim/v2/Users", ``, nil, 400, ""},
			{"missing userName", http.MethodPost, "/scim/v2/Users", map[string]any{"schemas": []string{userURN}, "name": map[string]any{"givenName": "No"}}, nil, 400, ""},
			{"empty userName", http.MethodPost, "/scim/v2/Users", userBody("", nil), nil, 400, ""},
			{"active is a number", http.MethodPost, "/scim/v2/Users", userBody(uniq("typed"), map[string]any{"active": 5}), nil, 400, ""},
			{"emails is a string", http.MethodPost, "/scim/v2/Users", userBody(uniq("typed"), map[string]any{"emails": "x"}), nil, 400, ""},
			{"userName is a number", http.MethodPost, "/scim/v2/Users", map[string]any{"schemas": []string{userURN}, "userName": 5}, nil, 400, ""},
			{"name is a string", http.MethodPost, "/scim/v2/Users", userBody(uniq("typed"), map[string]any{"name": "Ada"}), nil, 400, ""},
			{"group without displayName", http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}}, nil, 400, ""},
			{"group displayName is a number", http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": 5}, nil, 400, ""},
			{"body over 1 MiB", http.MethodPost, "/scim/v2/Users", big, nil, 413, ""},
			{"body over 1 MiB, chunked", http.MethodPost, "/scim/v2/Users", big, []reqOpt{chunked()}, 413, ""},
			{"PATCH body over 1 MiB", http.MethodPatch, "/scim/v2/Users/" + uid, bigPatch, nil, 413, ""},
			{"body not UTF-8", http.MethodPost, "/scim/v2/Users", badUTF8, nil, 400, ""},
			{"unknown endpoint", http.MethodGet, "/scim/v2/Nonexistent", nil, nil, 404, ""},
			{"unknown endpoint POST", http.MethodPost, "/scim/v2/Widgets", validUser, nil, 404, ""},
			{"GET unknown user", http.MethodGet, "/scim/v2/Users/" + missing, nil, nil, 404, ""},
			{"PUT unknown user", http.MethodPut, "/scim/v2/Users/" + missing, validUser, nil, 404, ""},
			{"PATCH unknown user", http.MethodPatch, "/scim/v2/Users/" + missing, patchBody(op("replace", "active", false)), nil, 404, ""},
			{"DELETE unknown user", http.MethodDelete, "/scim/v2/Users/" + missing, nil, nil, 404, ""},
			{"GET unknown group", http.MethodGet, "/scim/v2/Groups/" + missing, nil, nil, 404, ""},
			{"PUT unknown group", http.MethodPut, "/scim/v2/Groups/" + missing, map[string]any{"schemas": []string{groupURN}, "displayName": uniq("x")}, nil, 404, ""},
			{"PATCH unknown group", http.MethodPatch, "/scim/v2/Groups/" + missing, patchBody(op("replace", "displayName", "x")), nil, 404, ""},
			{"DELETE unknown group", http.MethodDelete, "/scim/v2/Groups/" + missing, nil, nil, 404, ""},
			{"PUT with wrong type", http.MethodPut, "/scim/v2/Users/" + uid, userBody(uniq("put"), map[string]any{"active": "maybe"}), nil, 400, ""},
			{"PUT malformed JSON", http.MethodPut, "/scim/v2/Users/" + uid, `{"userName":`, nil, 400, "invalidSyntax"},
			{"PUT without userName", http.MethodPut, "/scim/v2/Users/" + uid, map[string]any{"schemas": []string{userURN}, "displayName": "x"}, nil, 400, ""},
			{"PATCH malformed JSON", http.MethodPatch, "/scim/v2/Users/" + uid, `{"Operations": [`, nil, 400, "invalidSyntax"},
			{"PATCH without Operations", http.MethodPatch, "/scim/v2/Users/" + uid, map[string]any{"schemas": []string{patchOpURN}}, nil, 400, ""},
			{"PATCH unknown op", http.MethodPatch, "/scim/v2/Users/" + uid, patchBody(op("frobnicate", "active", false)), nil, 400, ""},
			{"PATCH wrong type", http.MethodPatch, "/scim/v2/Users/" + uid, patchBody(op("replace", "active", 5)), nil, 400, ""},
			{"PATCH emails to a string", http.MethodPatch, "/scim/v2/Users/" + uid, patchBody(op("replace", "emails", "x")), nil, 400, ""},
			{"PATCH group bad member value", http.MethodPatch, "/scim/v2/Groups/" + gid, patchBody(op("add", "members", []any{map[string]any{"value": 5}})), nil, 400, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := inst.counts(t)
				user := inst.mustGet(t, "/scim/v2/Users/"+uid)
				group := inst.mustGet(t, "/scim/v2/Groups/"+gid)

				r := inst.do(t, tc.method, tc.path, tc.body, tc.opts...)
				checkSCIMError(t, r, tc.status, tc.scimType)
				if r.Header.Get("X-Correlation-ID") == "" {
					t.Errorf("error response without X-Correlation-ID")
				}

				if after := inst.counts(t); after != before {
					t.Errorf("users, groups: %v before, %v after: a refused request wrote", before, after)
				}
				if after := inst.mustGet(t, "/scim/v2/Users/"+uid); !equalJSON(after, user) {
					t.Errorf("a refused request changed user %s:\n  before %s\n  after  %s", uid, mustJSON(user), mustJSON(after))
				}
				if after := inst.mustGet(t, "/scim/v2/Groups/"+gid); !equalJSON(after, group) {
					t.Errorf("a refused request changed group %s:\n  before %s\n  after  %s", gid, mustJSON(group), mustJSON(after))
				}
			})
		}

		// Odd but possible requests (long values are random, so that PostgreSQL
		// cannot compress them below its index row limit): each may be served or refused with a
		// 4xx, but never answered 500, and none may leave a partial write.
		maxFilter := `userName eq "u0"`
		for i := 1; len(maxFilter) < 4000; i++ {
			maxFilter += fmt.Sprintf(` or userName eq "u%d"`, i)
		}
		nul := "nul\u0000byte-" + randHex(4)
		// Member lists as long as the body limit allows: one user named
		// 15,000 times, and 15,000 users that do not exist.
		var sameMember, ghostMembers []map[string]any
		for range 15000 {
			sameMember = append(sameMember, map[string]any{"value": uid})
			ghostMembers = append(ghostMembers, map[string]any{"value": randHex(16)})
		}
		for _, tc := range []struct {
			name         string
			method, path string
			body         any
		}{
			{"group with one member named 15,000 times", http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": uniq("Crowded"), "members": sameMember}},
			{"group with 15,000 unknown members", http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": uniq("Ghosts"), "members": ghostMembers}},
			{"PATCH add one member 15,000 times", http.MethodPatch, "/scim/v2/Groups/" + gid, patchBody(op("add", "members", sameMember))},
			{"PATCH add 15,000 unknown members", http.MethodPatch, "/scim/v2/Groups/" + gid, patchBody(op("add", "members", ghostMembers))},
			{"PATCH remove 15,000 unknown members", http.MethodPatch, "/scim/v2/Groups/" + gid, patchBody(op("remove", "members", ghostMembers))},
			{"PUT group with 15,000 unknown members", http.MethodPut, "/scim/v2/Groups/" + gid, map[string]any{"schemas": []string{groupURN}, "displayName": uniq("Ghosts Put"), "members": ghostMembers}},
			{"startIndex max int64", http.MethodGet, "/scim/v2/Users?startIndex=9223372036854775807&count=10", nil},
			{"startIndex overflows int64", http.MethodGet, "/scim/v2/Users?startIndex=9223372036854775808", nil},
			{"count over int32", http.MethodGet, "/scim/v2/Users?count=2147483648", nil},
			{"count 100000", http.MethodGet, "/scim/v2/Users?count=100000", nil},
			{"filter near the size limit", http.MethodGet, "/scim/v2/Users?" + filterQuery(maxFilter), nil},
			{"filter value with NUL", http.MethodGet, "/scim/v2/Users?" + filterQuery(`userName eq "`+nul+`"`), nil},
			{"filter value with NUL in co", http.MethodGet, "/scim/v2/Users?" + filterQuery(`displayName co "`+nul+`"`), nil},
			{"filter not UTF-8", http.MethodGet, "/scim/v2/Users?filter=userName%20eq%20%22%FF%FE%22", nil},
			{"filter with emoji", http.MethodGet, "/scim/v2/Users?" + filterQuery(`userName eq "🙂"`), nil},
			{"attributes unknown", http.MethodGet, "/scim/v2/Users?attributes=nonexistent", nil},
			{"excludedAttributes id", http.MethodGet, "/scim/v2/Users?excludedAttributes=id", nil},
			{"sortBy userName descending", http.MethodGet, "/scim/v2/Users?sortBy=userName&sortOrder=descending", nil},
			{"sortBy unknown", http.MethodGet, "/scim/v2/Users?sortBy=nonexistent", nil},
			{"userName with NUL", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + userURN + `"],"userName":"` + nul + `"}`},
			{"displayName with NUL", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + userURN + `"],"userName":"nul-dn-` + randHex(4) + `","displayName":"a\u0000b"}`},
			{"group displayName with NUL", http.MethodPost, "/scim/v2/Groups", `{"schemas":["` + groupURN + `"],"displayName":"` + nul + `"}`},
			{"lone surrogate", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + userURN + `"],"userName":"sur-\ud800-` + randHex(4) + `"}`},
			{"userName of 3,000 characters", http.MethodPost, "/scim/v2/Users", userBody("long-"+randHex(1500), nil)},
			{"userName of 10,000 characters", http.MethodPost, "/scim/v2/Users", userBody("long-"+randHex(5000), nil)},
			{"externalId of 10,000 characters", http.MethodPost, "/scim/v2/Users", userBody(uniq("longext"), map[string]any{"externalId": randHex(5000)})},
			{"displayName of 10,000 characters", http.MethodPost, "/scim/v2/Users", userBody(uniq("longdn"), map[string]any{"displayName": randHex(5000)})},
			{"group displayName of 10,000 characters", http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": randHex(5000)}},
			{"group externalId of 10,000 characters", http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": uniq("longgext"), "externalId": randHex(5000)}},
			{"PATCH externalId to 10,000 characters", http.MethodPatch, "/scim/v2/Users/" + uid, patchBody(op("replace", "externalId", randHex(5000)))},
			{"filter on a 4,000-character value", http.MethodGet, "/scim/v2/Users?" + filterQuery(`userName eq "`+randHex(2000)+`"`), nil},
			{"PATCH collection", http.MethodPatch, "/scim/v2/Users", patchBody(op("replace", "active", false))},
			{"DELETE collection", http.MethodDelete, "/scim/v2/Users", nil},
			{"PUT collection", http.MethodPut, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": "x"}},
			{"id with slash", http.MethodGet, "/scim/v2/Users/a%2Fb", nil},
			{"trailing slash", http.MethodGet, "/scim/v2/Users/", nil},
			{"path below a user", http.MethodGet, "/scim/v2/Users/" + uid + "/groups", nil},
			{"dot segments", http.MethodGet, "/scim/v2/Users/%2e%2e", nil},
			{"SCIM root", http.MethodGet, "/scim/v2", nil},
			{"SCIM root with slash", http.MethodGet, "/scim/v2/", nil},
			{"OPTIONS", http.MethodOptions, "/scim/v2/Users", nil},
			{"lower-case endpoint", http.MethodGet, "/scim/v2/users", nil},
			{"repeated count", http.MethodGet, "/scim/v2/Users?count=1&count=2", nil},
			{"empty filter", http.MethodGet, "/scim/v2/Users?filter=", nil},
			{"blank filter", http.MethodGet, "/scim/v2/Users?filter=%20%20", nil},
			{"id with quote", http.MethodGet, "/scim/v2/Users/a'b", nil},
			{"deep JSON", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + userURN + `"],"userName":"deep-` + randHex(4) + `","name":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `}`},
			{"duplicate keys", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + userURN + `"],"userName":"dupkey-` + randHex(4) + `","userName":"dupkey2-` + randHex(4) + `"}`},
		} {
			t.Run("odd/"+tc.name, func(t *testing.T) {
				before := inst.counts(t)
				r := inst.do(t, tc.method, tc.path, tc.body)
				t.Logf("answered %d", r.Status)
				if r.Status >= 500 || r.Status < 200 {
					t.Errorf("%s\n  want a 2xx or a 4xx, got %s", r.req, r)
				}
				if r.Status >= 400 {
					checkSCIMError(t, r, r.Status, "")
				} else if r.Header.Get("Content-Type") != "" {
					checkSCIMContentType(t, r)
				}
				if r.Status == http.StatusOK && tc.method == http.MethodGet && strings.Contains(tc.path, "?") {
					m := r.JSON(t)
					items, _ := getNum(m, "itemsPerPage")
					if n := len(getList(m, "Resources")); n != items {
						t.Errorf("%s: itemsPerPage %d but %d Resources", r.req, items, n)
					}
				}
				after := inst.counts(t)
				created := r.Status == http.StatusCreated
				if !created && after != before {
					t.Errorf("users, groups: %v before, %v after a request answered %d", before, after, r.Status)
				}
			})
		}

		t.Run("server still healthy", func(t *testing.T) {
			mustStatus(t, inst.do(t, http.MethodGet, "/readyz", nil), http.StatusOK)
			mustCreateUser(t, inst, uniq("after-errors"))
		})
	})
}

// TestHeaders checks that every kind of response carries an X-Correlation-ID
// and that SCIM responses are application/scim+json.
func TestHeaders(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		uid := mustCreateUser(t, inst, uniq("headers"))
		for _, tc := range []struct {
			name         string
			method, path string
			body         any
			opts         []reqOpt
			scim         bool
		}{
			{"healthz", http.MethodGet, "/healthz", nil, nil, false},
			{"readyz", http.MethodGet, "/readyz", nil, nil, false},
			{"list users", http.MethodGet, "/scim/v2/Users", nil, nil, true},
			{"get user", http.MethodGet, "/scim/v2/Users/" + uid, nil, nil, true},
			{"create user", http.MethodPost, "/scim/v2/Users", userBody(uniq("hdr"), nil), nil, true},
			{"401", http.MethodGet, "/scim/v2/Users", nil, []reqOpt{noToken()}, true},
			{"404", http.MethodGet, "/scim/v2/Users/nope", nil, nil, true},
			{"400", http.MethodGet, "/scim/v2/Users?filter=" + "foo%20eq%20%22x%22", nil, nil, true},
			{"413", http.MethodPost, "/scim/v2/Users", strings.Repeat(" ", 1<<20+1), nil, true},
			{"ServiceProviderConfig", http.MethodGet, "/scim/v2/ServiceProviderConfig", nil, nil, true},
			{"Schemas", http.MethodGet, "/scim/v2/Schemas", nil, nil, true},
			{"outside SCIM", http.MethodGet, "/no/such/thing", nil, nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				for _, h := range []struct{ send, want string }{
					{"", ""},
					{"e2e-hdr-" + randHex(4), "echo"},
				} {
					opts := tc.opts
					if h.send != "" {
						opts = append(append([]reqOpt{}, opts...), withHeader("X-Correlation-ID", h.send))
					}
					r := inst.do(t, tc.method, tc.path, tc.body, opts...)
					got := r.Header.Get("X-Correlation-ID")
					switch {
					case h.want == "echo" && got != h.send:
						t.Errorf("%s: X-Correlation-ID = %q, want the request's %q", r.req, got, h.send)
					case h.want == "" && !isNewCorrelationID(got):
						t.Errorf("%s: X-Correlation-ID = %q, want a fresh 32-hex-digit id", r.req, got)
					}
					if tc.scim && len(r.Body) > 0 {
						checkSCIMContentType(t, r)
					}
					if r.Status >= 500 {
						t.Errorf("%s: got %s", r.req, r)
					}
				}
			})
		}
	})
}

// TestRefusalDetails: a body the SCIM library refuses with its generic
// detail gets a detail that names the attribute.
func TestRefusalDetails(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		id := mustCreateUser(t, inst, uniq("detail"))
		for _, tc := range []struct {
			method, path string
			body         any
			scimType     string
			mentions     string
		}{
			{http.MethodPost, "/scim/v2/Users", userBody(uniq("d"), map[string]any{"active": 5}), "invalidValue", `"active" must be a boolean`},
			{http.MethodPost, "/scim/v2/Users", userBody(uniq("d"), map[string]any{"name": map[string]any{"familyName": true}}), "invalidValue", `"name.familyName" must be a string`},
			{http.MethodPut, "/scim/v2/Users/" + id, userBody(uniq("d"), map[string]any{"emails": "x"}), "invalidSyntax", `"emails" must be an array`},
			{http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}}, "invalidValue", `"displayName" is required`},
		} {
			r := inst.do(t, tc.method, tc.path, tc.body)
			checkSCIMError(t, r, http.StatusBadRequest, tc.scimType)
			if !strings.Contains(getStr(r.JSON(t), "detail"), tc.mentions) {
				t.Errorf("%s: detail should mention %s: %s", r.req, tc.mentions, r)
			}
		}
	})
}
