package e2e

import (
	"net/http"
	"sync"
	"testing"
)

func TestETags(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		t.Run("advertised", func(t *testing.T) {
			t.Parallel()
			if get(inst.mustGet(t, "/scim/v2/ServiceProviderConfig"), "etag", "supported") != true {
				t.Error("etag.supported is not true")
			}
		})
		t.Run("IfNoneMatch", func(t *testing.T) { t.Parallel(); testIfNoneMatch(t, inst) })
		t.Run("IfMatch", func(t *testing.T) { t.Parallel(); testIfMatch(t, inst) })
		t.Run("Race", func(t *testing.T) { t.Parallel(); testIfMatchRace(t, inst) })
		t.Run("MembershipChangesGroupETag", func(t *testing.T) { t.Parallel(); testMembershipETag(t, inst) })
	})
}

func testIfNoneMatch(t *testing.T, inst *instance) {
	uid := mustCreateUser(t, inst, uniq("inm"))
	gid := mustCreateGroup(t, inst, uniq("INM"), uid)
	for _, path := range []string{"/scim/v2/Users/" + uid, "/scim/v2/Groups/" + gid} {
		tag := inst.do(t, http.MethodGet, path, nil).Header.Get("ETag")
		for _, tc := range []struct {
			header string
			want   int
		}{
			{tag, http.StatusNotModified},
			{`"1"`, http.StatusNotModified},
			{`W/"99", ` + tag, http.StatusNotModified},
			{"*", http.StatusNotModified},
			{`W/"99"`, http.StatusOK},
		} {
			r := inst.do(t, http.MethodGet, path, nil, withHeader("If-None-Match", tc.header))
			checkStatus(t, r, tc.want)
			if r.Header.Get("ETag") != tag {
				t.Errorf("%s: ETag %q, want %q", r.req, r.Header.Get("ETag"), tag)
			}
			if tc.want == http.StatusNotModified && len(r.Body) != 0 {
				t.Errorf("%s: 304 with a body %q", r.req, r.Body)
			}
		}
	}
	checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Users/missing", nil, withHeader("If-None-Match", "*")), http.StatusNotFound, "")
}

func testIfMatch(t *testing.T, inst *instance) {
	id := mustCreateUser(t, inst, uniq("im"))
	path := "/scim/v2/Users/" + id
	stale := inst.do(t, http.MethodGet, path, nil).Header.Get("ETag")

	r := inst.do(t, http.MethodPatch, path, patchBody(op("replace", "title", "one")), withHeader("If-Match", stale))
	mustStatus(t, r, http.StatusNoContent)
	fresh := r.Header.Get("ETag")
	if fresh == "" || fresh == stale {
		t.Fatalf("PATCH 204 ETag %q, want a new one (was %q)", fresh, stale)
	}
	if got := inst.do(t, http.MethodGet, path, nil).Header.Get("ETag"); got != fresh {
		t.Errorf("GET ETag %q after PATCH answered %q", got, fresh)
	}

	for _, tc := range []struct {
		method string
		body   any
	}{
		{http.MethodPatch, patchBody(op("replace", "title", "stale"))},
		{http.MethodPut, userBody(uniq("stale"), nil)},
		{http.MethodDelete, nil},
	} {
		r := inst.do(t, tc.method, path, tc.body, withHeader("If-Match", stale))
		checkSCIMError(t, r, http.StatusPreconditionFailed, "")
	}
	if got := inst.mustGet(t, path); getStr(got, "title") != "one" {
		t.Errorf("a write with a stale If-Match changed the user: %s", mustJSON(got))
	}
	// The "n" form and a list both match; PUT answers the new ETag.
	r = inst.do(t, http.MethodPut, path, userBody(uniq("im-put"), map[string]any{"title": "two"}),
		withHeader("If-Match", `W/"77", "2"`))
	mustStatus(t, r, http.StatusOK)
	if r.Header.Get("ETag") != `W/"3"` || getStr(r.JSON(t), "meta", "version") != `W/"3"` {
		t.Errorf("PUT ETag %q, meta.version %q: want W/\"3\"", r.Header.Get("ETag"), getStr(r.JSON(t), "meta", "version"))
	}
	mustStatus(t, inst.do(t, http.MethodDelete, path, nil, withHeader("If-Match", "*")), http.StatusNoContent)
	checkSCIMError(t, inst.do(t, http.MethodDelete, path, nil, withHeader("If-Match", "*")), http.StatusNotFound, "")
}

// testIfMatchRace: writers that all read version 1 race; one wins.
func testIfMatchRace(t *testing.T, inst *instance) {
	const writers = 8
	uid := mustCreateUser(t, inst, uniq("race"))
	gid := mustCreateGroup(t, inst, uniq("Race"))
	for _, path := range []string{"/scim/v2/Users/" + uid, "/scim/v2/Groups/" + gid} {
		var reqs []request
		for i := range writers {
			reqs = append(reqs, request{http.MethodPatch, path, patchBody(op("replace", "externalId", "w"+randHex(2)+string(rune('a'+i)))), nil})
		}
		resps := parallelWithHeader(t, inst, reqs, "If-Match", `W/"1"`)
		won, lost := 0, 0
		for _, r := range resps {
			switch r.Status {
			case http.StatusNoContent:
				won++
			case http.StatusPreconditionFailed:
				lost++
			default:
				t.Errorf("%s: unexpected %s", r.req, r)
			}
		}
		if won != 1 || lost != writers-1 {
			t.Errorf("%s: %d won, %d got 412; want 1 and %d", path, won, lost, writers-1)
		}
		if v := getStr(inst.mustGet(t, path), "meta", "version"); v != `W/"2"` {
			t.Errorf("%s: version %s after the race, want W/\"2\"", path, v)
		}
	}
}

// testMembershipETag: adding or removing a member changes the group's ETag.
func testMembershipETag(t *testing.T, inst *instance) {
	uid := mustCreateUser(t, inst, uniq("m"))
	gid := mustCreateGroup(t, inst, uniq("M"))
	path := "/scim/v2/Groups/" + gid
	tag := inst.do(t, http.MethodGet, path, nil).Header.Get("ETag")
	mustStatus(t, inst.do(t, http.MethodPatch, path, patchBody(op("add", "members", []any{map[string]any{"value": uid}}))), http.StatusNoContent)
	checkStatus(t, inst.do(t, http.MethodGet, path, nil, withHeader("If-None-Match", tag)), http.StatusOK)
	tag = inst.do(t, http.MethodGet, path, nil).Header.Get("ETag")
	mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+uid, nil), http.StatusNoContent)
	checkStatus(t, inst.do(t, http.MethodGet, path, nil, withHeader("If-None-Match", tag)), http.StatusOK)
}

// parallelWithHeader sends reqs at once, each with the header set.
func parallelWithHeader(t *testing.T, inst *instance, reqs []request, key, value string) []*response {
	t.Helper()
	out := make([]*response, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, rq := range reqs {
		wg.Go(func() {
			out[i], errs[i] = inst.send(t.Context(), rq.method, rq.path, rq.body, withHeader(key, value))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
