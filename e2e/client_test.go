package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// SCIM URNs used throughout.
const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchOpURN    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listURN       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errorURN      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// reqOpt changes one request made by instance.do.
type reqOpt func(*http.Request)

// withToken sends secret as the bearer token instead of the bootstrap token.
func withToken(secret string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }
}

// noToken sends no Authorization header.
func noToken() reqOpt { return func(r *http.Request) { r.Header.Del("Authorization") } }

// withHeader sets a request header (an Authorization header replaces the token).
func withHeader(key, value string) reqOpt {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

// chunked sends the body without a Content-Length.
func chunked() reqOpt { return func(r *http.Request) { r.ContentLength = -1 } }

// response is what the server answered, with the request for messages.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	req    string
}

// JSON decodes the body as a JSON object, failing the test if it is not one.
func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s: body is not a JSON object (%v): %s", r.req, err, r)
	}
	return m
}

// String is the status and (shortened) body, for failure messages.
func (r *response) String() string {
	return fmt.Sprintf("%d %s", r.Status, tail(string(r.Body), 2000))
}

// do sends a request to the instance with the bootstrap token and fails the
// test now if no response arrives. path is absolute ("/scim/v2/Users");
// body is nil for none, []byte or string for raw bytes, or anything else to
// send as JSON. Only the test's goroutine may call do; others use send.
func (inst *instance) do(t *testing.T, method, path string, body any, opts ...reqOpt) *response {
	t.Helper()
	r, err := inst.send(t.Context(), method, path, body, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is do for any goroutine: it returns the error instead.
func (inst *instance) send(ctx context.Context, method, path string, body any, opts ...reqOpt) (*response, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return nil, fmt.Errorf("marshal request body: %w", err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, inst.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+inst.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for _, o := range opts {
		o(req)
	}
	desc := method + " " + path
	if body != nil {
		desc += " " + tail(string(raw), 600)
	}
	resp, err := inst.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", desc, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading response: %w", desc, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b, req: desc}, nil
}

// parallel sends the requests at once, each from its own goroutine, and
// returns the responses in the same order; it fails the test if any request
// got no response.
func (inst *instance) parallel(t *testing.T, reqs []request) []*response {
	t.Helper()
	out := make([]*response, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, rq := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := inst
			if rq.on != nil {
				target = rq.on
			}
			out[i], errs[i] = target.send(t.Context(), rq.method, rq.path, rq.body)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// request is one request for parallel.
type request struct {
	method, path string
	body         any
	on           *instance // where to send it; nil: the instance parallel was called on
}

// mustStatus fails the test now unless the response has one of the statuses.
func mustStatus(t *testing.T, r *response, want ...int) {
	t.Helper()
	if !slices.Contains(want, r.Status) {
		t.Fatalf("%s\n  want status %v\n  got %s", r.req, want, r)
	}
}

// checkStatus is mustStatus that lets the test go on.
func checkStatus(t *testing.T, r *response, want ...int) bool {
	t.Helper()
	if !slices.Contains(want, r.Status) {
		t.Errorf("%s\n  want status %v\n  got %s", r.req, want, r)
		return false
	}
	return true
}

// checkSCIMError checks a SCIM error response (RFC 7644 §3.12): the status,
// the media type, the Error schema, status as a string, a detail, and the
// scimType when one is wanted. It also checks that no SQL or driver text
// leaked into the body.
func checkSCIMError(t *testing.T, r *response, status int, scimType string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s\n  want status %d (scimType %q)\n  got %s", r.req, status, scimType, r)
		if r.Status >= 500 || r.Status < 400 {
			return
		}
	}
	checkSCIMContentType(t, r)
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Errorf("%s\n  want a SCIM error body, got %s", r.req, r)
		return
	}
	if !hasString(m["schemas"], errorURN) {
		t.Errorf("%s\n  want schemas [%q], got %s", r.req, errorURN, r)
	}
	if s, ok := m["status"].(string); !ok || s != fmt.Sprint(r.Status) {
		t.Errorf("%s\n  want \"status\": %q (a string), got %s", r.req, fmt.Sprint(r.Status), r)
	}
	if d, _ := m["detail"].(string); d == "" {
		t.Errorf("%s\n  want a non-empty detail, got %s", r.req, r)
	}
	if scimType != "" && m["scimType"] != scimType {
		t.Errorf("%s\n  want scimType %q, got %s", r.req, scimType, r)
	}
	checkNoLeak(t, r)
}

// checkNoLeak fails when a body shows SQL or database driver text.
func checkNoLeak(t *testing.T, r *response) {
	t.Helper()
	body := string(r.Body)
	for _, word := range []string{"SELECT", "INSERT", "UPDATE ", "sqlite", "SQLITE", "pq:", "postgres", "syntax error at", "panic", "goroutine"} {
		if strings.Contains(body, word) {
			t.Errorf("%s\n  response leaks %q: %s", r.req, word, r)
		}
	}
}

// checkSCIMContentType checks that a response with a body is application/scim+json.
func checkSCIMContentType(t *testing.T, r *response) {
	t.Helper()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/scim+json" {
		t.Errorf("%s\n  want Content-Type application/scim+json, got %q", r.req, r.Header.Get("Content-Type"))
	}
}

// Attribute access on decoded JSON.

// get walks m along keys; a missing key yields nil.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func getStr(v any, keys ...string) string {
	s, _ := get(v, keys...).(string)
	return s
}

