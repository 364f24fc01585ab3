package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestDiscovery(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)

		t.Run("ServiceProviderConfig", func(t *testing.T) {
			t.Parallel()
			r := inst.do(t, http.MethodGet, "/scim/v2/ServiceProviderConfig", nil)
			mustStatus(t, r, http.StatusOK)
			checkSCIMContentType(t, r)
			m := r.JSON(t)
			for _, feature := range []string{"patch", "filter"} {
				if get(m, feature, "supported") != true {
					t.Errorf("%s.supported = %v, want true: %s", feature, get(m, feature, "supported"), r)
				}
			}
			if n, ok := getNum(m, "filter", "maxResults"); !ok || n < 1 {
				t.Errorf("filter.maxResults = %v, want a positive number", get(m, "filter", "maxResults"))
			}
			if !hasString(m["schemas"], "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig") {
				t.Errorf("schemas = %v", m["schemas"])
			}
			if len(getList(m, "authenticationSchemes")) == 0 {
				t.Errorf("no authenticationSchemes: %s", r)
			}
		})

		t.Run("advertised features work", func(t *testing.T) {
			t.Parallel()
			spc := inst.mustGet(t, "/scim/v2/ServiceProviderConfig")
			if get(spc, "etag", "supported") == true {
				t.Run("etag", func(t *testing.T) {
					id := mustCreateUser(t, inst, uniq("etag"))
					r := inst.do(t, http.MethodGet, "/scim/v2/Users/"+id, nil, withHeader("If-None-Match", `W/"1"`))
					checkStatus(t, r, http.StatusNotModified)
					mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(op("replace", "title", "x"))), http.StatusOK, http.StatusNoContent)
					r = inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(op("replace", "title", "stale")), withHeader("If-Match", `W/"1"`))
					checkSCIMError(t, r, http.StatusPreconditionFailed, "")
					if got := getStr(inst.mustGet(t, "/scim/v2/Users/"+id), "title"); got != "x" {
						t.Errorf("a PATCH with a stale If-Match was applied: title %q", got)
					}
				})
			}
			if get(spc, "sort", "supported") == true {
				t.Run("sort", func(t *testing.T) {
					p := uniq("sort")
					for _, n := range []string{"b", "c", "a"} {
						mustCreateUser(t, inst, p+"-"+n)
					}
					for order, want := range map[string][]string{"ascending": {"a", "b", "c"}, "descending": {"c", "b", "a"}} {
						m := inst.list(t, "/scim/v2/Users?sortBy=userName&sortOrder="+order+"&"+filterQuery(fmt.Sprintf("userName sw %q", p)))
						var got []string
						for _, r := range getList(m, "Resources") {
							got = append(got, strings.TrimPrefix(getStr(r, "userName"), p+"-"))
						}
						if !slices.Equal(got, want) {
							t.Errorf("sortOrder=%s: %v, want %v", order, got, want)
						}
					}
				})
			}
		})

		t.Run("ResourceTypes", func(t *testing.T) {
			t.Parallel()
			r := inst.do(t, http.MethodGet, "/scim/v2/ResourceTypes", nil)
			mustStatus(t, r, http.StatusOK)
			checkSCIMContentType(t, r)
			res := getList(r.JSON(t), "Resources")
			if len(res) < 2 {
				t.Fatalf("want User and Group, got %s", r)
			}
			first := res[0]
			if getStr(first, "endpoint") != "/Users" || getStr(first, "name") != "User" || getStr(first, "schema") != userURN {
				t.Errorf("first resource type = %s, want User at /Users with schema %s", mustJSON(first), userURN)
			}
			var ext bool
			for _, e := range getList(first, "schemaExtensions") {
				if getStr(e, "schema") == enterpriseURN {
					ext = true
				}
			}
			if !ext {
				t.Errorf("User resource type lacks the enterprise extension: %s", mustJSON(first))
			}
			var group bool
			for _, rt := range res {
				if getStr(rt, "endpoint") == "/Groups" && getStr(rt, "schema") == groupURN {
					group = true
				}
			}
			if !group {
				t.Errorf("no Group resource type at /Groups: %s", r)
			}
		})

		t.Run("Schemas", func(t *testing.T) {
			t.Parallel()
			r := inst.do(t, http.MethodGet, "/scim/v2/Schemas", nil)
			mustStatus(t, r, http.StatusOK)
			checkSCIMContentType(t, r)
			byID := map[string]any{}
			for _, s := range getList(r.JSON(t), "Resources") {
				byID[getStr(s, "id")] = s
			}
			for _, urn := range []string{userURN, groupURN, enterpriseURN} {
				if byID[urn] == nil {
					t.Errorf("/Schemas lacks %s", urn)
				}
			}
			user := byID[userURN]
			if d := getStr(user, "description"); d != "User Account" {
				t.Errorf("User schema description = %q, want %q", d, "User Account")
			}
			for _, a := range getList(user, "attributes") {
				if strings.EqualFold(getStr(a, "name"), "password") {
					t.Errorf("the User schema lists a password attribute: %s", mustJSON(a))
				}
			}
			if !strings.Contains(string(r.Body), "User Account") {
				t.Errorf("/Schemas body lacks \"User Account\"")
			}

			one := inst.mustGet(t, "/scim/v2/Schemas/"+url.PathEscape(userURN))
			if getStr(one, "id") != userURN {
				t.Errorf("GET /Schemas/%s: id = %q", userURN, getStr(one, "id"))
			}
		})
	})
}
