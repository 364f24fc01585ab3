package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestLargeGroup builds a group of 20,000 members through the real binary
// (users by Bulk, members by PATCH in chunks), reads it back whole, which
// streams it (scim/stream.go), and without members, which reads one row.
func TestLargeGroup(t *testing.T) {
	t.Parallel()
	const (
		users = 20_000
		chunk = 1_000 // members added per PATCH
	)
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)

		// Users, 10,000 per Bulk request; every fifth without a displayName,
		// so that its display falls back to the userName.
		var ids []string
		names := map[string]string{} // id -> expected display
		for start := 0; start < users; start += bulkMaxOperations {
			var ops []any
			for i := start; i < min(users, start+bulkMaxOperations); i++ {
				data := map[string]any{"schemas": []string{userURN}, "userName": fmt.Sprintf("big%05d", i)}
				if i%5 != 0 {
					data["displayName"] = fmt.Sprintf("Big <%d> & \"co\"", i)
				}
				ops = append(ops, map[string]any{"method": "POST", "bulkId": fmt.Sprint(i), "path": "/Users", "data": data})
			}
			res := inst.bulk(t, bulkMsg(nil, ops...))
			for i, op := range res {
				if getStr(op, "status") != "201" {
					t.Fatalf("bulk operation %d: %s", start+i, mustJSON(op))
				}
				id := locationID(t, op)
				ids = append(ids, id)
				n := start + i
				if n%5 == 0 {
					names[id] = fmt.Sprintf("big%05d", n)
				} else {
					names[id] = fmt.Sprintf("Big <%d> & \"co\"", n)
				}
			}
		}

		group := mustCreateGroup(t, inst, "Everyone")
		for start := 0; start < len(ids); start += chunk {
			var members []map[string]any
			for _, id := range ids[start:min(len(ids), start+chunk)] {
				members = append(members, map[string]any{"value": id})
			}
			r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+group, patchBody(op("add", "members", members)))
			mustStatus(t, r, http.StatusNoContent)
		}
		// And one removal, which must not disturb the others.
		removed := ids[12345]
		r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+group,
			patchBody(op("remove", `members[value eq "`+removed+`"]`, nil)))
		mustStatus(t, r, http.StatusNoContent)

		r = inst.do(t, http.MethodGet, "/scim/v2/Groups/"+group, nil)
		mustStatus(t, r, http.StatusOK)
		checkSCIMContentType(t, r)
		doc := r.JSON(t)
		members := getList(doc, "members")
		if len(members) != users-1 {
			t.Fatalf("GET: %d members, want %d", len(members), users-1)
		}
		if etag := r.Header.Get("ETag"); etag == "" || etag != getStr(doc, "meta", "version") {
			t.Errorf("ETag %q, meta.version %q: want them equal and set", etag, getStr(doc, "meta", "version"))
		}
		if getStr(doc, "displayName") != "Everyone" || getStr(doc, "id") != group || !hasString(doc["schemas"], groupURN) {
			t.Errorf("group attributes: %s", tail(string(r.Body), 300))
		}
		got := values(members)
		if !slices.IsSorted(got) {
			t.Errorf("members are not sorted by value")
		}
		if slices.Contains(got, removed) {
			t.Errorf("removed member %s is still listed", removed)
		}
		byID := map[string]any{}
		for _, m := range members {
			byID[getStr(m, "value")] = m
		}
		for _, i := range []int{0, 1, 4999, 10000, users - 1} {
			id := ids[i]
			m, ok := byID[id]
			if !ok {
				t.Fatalf("member %d (%s) missing", i, id)
			}
			if getStr(m, "display") != names[id] || getStr(m, "type") != "User" ||
				!strings.HasSuffix(getStr(m, "$ref"), "/scim/v2/Users/"+id) {
				t.Errorf("member %d: %s, want display %q, type User and $ref to the user", i, mustJSON(m), names[id])
			}
		}

		// Unchanged since: 304, no body.
		r = inst.do(t, http.MethodGet, "/scim/v2/Groups/"+group, nil, withHeader("If-None-Match", r.Header.Get("ETag")))
		mustStatus(t, r, http.StatusNotModified)
		if len(r.Body) != 0 {
			t.Errorf("304 with a body of %d bytes", len(r.Body))
		}

		// Without members: the cheap path, and no members in it.
		r = inst.do(t, http.MethodGet, "/scim/v2/Groups/"+group+"?excludedAttributes=members", nil)
		mustStatus(t, r, http.StatusOK)
		doc = r.JSON(t)
		if _, ok := doc["members"]; ok {
			t.Errorf("excludedAttributes=members still lists members")
		}
		if getStr(doc, "displayName") != "Everyone" || len(r.Body) > 2000 {
			t.Errorf("excludedAttributes=members: %d bytes: %s", len(r.Body), tail(string(r.Body), 300))
		}

		// A projection of members.value streams values alone.
		r = inst.do(t, http.MethodGet, "/scim/v2/Groups/"+group+"?attributes=members.value", nil)
		mustStatus(t, r, http.StatusOK)
		members = getList(r.JSON(t), "members")
		if len(members) != users-1 || len(members[0].(map[string]any)) != 1 || getStr(members[0], "value") == "" {
			t.Errorf("attributes=members.value: %d members, first %s", len(members), mustJSON(members[0]))
		}

		// A missing group is still a SCIM 404.
		checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Groups/no-such-group", nil), http.StatusNotFound, "")
	})
}