func getList(v any, keys ...string) []any {
	l, _ := get(v, keys...).([]any)
	return l
}

func getNum(v any, keys ...string) (int, bool) {
	f, ok := get(v, keys...).(float64)
	return int(f), ok
}

// hasString reports whether v is a JSON array holding s.
func hasString(v any, s string) bool {
	l, _ := v.([]any)
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// values returns the "value" of each object in a multi-valued attribute.
func values(list []any) []string {
	var out []string
	for _, e := range list {
		out = append(out, getStr(e, "value"))
	}
	slices.Sort(out)
	return out
}

// sortedIDs returns the "id" of each resource of a list response, sorted.
func sortedIDs(listResp map[string]any) []string {
	var out []string
	for _, r := range getList(listResp, "Resources") {
		out = append(out, getStr(r, "id"))
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }

// mustJSON is the JSON text of v, for messages.
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// checkRFC3339 checks that meta.<key> is an RFC 3339 date-time.
func checkRFC3339(t *testing.T, doc map[string]any, key string) {
	t.Helper()
	s := getStr(doc, "meta", key)
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		t.Errorf("meta.%s = %q, want an RFC 3339 date-time (%v)", key, s, err)
	}
}

// Requests used by many tests.

// filterQuery is the query string for a SCIM filter.
func filterQuery(filter string) string { return "filter=" + url.QueryEscape(filter) }

// list GETs path (a list endpoint with its query) and checks it is a list response.
func (inst *instance) list(t *testing.T, path string) map[string]any {
	t.Helper()
	r := inst.do(t, http.MethodGet, path, nil)
	mustStatus(t, r, http.StatusOK)
	m := r.JSON(t)
	if !hasString(m["schemas"], listURN) {
		t.Errorf("GET %s: want schemas [%q], got %s", path, listURN, r)
	}
	if res, ok := m["Resources"].([]any); !ok || res == nil {
		t.Errorf("GET %s: want \"Resources\" to be an array, got %s", path, r)
	}
	return m
}

// total is totalResults of GET path.
func (inst *instance) total(t *testing.T, path string) int {
	t.Helper()
	m := inst.list(t, path)
	n, ok := getNum(m, "totalResults")
	if !ok {
		t.Fatalf("GET %s: no numeric totalResults in %s", path, mustJSON(m))
	}
	return n
}

// counts is how many users and groups the server holds.
func (inst *instance) counts(t *testing.T) [2]int {
	t.Helper()
	return [2]int{inst.total(t, "/scim/v2/Users?count=0"), inst.total(t, "/scim/v2/Groups?count=0")}
}

// userBody is a minimal valid user with extra attributes.
func userBody(userName string, extra map[string]any) map[string]any {
	b := map[string]any{
		"schemas":  []string{userURN},
		"userName": userName,
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// mustCreateUser creates a user named userName and returns its id.
func mustCreateUser(t *testing.T, inst *instance, userName string) string {
	t.Helper()
	return mustCreate(t, inst, "/scim/v2/Users", userBody(userName, map[string]any{
		"displayName": userName + " Display",
		"emails":      []map[string]any{{"value": userName + "@example.com", "type": "work", "primary": true}},
	}))
}

// mustCreate POSTs body to a collection, requires 201 and returns the id.
func mustCreate(t *testing.T, inst *instance, path string, body any) string {
	t.Helper()
	r := inst.do(t, http.MethodPost, path, body)
	mustStatus(t, r, http.StatusCreated)
	id := getStr(r.JSON(t), "id")
	if id == "" {
		t.Fatalf("%s: no id in %s", r.req, r)
	}
	return id
}

// mustCreateGroup creates a group with the given member ids and returns its id.
func mustCreateGroup(t *testing.T, inst *instance, displayName string, memberIDs ...string) string {
	t.Helper()
	members := []map[string]any{}
	for _, id := range memberIDs {
		members = append(members, map[string]any{"value": id})
	}
	return mustCreate(t, inst, "/scim/v2/Groups", map[string]any{
		"schemas":     []string{groupURN},
		"displayName": displayName,
		"members":     members,
	})
}

// mustGet GETs a resource and requires 200.
func (inst *instance) mustGet(t *testing.T, path string) map[string]any {
	t.Helper()
	r := inst.do(t, http.MethodGet, path, nil)
	mustStatus(t, r, http.StatusOK)
	return r.JSON(t)
}

// patchBody wraps operations in a PatchOp message.
func patchBody(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchOpURN}, "Operations": ops}
}

// op is one PATCH operation; path "" and value nil are left out.
func op(name, path string, value any) map[string]any {
	o := map[string]any{"op": name}
	if path != "" {
		o["path"] = path
	}
	if value != nil {
		o["value"] = value
	}
	return o
}

// memberValues is the sorted member ids of a group.
func (inst *instance) memberValues(t *testing.T, groupID string) []string {
	t.Helper()
	return values(getList(inst.mustGet(t, "/scim/v2/Groups/"+groupID), "members"))
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
