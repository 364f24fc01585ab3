package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// forEachStore runs fn, in parallel, on a fresh SQLite and a fresh
// PostgreSQL store.
func forEachStore(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.OpenPostgres(t)) })
}

// testConnectors are the configured connectors: their URLs and the names
// of their secrets' variables must never be shown.
var testConnectors = []lms.Spec{
	{Name: "hooks", Type: "webhook", URL: "https://onramp:hunter2@lms.example.com/onramp?sig=s3cret#frag", SecretEnv: "ONRAMP_HOOKS_SECRET"},
	{Name: "demo", Type: "log"},
	{Name: "moodle", Type: "moodle", URL: "https://moodle.example.com", TokenEnv: "MOODLE_TOKEN"},
}

// adminBench is a server on a real store with a token of each kind.
type adminBench struct {
	st     *store.Store
	srv    *httptest.Server
	admin  string // admin:read and admin:write, named "admin"
	reader string // admin:read only
	scim   string // scim:read and scim:write, no admin scope
	logs   *syncBuffer
}

func newAdminBench(t *testing.T, st *store.Store, cfg server.Config) *adminBench {
	t.Helper()
	b := &adminBench{st: st, admin: server.NewTokenSecret(), reader: server.NewTokenSecret(), scim: server.NewTokenSecret(), logs: &syncBuffer{}}
	for name, tok := range map[string]struct {
		secret string
		scopes []string
	}{
		"admin":   {b.admin, []string{server.ScopeAdminRead, server.ScopeAdminWrite}},
		"auditor": {b.reader, []string{server.ScopeAdminRead}},
		"idp":     {b.scim, []string{server.ScopeSCIMRead, server.ScopeSCIMWrite}},
	} {
		if err := st.EnsureToken(t.Context(), store.Token{Name: name, Scopes: tok.scopes, Hash: server.HashTokenSecret(tok.secret)}); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Store = st
	if cfg.Connectors == nil {
		cfg.Connectors = testConnectors
	}
	cfg.Logger = slog.New(reqctx.LogHandler(slog.NewJSONHandler(b.logs, nil)))
	h, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(h)
	t.Cleanup(b.srv.Close)
	return b
}

// reply is a response read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request with the bearer token (none when ""); header holds
// name, value pairs.
func (b *adminBench) call(t *testing.T, method, path, token, body string, header ...string) reply {
	t.Helper()
	r, err := b.request(t.Context(), method, path, token, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// request is call for goroutines other than the test's.
func (b *adminBench) request(ctx context.Context, method, path, token, body string, header ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.srv.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(req)
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	r, err := do(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func do(req *http.Request) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: body}, err
}

// want fails the test unless the reply has status; it returns the reply.
func (r reply) want(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
}

// object is the reply's body as a JSON object.
func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

type problemJSON struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail"`
	CorrelationID string `json:"correlation_id"`
	Errors        []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// problem checks that the reply is an RFC 9457 problem with status and
// the request's correlation id, and returns it.
func (r reply) problem(t *testing.T, status int) problemJSON {
	t.Helper()
	r.want(t, status)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemJSON
	r.decode(t, &p)
	if p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("incomplete problem %s", r.body)
	}
	if id := r.header.Get("X-Correlation-ID"); id == "" || p.CorrelationID != id {
		t.Errorf("correlation_id %q, X-Correlation-ID %q", p.CorrelationID, id)
	}
	return p
}

func (p problemJSON) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// subset fails unless every field of want (a JSON object) is in got with
// the same value.
func subset(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	for k, v := range w {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// syncBuffer is a log destination that tests may read while the server
// writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// definitionKinds are bundles and rules, for tests both must pass.
var definitionKinds = []struct {
	kind, path             string // "bundle", "/admin/v1/bundles"
	name                   string
	create, update         string
	wantCreate, wantUpdate string // fields of the representation
}{
	{
		kind: "bundle", path: "/admin/v1/bundles", name: "eng-onboarding",
		create:     `{"connector":"hooks","courses":["SEC-101","GIT-201"],"description":"Engineering onboarding"}`,
		wantCreate: `{"name":"eng-onboarding","connector":"hooks","courses":["SEC-101","GIT-201"],"description":"Engineering onboarding","on_deactivate":"unenroll"}`,
		update:     `{"name":"eng-onboarding","connector":"demo","courses":["SEC-101"],"on_deactivate":"suspend"}`,
		wantUpdate: `{"name":"eng-onboarding","connector":"demo","courses":["SEC-101"],"on_deactivate":"suspend"}`,
	},
	{
		kind: "rule", path: "/admin/v1/rules", name: "engineers",
		create:     `{"group":"Engineering","bundles":["eng-onboarding"]}`,
		wantCreate: `{"name":"engineers","group":"Engineering","bundles":["eng-onboarding"]}`,
		update:     `{"name":"engineers","group_id":"0193a1b2-c3d4","bundles":["eng-onboarding","security"]}`,
		wantUpdate: `{"name":"engineers","group_id":"0193a1b2-c3d4","bundles":["eng-onboarding","security"]}`,
	},
}

func TestAdminDefinitionsRoundTrip(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		for _, k := range definitionKinds {
			t.Run(k.kind, func(t *testing.T) {
				item := k.path + "/" + k.name
				b.call(t, "GET", item, b.admin, "").problem(t, http.StatusNotFound)

				created := b.call(t, "PUT", item, b.admin, k.create, "Content-Type", "application/json").want(t, http.StatusCreated)
				if loc := created.header.Get("Location"); loc != item {
					t.Errorf("Location %q, want %q", loc, item)
				}
				if et := created.header.Get("ETag"); et != `W/"1"` {
					t.Errorf("ETag %q after create", et)
				}
				got := created.object(t)
				subset(t, got, k.wantCreate)
				subset(t, got, `{"version":1}`)
				for _, f := range []string{"created", "last_modified"} {
					if _, err := time.Parse(time.RFC3339, got[f].(string)); err != nil {
						t.Errorf("%s: %v", f, err)
					}
				}

				read := b.call(t, "GET", item, b.reader, "").want(t, http.StatusOK)
				subset(t, read.object(t), k.wantCreate)
				if et := read.header.Get("ETag"); et != `W/"1"` {
					t.Errorf("ETag %q on GET", et)
				}

				updated := b.call(t, "PUT", item, b.admin, k.update).want(t, http.StatusOK)
				subset(t, updated.object(t), k.wantUpdate)
				subset(t, updated.object(t), `{"version":2}`)
				if et := updated.header.Get("ETag"); et != `W/"2"` {
					t.Errorf("ETag %q after update", et)
				}

				var list map[string][]map[string]any
				b.call(t, "GET", k.path, b.reader, "").want(t, http.StatusOK).decode(t, &list)
				if items := list[k.kind+"s"]; len(items) != 1 {
					t.Fatalf("list %v", list)
				} else {
					subset(t, items[0], k.wantUpdate)
				}

				b.call(t, "DELETE", item, b.admin, "").want(t, http.StatusNoContent)
				b.call(t, "GET", item, b.admin, "").problem(t, http.StatusNotFound)
				b.call(t, "DELETE", item, b.admin, "").problem(t, http.StatusNotFound)
				b.call(t, "GET", k.path, b.reader, "").want(t, http.StatusOK).decode(t, &list)
				if items, ok := list[k.kind+"s"]; !ok || len(items) != 0 {
					t.Errorf("list after delete: %s", b.call(t, "GET", k.path, b.reader, "").body)
				}
			})
		}
	})
}

func TestAdminListSorted(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		names := []string{"b_2", "a-1", "b-1", "a1", "0"}
		for _, n := range names {
			b.call(t, "PUT", "/admin/v1/bundles/"+n, b.admin, `{"connector":"demo","courses":["C"]}`).want(t, http.StatusCreated)
		}
		var list struct{ Bundles []struct{ Name string } }
		b.call(t, "GET", "/admin/v1/bundles", b.reader, "").want(t, http.StatusOK).decode(t, &list)
		var got []string
		for _, x := range list.Bundles {
			got = append(got, x.Name)
		}
		slices.Sort(names)
		if !slices.Equal(got, names) {
			t.Errorf("order %v, want %v", got, names)
		}
	})
}

func TestAdminPutRefused(t *testing.T) {
	t.Parallel()
	big := `{"connector":"hooks","courses":["A"],"description":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, path, body string
		header           []string
		status           int
		fields           []string // fields named in errors
		detail           string   // part of the detail
	}{
		{name: "invalid bundle", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks","courses":[],"on_deactivate":"delete"}`,
			status: 400, fields: []string{"courses", "on_deactivate"}},
		{name: "invalid name", path: "/admin/v1/bundles/Eng", body: `{"connector":"hooks","courses":["A"]}`,
			status: 400, fields: []string{"name"}},
		{name: "duplicate course", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks","courses":["A","A"]}`,
			status: 400, fields: []string{"courses[1]"}},
		{name: "unknown connector", path: "/admin/v1/bundles/eng", body: `{"connector":"canvas","courses":["A"]}`,
			status: 400, fields: []string{"connector"}, detail: "configured: demo, hooks, moodle"},
		{name: "bundle name mismatch", path: "/admin/v1/bundles/eng", body: `{"name":"ops","connector":"hooks","courses":["A"]}`,
			status: 400, fields: []string{"name"}, detail: `"ops"`},
		{name: "unknown field", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks","courses":["A"],"colour":"red"}`,
			status: 400, fields: []string{"colour"}, detail: "colour"},
		{name: "wrong type", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks","courses":"A"}`,
			status: 400, fields: []string{"courses"}, detail: "courses"},
		{name: "not an object", path: "/admin/v1/bundles/eng", body: `["A"]`, status: 400, detail: "JSON object"},
		{name: "null", path: "/admin/v1/bundles/eng", body: `null`, status: 400, detail: "JSON object"},
		{name: "empty body", path: "/admin/v1/bundles/eng", body: ``, status: 400, detail: "JSON object"},
		{name: "trailing data", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks","courses":["A"]} {}`, status: 400, detail: "after"},
		{name: "truncated", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks",`, status: 400},
		{name: "not JSON", path: "/admin/v1/bundles/eng", body: `{connector: hooks}`, status: 400},
		{name: "bad UTF-8", path: "/admin/v1/bundles/eng", body: "{\"connector\":\"hooks\",\"courses\":[\"\xff\"]}", status: 400, detail: "UTF-8"},
		{name: "wrong content type", path: "/admin/v1/bundles/eng", body: `{"connector":"hooks","courses":["A"]}`,
			header: []string{"Content-Type", "application/yaml"}, status: 415},
		{name: "oversized", path: "/admin/v1/bundles/eng", body: big, status: 413, detail: "1048576"},
		{name: "invalid rule", path: "/admin/v1/rules/r", body: `{"group":"Eng","group_id":"x","bundles":[]}`,
			status: 400, fields: []string{"group", "bundles"}},
		{name: "rule without group", path: "/admin/v1/rules/r", body: `{"bundles":["eng"]}`, status: 400, fields: []string{"group"}},
		{name: "rule name mismatch", path: "/admin/v1/rules/r", body: `{"name":"s","group":"Eng","bundles":["eng"]}`,
			status: 400, fields: []string{"name"}},
	}
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := b.call(t, "PUT", tt.path, b.admin, tt.body, tt.header...).problem(t, tt.status)
				for _, f := range tt.fields {
					if !slices.Contains(p.fields(), f) {
						t.Errorf("errors name %v, want %s among them", p.fields(), f)
					}
				}
				if len(tt.fields) > 0 && len(p.Errors) == 0 {
					t.Errorf("no errors in %+v", p)
				}
				if !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("detail %q does not mention %q", p.Detail, tt.detail)
				}
			})
		}
		t.Run("oversized chunked", func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "PUT", b.srv.URL+"/admin/v1/bundles/eng", io.MultiReader(strings.NewReader(big)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+b.admin)
			send(t, req).problem(t, http.StatusRequestEntityTooLarge)
		})
		t.Run("nothing was written", func(t *testing.T) {
			for _, path := range []string{"/admin/v1/bundles", "/admin/v1/rules"} {
				if body := string(b.call(t, "GET", path, b.reader, "").want(t, 200).body); strings.Contains(body, `"name"`) {
					t.Errorf("%s after refused writes: %s", path, body)
				}
			}
			evs, err := st.ListEvents(t.Context(), store.AuditQuery{Actor: "admin"})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 0 {
				t.Errorf("refused writes audited: %+v", evs)
			}
		})
	})
}

func TestAdminConditionalWrites(t *testing.T) {
	t.Parallel()
	const item = "/admin/v1/bundles/eng"
	body := func(courses string) string { return `{"connector":"hooks","courses":[` + courses + `]}` }
	steps := []struct {
		name, method, body string
		header             []string
		status             int
		etag               string // wanted ETag, when the status carries one
	}{
		{"If-Match * on a missing bundle", "PUT", body(`"A"`), []string{"If-Match", "*"}, 412, ""},
		{"If-Match on a missing bundle", "PUT", body(`"A"`), []string{"If-Match", `W/"1"`}, 412, ""},
		{"If-Match 0 on a missing bundle", "PUT", body(`"A"`), []string{"If-Match", `W/"0"`}, 412, ""},
		{"create only", "PUT", body(`"A"`), []string{"If-None-Match", "*"}, 201, `W/"1"`},
		{"create only, again", "PUT", body(`"B"`), []string{"If-None-Match", "*"}, 412, ""},
		{"stale If-Match", "PUT", body(`"B"`), []string{"If-Match", `W/"7"`}, 412, ""},
		{"unparseable If-Match", "PUT", body(`"B"`), []string{"If-Match", `abc`}, 412, ""},
		{"weak If-Match", "PUT", body(`"B"`), []string{"If-Match", `W/"1"`}, 200, `W/"2"`},
		{"strong If-Match", "PUT", body(`"C"`), []string{"If-Match", `"2"`}, 200, `W/"3"`},
		{"If-Match list", "PUT", body(`"D"`), []string{"If-Match", `W/"9", W/"3"`}, 200, `W/"4"`},
		{"If-Match * on an existing bundle", "PUT", body(`"E"`), []string{"If-Match", "*"}, 200, `W/"5"`},
		{"not modified", "GET", "", []string{"If-None-Match", `W/"5"`}, 304, `W/"5"`},
		{"modified", "GET", "", []string{"If-None-Match", `W/"4"`}, 200, `W/"5"`},
		{"stale delete", "DELETE", "", []string{"If-Match", `W/"4"`}, 412, ""},
		{"delete", "DELETE", "", []string{"If-Match", `W/"5"`}, 204, ""},
		{"recreate", "PUT", body(`"A"`), []string{"If-None-Match", "*"}, 201, `W/"1"`},
	}
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		for _, s := range steps {
			r := b.call(t, s.method, item, b.admin, s.body, s.header...)
			if s.status >= 400 {
				r.problem(t, s.status)
			} else if r.status != s.status {
				t.Fatalf("%s: status %d, want %d: %s", s.name, r.status, s.status, r.body)
			}
			if got := r.header.Get("ETag"); s.etag != "" && got != s.etag {
				t.Errorf("%s: ETag %q, want %q", s.name, got, s.etag)
			}
		}
	})
}

func TestAdminIdempotentPut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path string
		bodies     []string // the first creates; the others are the same definition
	}{
		{"bundle", "/admin/v1/bundles/same", []string{
			`{"connector":"hooks","courses":["A","B"]}`,
			`{"connector":"hooks","courses":["A","B"]}`,
			`{"name":"same","courses":["A","B"],"connector":"hooks","on_deactivate":"unenroll"}`,
		}},
		{"rule", "/admin/v1/rules/same-rule", []string{
			`{"group":"Sales","bundles":["same"]}`,
			`{"bundles":["same"],"group":"Sales"}`,
		}},
	}
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b.call(t, "PUT", tt.path, b.admin, tt.bodies[0]).want(t, http.StatusCreated)
				for _, body := range tt.bodies[1:] {
					r := b.call(t, "PUT", tt.path, b.admin, body).want(t, http.StatusOK)
					subset(t, r.object(t), `{"version":1}`)
					if et := r.header.Get("ETag"); et != `W/"1"` {
						t.Errorf("ETag %q", et)
					}
				}
				name := tt.path[strings.LastIndex(tt.path, "/")+1:]
				evs, err := st.ListEvents(t.Context(), store.AuditQuery{ResourceID: name})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 || !strings.HasSuffix(evs[0].Action, ".create") {
					t.Errorf("events %+v, want one create", evs)
				}
			})
		}
	})
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		bundle := `{"connector":"demo","courses":["A"]}`
		tests := []struct {
			name, method, path, token, body string
			status                          int
			allow                           string // wanted Allow on a 405
		}{
			{name: "no token", method: "GET", path: "/admin/v1/bundles", status: 401},
			{name: "unknown token", method: "GET", path: "/admin/v1/bundles", token: "onr_nope", status: 401},
			{name: "no token, unknown path", method: "GET", path: "/admin/v1/nothing", status: 401},
			{name: "SCIM token", method: "GET", path: "/admin/v1/bundles", token: b.scim, status: 403},
			{name: "reader reads", method: "GET", path: "/admin/v1/bundles", token: b.reader, status: 200},
			{name: "reader reads HEAD", method: "HEAD", path: "/admin/v1/connectors", token: b.reader, status: 200},
			{name: "reader cannot put", method: "PUT", path: "/admin/v1/bundles/x", token: b.reader, body: bundle, status: 403},
			{name: "reader cannot delete", method: "DELETE", path: "/admin/v1/rules/x", token: b.reader, status: 403},
			{name: "reader cannot replay", method: "POST", path: "/admin/v1/deliveries/1/replay", token: b.reader, status: 403},
			{name: "admin writes", method: "PUT", path: "/admin/v1/bundles/x", token: b.admin, body: bundle, status: 201},
			{name: "unknown path", method: "GET", path: "/admin/v1/nothing", token: b.admin, status: 404},
			{name: "prefix only", method: "GET", path: "/admin/v1", token: b.admin, status: 404},
			{name: "wrong method on a list", method: "POST", path: "/admin/v1/bundles", token: b.admin, body: bundle, status: 405, allow: "GET, HEAD"},
			{name: "wrong method on an item", method: "PATCH", path: "/admin/v1/rules/x", token: b.admin, body: "{}", status: 405, allow: "DELETE, GET, HEAD, PUT"},
			{name: "wrong method on connectors", method: "DELETE", path: "/admin/v1/connectors", token: b.admin, status: 405, allow: "GET, HEAD"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := b.call(t, tt.method, tt.path, tt.token, tt.body)
				if tt.status < 400 {
					r.want(t, tt.status)
					return
				}
				if tt.method == "HEAD" {
					r.want(t, tt.status)
				} else {
					r.problem(t, tt.status)
				}
				switch tt.status {
				case 401:
					if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
						t.Errorf("WWW-Authenticate %q", h)
					}
				case 403:
					if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, "insufficient_scope") {
						t.Errorf("WWW-Authenticate %q", h)
					}
				case 405:
					if h := r.header.Get("Allow"); h != tt.allow {
						t.Errorf("Allow %q, want %q", h, tt.allow)
					}
				}
			})
		}
		t.Run("SCIM errors stay SCIM", func(t *testing.T) {
			for _, tc := range []struct {
				token  string
				status int
			}{{"", 401}, {b.admin, 403}} {
				req, err := http.NewRequestWithContext(t.Context(), "GET", b.srv.URL+"/scim/v2/Users", nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				scimErrorBody(t, resp, tc.status)
				resp.Body.Close()
			}
		})
	})
}

func TestAdminAudit(t *testing.T) {
	t.Parallel()
	steps := []struct {
		method, path, body string
		action             string
		status             int
		resourceType       string
		summary            string
	}{
		{"PUT", "/admin/v1/bundles/eng-onboarding", `{"connector":"hooks","courses":["SEC-101","GIT-201"]}`, "bundle.create", 201, "Bundle",
			`created bundle "eng-onboarding": 2 courses in connector "hooks", on_deactivate unenroll`},
		{"PUT", "/admin/v1/bundles/eng-onboarding", `{"connector":"hooks","courses":["SEC-101","GIT-201","OPS-1"],"on_deactivate":"suspend"}`, "bundle.update", 200, "Bundle",
			`updated bundle "eng-onboarding" (changed courses, on_deactivate): 3 courses in connector "hooks", on_deactivate suspend`},
		{"PUT", "/admin/v1/rules/engineers", `{"group":"Engineering","bundles":["eng-onboarding"]}`, "rule.create", 201, "Rule",
			`created rule "engineers": group "Engineering" to bundle eng-onboarding`},
		{"PUT", "/admin/v1/rules/engineers", `{"group_id":"g-123","bundles":["eng-onboarding","sec"]}`, "rule.update", 200, "Rule",
			`updated rule "engineers" (changed group, group_id, bundles): group id "g-123" to bundles eng-onboarding, sec`},
		{"DELETE", "/admin/v1/rules/engineers", "", "rule.delete", 204, "Rule",
			`deleted rule "engineers": group id "g-123" to bundles eng-onboarding, sec`},
		{"DELETE", "/admin/v1/bundles/eng-onboarding", "", "bundle.delete", 204, "Bundle",
			`deleted bundle "eng-onboarding": 3 courses in connector "hooks", on_deactivate suspend`},
	}
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		for i, s := range steps {
			cid := "admin-audit-" + string(rune('a'+i))
			r := b.call(t, s.method, s.path, b.admin, s.body, "X-Correlation-ID", cid).want(t, s.status)
			if got := r.header.Get("X-Correlation-ID"); got != cid {
				t.Errorf("X-Correlation-ID %q, want %q", got, cid)
			}
			evs, err := st.ListEvents(t.Context(), store.AuditQuery{CorrelationID: cid})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("%s: %d events, want 1: %+v", s.action, len(evs), evs)
			}
			ev := evs[0]
			if ev.Actor != "admin" || ev.Action != s.action || ev.Status != s.status || ev.ResourceType != s.resourceType ||
				ev.Outcome != store.OutcomeSuccess || ev.Summary != s.summary {
				t.Errorf("event %+v\nwant actor admin, action %s, status %d, type %s, summary %q", ev, s.action, s.status, s.resourceType, s.summary)
			}
		}
	})
}

func TestAdminConnectors(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		r := b.call(t, "GET", "/admin/v1/connectors", b.reader, "").want(t, http.StatusOK)
		var got, want any
		r.decode(t, &got)
		if err := json.Unmarshal([]byte(`{"connectors":[
			{"name":"demo","type":"log"},
			{"name":"hooks","type":"webhook","url":"https://lms.example.com/onramp"},
			{"name":"moodle","type":"moodle","url":"https://moodle.example.com"}]}`), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("connectors %s", r.body)
		}
		for _, secret := range []string{"hunter2", "s3cret", "frag", "ONRAMP_HOOKS_SECRET", "MOODLE_TOKEN", "_env"} {
			if bytes.Contains(r.body, []byte(secret)) {
				t.Errorf("connectors show %q: %s", secret, r.body)
			}
		}
	})
}

func TestAdminInternalError(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		if _, err := st.DB().ExecContext(t.Context(), "DROP TABLE bundles"); err != nil {
			t.Fatal(err)
		}
		const cid = "admin-broken-1"
		p := b.call(t, "GET", "/admin/v1/bundles", b.reader, "", "X-Correlation-ID", cid).problem(t, http.StatusInternalServerError)
		if p.Detail != "Internal server error; correlation id "+cid+"." {
			t.Errorf("detail %q shows more than the correlation id", p.Detail)
		}
		logs := b.logs.String()
		if !strings.Contains(logs, "admin request failed") || !strings.Contains(logs, cid) {
			t.Errorf("error not logged with its correlation id: %s", logs)
		}
	})
}

func TestAdminConcurrentPuts(t *testing.T) {
	t.Parallel()
	const writers = 4
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		statuses := make(chan int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				body := `{"connector":"demo","courses":["C` + strconv.Itoa(i) + `"]}`
				r, err := b.request(t.Context(), "PUT", "/admin/v1/bundles/contended", b.admin, body, "X-Correlation-ID", "race-"+strconv.Itoa(i))
				if err != nil {
					t.Error(err)
				}
				statuses <- r.status
			})
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusCreated] != 1 || count[http.StatusOK] != writers-1 {
			t.Fatalf("statuses %v, want one 201 and %d 200", count, writers-1)
		}
		subset(t, b.call(t, "GET", "/admin/v1/bundles/contended", b.reader, "").want(t, 200).object(t), `{"version":4}`)
		for i := range writers {
			evs, err := st.ListEvents(t.Context(), store.AuditQuery{CorrelationID: "race-" + strconv.Itoa(i)})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || (evs[0].Action == "bundle.create") != (evs[0].Status == http.StatusCreated) {
				t.Errorf("writer %d: events %+v", i, evs)
			}
		}
	})
}
