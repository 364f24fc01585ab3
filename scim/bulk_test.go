package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// bulkEnv is a Handler on a real store, driven in-process with a principal
// and a correlation id in every request's context, as the server's
// middleware would put them.
type bulkEnv struct {
	h  *Handler
	st *store.Store
}

const bulkTestBase = "https://onramp.test/scim/v2"

func newBulkEnv(t testing.TB, st *store.Store) *bulkEnv {
	t.Helper()
	return &bulkEnv{st: st, h: NewHandler(Config{Store: st, BaseURL: bulkTestBase})}
}

// send serves one request with correlation id corr.
func (e *bulkEnv) send(t testing.TB, method, target, corr string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	ctx := reqctx.WithCorrelationID(context.Background(), corr)
	ctx = reqctx.WithPrincipal(ctx, reqctx.Principal{Name: "bulk-tester"})
	req := httptest.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// bulkOutcome is a decoded BulkResponse.
type bulkOutcome struct {
	Schemas    []string
	Operations []struct {
		Method   string
		BulkID   string
		Version  string
		Location string
		Status   any // must be a string
		Response map[string]any
	}
}

// bulk POSTs a BulkRequest with ops and requires a 200 BulkResponse.
func (e *bulkEnv) bulk(t testing.TB, corr string, failOnErrors any, ops ...any) bulkOutcome {
	t.Helper()
	if ops == nil {
		ops = []any{}
	}
	msg := map[string]any{"schemas": []string{bulkRequestURN}, "Operations": ops}
	if failOnErrors != nil {
		msg["failOnErrors"] = failOnErrors
	}
	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	w := e.send(t, http.MethodPost, "/Bulk", corr, body)
	if w.Code != http.StatusOK {
		t.Fatalf("POST /Bulk: %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type %q, want application/scim+json", ct)
	}
	var out bulkOutcome
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("BulkResponse is not JSON: %v: %s", err, w.Body)
	}
	if !slices.Equal(out.Schemas, []string{bulkResponseURN}) {
		t.Errorf("schemas %v, want [%s]", out.Schemas, bulkResponseURN)
	}
	for i, op := range out.Operations {
		if _, ok := op.Status.(string); !ok {
			t.Errorf("Operations[%d].status = %#v, want a string", i, op.Status)
		}
	}
	return out
}

// statuses is the status of each response entry.
func (o bulkOutcome) statuses() []string {
	var out []string
	for _, op := range o.Operations {
		s, _ := op.Status.(string)
		out = append(out, s)
	}
	return out
}

// get reads a resource, requiring 200.
func (e *bulkEnv) get(t testing.TB, path string) map[string]any {
	t.Helper()
	w := e.send(t, http.MethodGet, path, "get", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *bulkEnv) status(t testing.TB, method, path string) int {
	t.Helper()
	return e.send(t, method, path, "probe", nil).Code
}

func postUser(bulkID, userName string, extra ...any) map[string]any {
	data := map[string]any{"schemas": []string{userSchemaURN}, "userName": userName}
	for i := 0; i+1 < len(extra); i += 2 {
		data[extra[i].(string)] = extra[i+1]
	}
	return map[string]any{"method": "POST", "bulkId": bulkID, "path": "/Users", "data": data}
}

func postGroup(bulkID, displayName string, members ...string) map[string]any {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	return map[string]any{"method": "POST", "bulkId": bulkID, "path": "/Groups", "data": map[string]any{
		"schemas": []string{groupSchemaURN}, "displayName": displayName, "members": ms,
	}}
}

func patchOpMsg(path string, ops ...map[string]any) map[string]any {
	return map[string]any{"method": "PATCH", "path": path, "data": map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops,
	}}
}

// idOf is the id at the end of a location.
func idOf(t testing.TB, location string) string {
	t.Helper()
	prefix := bulkTestBase + "/"
	if !strings.HasPrefix(location, prefix) {
		t.Fatalf("location %q is not under %s", location, prefix)
	}
	_, id, _ := strings.Cut(strings.TrimPrefix(location, prefix), "/")
	return id
}

func bulkMemberIDs(t testing.TB, group map[string]any) []string {
	t.Helper()
	var out []string
	ms, _ := group["members"].([]any)
	for _, m := range ms {
		v, _ := m.(map[string]any)["value"].(string)
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func TestParseBulkRequestErrors(t *testing.T) {
	t.Parallel()
	manyOps := `{"schemas":["` + bulkRequestURN + `"],"Operations":[` +
		strings.TrimSuffix(strings.Repeat(`{"method":"DELETE","path":"/Users/x"},`, BulkMaxOperations+1), ",") + `]}`
	for _, tc := range []struct {
		name, body string
		status     int
		scimType   string
		mentions   string
	}{
		{"not JSON", `{"schemas":`, 400, "invalidSyntax", "not a JSON object"},
		{"JSON array", `[]`, 400, "invalidSyntax", "not a JSON object"},
		{"no schemas", `{"Operations":[]}`, 400, "invalidSyntax", bulkRequestURN},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, 400, "invalidSyntax", bulkRequestURN},
		{"schemas a string", `{"schemas":"` + bulkRequestURN + `","Operations":[]}`, 400, "invalidSyntax", bulkRequestURN},
		{"failOnErrors string", `{"schemas":["` + bulkRequestURN + `"],"failOnErrors":"1","Operations":[]}`, 400, "invalidValue", "failOnErrors"},
		{"failOnErrors negative", `{"schemas":["` + bulkRequestURN + `"],"failOnErrors":-1,"Operations":[]}`, 400, "invalidValue", "failOnErrors"},
		{"failOnErrors fraction", `{"schemas":["` + bulkRequestURN + `"],"failOnErrors":1.5,"Operations":[]}`, 400, "invalidValue", "failOnErrors"},
		{"no Operations", `{"schemas":["` + bulkRequestURN + `"]}`, 400, "invalidSyntax", "Operations is required"},
		{"null Operations", `{"schemas":["` + bulkRequestURN + `"],"Operations":null}`, 400, "invalidSyntax", "Operations is required"},
		{"Operations an object", `{"schemas":["` + bulkRequestURN + `"],"Operations":{}}`, 400, "invalidSyntax", "array"},
		{"too many operations", manyOps, 413, "", fmt.Sprintf("maxOperations (%d)", BulkMaxOperations)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, se := parseBulkRequest([]byte(tc.body))
			if se == nil {
				t.Fatalf("no error, want %d %s", tc.status, tc.scimType)
			}
			if se.Status != tc.status || string(se.ScimType) != tc.scimType || !strings.Contains(se.Detail, tc.mentions) {
				t.Errorf("got %d %q %q, want %d %q mentioning %q", se.Status, se.ScimType, se.Detail, tc.status, tc.scimType, tc.mentions)
			}
		})
	}
}

func TestParseBulkRequest(t *testing.T) {
	t.Parallel()
	req, se := parseBulkRequest([]byte(`{"schemas":["` + strings.ToUpper(bulkRequestURN) + `"],"failonerrors":3,"operations":[
		{"method":"post","bulkId":"u1","path":"/users","data":{"userName":"a"}},
		{"METHOD":"DELETE","PATH":"/Groups/g%2F1x","version":"W/\"2\""},
		{"method":"PATCH","path":"/Groups/bulkId:g1","data":{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:u1"}]}]}}
	]}`))
	if se != nil {
		t.Fatal(se)
	}
	if req.failOnErrors != 3 || len(req.ops) != 3 {
		t.Fatalf("failOnErrors %d, %d ops; want 3, 3", req.failOnErrors, len(req.ops))
	}
	type got struct {
		method, bulkID, version, endpoint, id string
		refs                                  []string
	}
	want := []got{
		{"POST", "u1", "", "/Users", "", nil},
		{"DELETE", "", `W/"2"`, "", "", nil}, // "g/1x" holds a slash: refused
		{"PATCH", "", "", "/Groups", "bulkId:g1", []string{"g1", "u1"}},
	}
	for i, op := range req.ops {
		g := got{op.method, op.bulkID, op.version, op.endpoint, op.id, op.refs}
		if fmt.Sprint(g) != fmt.Sprint(want[i]) {
			t.Errorf("op %d = %+v, want %+v", i, g, want[i])
		}
	}
	if req.ops[0].err != nil || req.ops[2].err != nil || req.ops[1].err == nil {
		t.Errorf("errors %v, %v, %v: want only op 1 refused (an id with a slash)", req.ops[0].err, req.ops[1].err, req.ops[2].err)
	}

	req, se = parseBulkRequest([]byte(`{"schemas":["` + bulkRequestURN + `"],"Operations":[]}`))
	if se != nil || req.failOnErrors != -1 || len(req.ops) != 0 {
		t.Errorf("empty request: %v, %+v; want no error, failOnErrors -1, no ops", se, req)
	}
}

func TestParseBulkOpErrors(t *testing.T) {
	t.Parallel()
	user := `{"schemas":["` + userSchemaURN + `"],"userName":"a"}`
	for _, tc := range []struct {
		name, op string
		scimType string
		mentions string
		method   string // echoed in the response
	}{
		{"not an object", `"POST /Users"`, "invalidSyntax", "must be an object", ""},
		{"null", `null`, "invalidSyntax", "must be an object", ""},
		{"no method", `{"path":"/Users","bulkId":"a","data":` + user + `}`, "invalidSyntax", "method is required", ""},
		{"method a number", `{"method":1,"path":"/Users"}`, "invalidSyntax", "method must be a string", ""},
		{"method GET", `{"method":"GET","path":"/Users/x"}`, "invalidValue", `"GET" is not allowed`, "GET"},
		{"no path", `{"method":"DELETE"}`, "invalidSyntax", "path is required", "DELETE"},
		{"path a number", `{"method":"DELETE","path":7}`, "invalidSyntax", "path must be a string", "DELETE"},
		{"other endpoint", `{"method":"DELETE","path":"/Schemas/x"}`, "invalidValue", "not a resource path", "DELETE"},
		{"Bulk itself", `{"method":"POST","bulkId":"b","path":"/Bulk","data":{}}`, "invalidValue", "not a resource path", "POST"},
		{"relative path", `{"method":"DELETE","path":"Users/x"}`, "invalidValue", "not a resource path", "DELETE"},
		{"nested path", `{"method":"DELETE","path":"/Users/x/y"}`, "invalidValue", "not a resource path", "DELETE"},
		{"query", `{"method":"DELETE","path":"/Users/x?attributes=id"}`, "invalidValue", "not a resource path", "DELETE"},
		{"trailing slash", `{"method":"POST","bulkId":"b","path":"/Users/","data":` + user + `}`, "invalidValue", "not a resource path", "POST"},
		{"bad escape", `{"method":"DELETE","path":"/Users/%zz"}`, "invalidValue", "not a resource path", "DELETE"},
		{"POST to a resource", `{"method":"POST","bulkId":"b","path":"/Users/x","data":` + user + `}`, "invalidValue", "a POST names a resource type endpoint", "POST"},
		{"PATCH a collection", `{"method":"PATCH","path":"/Groups","data":{}}`, "invalidValue", "a PATCH names one resource", "PATCH"},
		{"DELETE a collection", `{"method":"DELETE","path":"/Users"}`, "invalidValue", "a DELETE names one resource", "DELETE"},
		{"POST without bulkId", `{"method":"POST","path":"/Users","data":` + user + `}`, "invalidValue", "bulkId is required for a POST", "POST"},
		{"empty bulkId", `{"method":"POST","bulkId":"","path":"/Users","data":` + user + `}`, "invalidValue", "bulkId must not be empty", "POST"},
		{"bulkId a number", `{"method":"POST","bulkId":7,"path":"/Users","data":` + user + `}`, "invalidSyntax", "bulkId must be a string", "POST"},
		{"version a number", `{"method":"DELETE","path":"/Users/x","version":3}`, "invalidSyntax", "version must be a string", "DELETE"},
		{"POST without data", `{"method":"POST","bulkId":"b","path":"/Users"}`, "invalidSyntax", "data is required for a POST", "POST"},
		{"PUT with null data", `{"method":"PUT","path":"/Users/x","data":null}`, "invalidSyntax", "data is required for a PUT", "PUT"},
		{"data a string", `{"method":"PATCH","path":"/Users/x","data":"replace"}`, "invalidSyntax", "data must be a JSON object", "PATCH"},
		{"data an array", `{"method":"PUT","path":"/Users/x","data":[]}`, "invalidSyntax", "data must be a JSON object", "PUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op := parseBulkOp(4, json.RawMessage(tc.op))
			if op.err == nil {
				t.Fatalf("accepted %s", tc.op)
			}
			if op.err.Status != http.StatusBadRequest || string(op.err.ScimType) != tc.scimType ||
				!strings.Contains(op.err.Detail, tc.mentions) || !strings.HasPrefix(op.err.Detail, "Operations[4]") {
				t.Errorf("got %d %q %q, want 400 %q mentioning %q", op.err.Status, op.err.ScimType, op.err.Detail, tc.scimType, tc.mentions)
			}
			if op.method != tc.method {
				t.Errorf("method %q, want %q echoed", op.method, tc.method)
			}
		})
	}

	t.Run("DELETE ignores data", func(t *testing.T) {
		t.Parallel()
		if op := parseBulkOp(0, json.RawMessage(`{"method":"delete","path":"/Users/x","data":"ignored"}`)); op.err != nil {
			t.Errorf("refused: %v", op.err)
		}
	})
	t.Run("duplicate bulkId", func(t *testing.T) {
		t.Parallel()
		req, se := parseBulkRequest([]byte(`{"schemas":["` + bulkRequestURN + `"],"Operations":[` +
			`{"method":"POST","bulkId":"a","path":"/Users","data":` + user + `},` +
			`{"method":"POST","bulkId":"a","path":"/Groups","data":{"displayName":"g"}}]}`))
		if se != nil {
			t.Fatal(se)
		}
		if req.ops[0].err != nil || req.ops[1].err == nil || !strings.Contains(req.ops[1].err.Detail, "unique") {
			t.Errorf("errors %v, %v: want the second POST refused for its duplicate bulkId", req.ops[0].err, req.ops[1].err)
		}
	})
}

func TestBulkDataRefs(t *testing.T) {
	t.Parallel()
	ids := map[string]string{"u1": "id-1", "u2": "id-2", "failed": ""}
	lookup := func(ref string) (string, error) {
		if id := ids[ref]; id != "" {
			return id, nil
		}
		_, posted := ids[ref]
		return "", &unresolvedRef{ref: ref, posted: posted}
	}
	for _, tc := range []struct {
		name, data string
		refs       []string
		resolved   string // "" when resolving fails
		unchanged  bool   // resolved is data itself, not re-encoded
	}{
		{"no reference", `{"userName":"bulk"}`, nil, `{"userName":"bulk"}`, true},
		{"member value", `{"members":[{"value":"bulkId:u1"},{"value":"plain"}]}`, []string{"u1"},
			`{"members":[{"value":"id-1"},{"value":"plain"}]}`, false},
		{"nested and repeated", `{"a":{"b":["bulkId:u2",{"c":"bulkId:u1"}]},"d":"bulkId:u2"}`, []string{"u2", "u1", "u2"},
			`{"a":{"b":["id-2",{"c":"id-1"}]},"d":"id-2"}`, false},
		{"escaped", `{"value":"bulkId\u003au1"}`, []string{"u1"}, `{"value":"id-1"}`, false},
		{"key not value", `{"bulkId:u1":"x"}`, nil, `{"bulkId:u1":"x"}`, true},
		{"prefix inside a string", `{"value":"see bulkId:u1"}`, nil, `{"value":"see bulkId:u1"}`, true},
		{"numbers kept exact", `{"n":12345678901234567890,"v":"bulkId:u1"}`, []string{"u1"}, `{"n":12345678901234567890,"v":"id-1"}`, false},
		{"undefined", `{"value":"bulkId:nope"}`, []string{"nope"}, "", false},
		{"failed POST", `{"value":"bulkId:failed"}`, []string{"failed"}, "", false},
		{"empty reference", `{"value":"bulkId:"}`, []string{""}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Object members are visited in no particular order.
			refs := dataRefs(json.RawMessage(tc.data))
			slices.Sort(refs)
			if want := slices.Sorted(slices.Values(tc.refs)); !slices.Equal(refs, want) {
				t.Errorf("refs %q, want %q", refs, want)
			}
			in := json.RawMessage(tc.data)
			out, err := resolveData(in, lookup)
			if tc.resolved == "" {
				var ur *unresolvedRef
				if !errors.As(err, &ur) || !strings.Contains(err.Error(), "cannot be resolved") {
					t.Errorf("resolveData: %s, %v; want an unresolved reference", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.resolved {
				t.Errorf("resolved %s, want %s", out, tc.resolved)
			}
			if tc.unchanged && &out[0] != &in[0] {
				t.Errorf("data without references was re-encoded: %s", out)
			}
		})
	}
}

func TestBulkOrder(t *testing.T) {
	t.Parallel()
	// op builds an operation: method, bulkId and the bulkIds it refers to.
	op := func(method, bulkID string, refs ...string) *bulkOp {
		return &bulkOp{method: method, bulkID: bulkID, refs: refs}
	}
	refused := &bulkOp{method: "POST", bulkID: "r"}
	refused.fail(badRequest("invalidValue", "refused"))
	for _, tc := range []struct {
		name   string
		ops    []*bulkOp
		order  []int
		cyclic []int
	}{
		{"request order", []*bulkOp{op("POST", "a"), op("POST", "b"), op("DELETE", "")}, []int{0, 1, 2}, nil},
		{"backward reference keeps order", []*bulkOp{op("POST", "u1"), op("POST", "g1", "u1"), op("POST", "u2")}, []int{0, 1, 2}, nil},
		{"forward reference", []*bulkOp{op("PATCH", "", "g1"), op("POST", "g1")}, []int{1, 0}, nil},
		{"forward chain", []*bulkOp{op("POST", "a", "b"), op("POST", "b", "c"), op("POST", "c"), op("DELETE", "")}, []int{2, 1, 0, 3}, nil},
		{"earliest ready first", []*bulkOp{op("POST", "g", "u"), op("DELETE", ""), op("POST", "u"), op("DELETE", "")}, []int{1, 2, 0, 3}, nil},
		{"two-cycle", []*bulkOp{op("POST", "a", "b"), op("POST", "b", "a"), op("POST", "c")}, []int{2, 0, 1}, []int{0}},
		{"self reference", []*bulkOp{op("POST", "a", "a"), op("POST", "b", "a")}, []int{0, 1}, []int{0}},
		{"waits on a cycle", []*bulkOp{op("PATCH", "", "b"), op("POST", "b", "c"), op("POST", "c", "b")}, []int{1, 0, 2}, []int{1}},
		{"undefined reference", []*bulkOp{op("PATCH", "", "zz"), op("POST", "a")}, []int{0, 1}, nil},
		{"reference to a refused POST", []*bulkOp{op("PATCH", "", "r"), refused}, []int{0, 1}, nil},
		{"reference to a non-POST bulkId", []*bulkOp{op("PATCH", "", "p"), op("PATCH", "p")}, []int{0, 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			order, cyclic := bulkOrder(tc.ops)
			if !slices.Equal(order, tc.order) {
				t.Errorf("order %v, want %v", order, tc.order)
			}
			var got []int
			for i := range cyclic {
				got = append(got, i)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.cyclic) {
				t.Errorf("cyclic %v, want %v", got, tc.cyclic)
			}
		})
	}
}

func TestIndexHeap(t *testing.T) {
	t.Parallel()
	in := []int{5, 3, 9, 0, 7, 3, 1, 8, 2}
	h := &indexHeap{}
	for _, x := range in {
		h.push(x)
	}
	var out []int
	for h.len() > 0 {
		out = append(out, h.pop())
	}
	want := slices.Clone(in)
	slices.Sort(want)
	if !slices.Equal(out, want) {
		t.Errorf("popped %v, want %v", out, want)
	}
}

func TestParseBulkPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, endpoint, id string }{
		{"/Users", "/Users", ""},
		{"/Groups", "/Groups", ""},
		{"/users", "/Users", ""},
		{"/Users/abc", "/Users", "abc"},
		{"/Groups/bulkId:g1", "/Groups", "bulkId:g1"},
		{"/Groups/bulkId%3Ag1", "/Groups", "bulkId:g1"},
		{"/Users/a%20b", "/Users", "a b"},
		{"/Users/", "", ""},
		{"/Users/a/b", "", ""},
		{"/Users/a%2Fb", "", ""},
		{"Users", "", ""},
		{"", "", ""},
		{"/", "", ""},
		{"/Me", "", ""},
		{"/Users/.search", "/Users", ".search"}, // the id ".search" is not found, like any other
		{"/Users?filter=x", "", ""},
		{"/Users#x", "", ""},
	} {
		endpoint, id, ok := parseBulkPath(tc.path)
		if ok != (tc.endpoint != "") || endpoint != tc.endpoint || id != tc.id {
			t.Errorf("parseBulkPath(%q) = %q, %q, %v; want %q, %q", tc.path, endpoint, id, ok, tc.endpoint, tc.id)
		}
	}
}

// TestBulk drives Bulk requests through the Handler on SQLite.
func TestBulk(t *testing.T) {
	t.Parallel()
	e := newBulkEnv(t, storetest.OpenSQLite(t))

	t.Run("user added to a group by bulkId", func(t *testing.T) {
		out := e.bulk(t, "corr-bulk-1", nil,
			postUser("u1", "ada@example.com", "displayName", "Ada"),
			postGroup("g1", "Analysts", "bulkId:u1"),
		)
		if got := out.statuses(); !slices.Equal(got, []string{"201", "201"}) {
			t.Fatalf("statuses %v, want [201 201]: %+v", got, out)
		}
		for i, want := range []struct{ bulkID, endpoint string }{{"u1", "/Users/"}, {"g1", "/Groups/"}} {
			op := out.Operations[i]
			if op.Method != "POST" || op.BulkID != want.bulkID || !strings.HasPrefix(op.Location, bulkTestBase+want.endpoint) ||
				op.Version != `W/"1"` || op.Response != nil {
				t.Errorf("Operations[%d] = %+v: want method POST, bulkId %s, a location under %s, version W/\"1\", no response",
					i, op, want.bulkID, want.endpoint)
			}
		}
		uid, gid := idOf(t, out.Operations[0].Location), idOf(t, out.Operations[1].Location)
		if got := bulkMemberIDs(t, e.get(t, "/Groups/"+gid)); !slices.Equal(got, []string{uid}) {
			t.Errorf("group members %v, want [%s]", got, uid)
		}
		groups, _ := e.get(t, "/Users/"+uid)["groups"].([]any)
		if len(groups) != 1 || groups[0].(map[string]any)["value"] != gid {
			t.Errorf("user groups %v, want the group %s", groups, gid)
		}
	})

	t.Run("forward reference", func(t *testing.T) {
		out := e.bulk(t, "corr-bulk-2", nil,
			postGroup("g2", "Forward", "bulkId:u2", "bulkId:u3"),
			postUser("u2", "grace@example.com"),
			map[string]any{"method": "POST", "bulkId": "u3", "path": "/Users", "data": map[string]any{
				"schemas": []string{userSchemaURN}, "userName": "linus@example.com",
			}},
		)
		if got := out.statuses(); !slices.Equal(got, []string{"201", "201", "201"}) {
			t.Fatalf("statuses %v, want three 201s: %+v", got, out)
		}
		// Reported in request order, though the group ran last.
		if out.Operations[0].BulkID != "g2" || out.Operations[1].BulkID != "u2" || out.Operations[2].BulkID != "u3" {
			t.Errorf("response order %+v, want the request's", out.Operations)
		}
		gid := idOf(t, out.Operations[0].Location)
		want := []string{idOf(t, out.Operations[1].Location), idOf(t, out.Operations[2].Location)}
		slices.Sort(want)
		if got := bulkMemberIDs(t, e.get(t, "/Groups/"+gid)); !slices.Equal(got, want) {
			t.Errorf("group members %v, want %v", got, want)
		}
	})

	t.Run("PUT PATCH DELETE", func(t *testing.T) {
		out := e.bulk(t, "corr-bulk-3", nil,
			postUser("a", "ann@example.com"),
			postUser("b", "bob@example.com"),
			postGroup("g", "Editors"),
			patchOpMsg("/Groups/bulkId:g", map[string]any{"op": "add", "path": "members", "value": []any{
				map[string]any{"value": "bulkId:a"}, map[string]any{"value": "bulkId:b"},
			}}),
			map[string]any{"method": "PUT", "path": "/Users/bulkId:a", "data": map[string]any{
				"schemas": []string{userSchemaURN}, "userName": "ann@example.com", "displayName": "Ann",
			}},
			map[string]any{"method": "DELETE", "path": "/Users/bulkId:b"},
			patchOpMsg("/Users/bulkId:a", map[string]any{"op": "replace", "path": "active", "value": false}),
		)
		got := out.statuses()
		for _, i := range []int{3, 6} { // a PATCH may answer 200 or 204
			if len(got) == 7 && got[i] == "204" {
				got[i] = "200"
			}
		}
		if !slices.Equal(got, []string{"201", "201", "201", "200", "200", "204", "200"}) {
			t.Fatalf("statuses %v, want 201 201 201 200|204 200 204 200|204: %+v", out.statuses(), out)
		}
		a, b, g := idOf(t, out.Operations[0].Location), idOf(t, out.Operations[1].Location), idOf(t, out.Operations[2].Location)
		for i, want := range []string{"/Groups/" + g, "/Users/" + a, "/Users/" + b, "/Users/" + a} {
			if op := out.Operations[3+i]; op.Location != bulkTestBase+want {
				t.Errorf("Operations[%d].location %q, want %s", 3+i, op.Location, bulkTestBase+want)
			}
		}
		if v := out.Operations[3].Version; v != `W/"2"` {
			t.Errorf("PATCH version %q, want W/\"2\"", v)
		}
		if v := out.Operations[5].Version; v != "" {
			t.Errorf("DELETE version %q, want none", v)
		}
		user := e.get(t, "/Users/"+a)
		if user["displayName"] != "Ann" || user["active"] != false {
			t.Errorf("user after PUT and PATCH: %v", user)
		}
		if got := bulkMemberIDs(t, e.get(t, "/Groups/"+g)); !slices.Equal(got, []string{a}) {
			t.Errorf("group members %v, want only %s (the other user was deleted)", got, a)
		}
		if s := e.status(t, http.MethodGet, "/Users/"+b); s != http.StatusNotFound {
			t.Errorf("deleted user: GET %d, want 404", s)
		}
	})

	t.Run("errors are per operation", func(t *testing.T) {
		out := e.bulk(t, "corr-bulk-4", nil,
			postUser("dup", "ada@example.com"), // taken by the first subtest
			postGroup("needs-dup", "Needs Dup", "bulkId:dup"),
			postGroup("needs-nothing", "Needs Nothing", "bulkId:undefined"),
			map[string]any{"method": "POST", "path": "/Users", "data": map[string]any{"userName": "nobulkid@example.com"}},
			postUser("typed", "typed@example.com", "active", []any{"not", "a", "boolean"}),
			map[string]any{"method": "PATCH", "path": "/Users/00000000-0000-0000-0000-000000000000", "data": map[string]any{
				"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
			}},
			map[string]any{"method": "GET", "path": "/Users"},
			postUser("ok", "ok@example.com"),
		)
		want := []struct {
			status, scimType, mentions string
		}{
			{"409", "uniqueness", ""},
			{"409", "invalidValue", `the POST with bulkId "dup" failed`},
			{"409", "invalidValue", `no POST operation in this request has bulkId "undefined"`},
			{"400", "invalidValue", "bulkId is required"},
			{"400", "", ""}, // the library's schema validation
			{"404", "", ""},
			{"400", "invalidValue", `"GET" is not allowed`},
			{"201", "", ""},
		}
		if len(out.Operations) != len(want) {
			t.Fatalf("%d results, want %d: %+v", len(out.Operations), len(want), out)
		}
		for i, w := range want {
			op := out.Operations[i]
			if op.Status != w.status {
				t.Errorf("Operations[%d].status %v, want %s: %+v", i, op.Status, w.status, op)
				continue
			}
			if w.status == "201" {
				continue
			}
			if op.Response == nil || op.Response["status"] != w.status || !slices.Contains(asStrings(op.Response["schemas"]), "urn:ietf:params:scim:api:messages:2.0:Error") {
				t.Errorf("Operations[%d].response %v, want a SCIM error with status %q", i, op.Response, w.status)
				continue
			}
			if w.scimType != "" && op.Response["scimType"] != w.scimType {
				t.Errorf("Operations[%d].response scimType %v, want %s", i, op.Response["scimType"], w.scimType)
			}
			if d, _ := op.Response["detail"].(string); !strings.Contains(d, w.mentions) {
				t.Errorf("Operations[%d].response detail %q, want it to mention %q", i, d, w.mentions)
			}
		}
		if out.Operations[0].Location != "" {
			t.Errorf("a failed POST has location %q, want none", out.Operations[0].Location)
		}
		if want := bulkTestBase + "/Users/00000000-0000-0000-0000-000000000000"; out.Operations[5].Location != want {
			t.Errorf("failed PATCH location %q, want %s", out.Operations[5].Location, want)
		}
	})

	t.Run("circular references", func(t *testing.T) {
		manager := func(ref string) map[string]any {
			return map[string]any{"manager": map[string]any{"value": ref}}
		}
		out := e.bulk(t, "corr-bulk-5", nil,
			postUser("c1", "c1@example.com", enterpriseSchemaURN, manager("bulkId:c2")),
			postUser("c2", "c2@example.com", enterpriseSchemaURN, manager("bulkId:c1")),
			postUser("c3", "c3@example.com", enterpriseSchemaURN, manager("bulkId:c4")),
			postUser("c4", "c4@example.com"),
		)
		if got := out.statuses(); !slices.Equal(got, []string{"409", "409", "201", "201"}) {
			t.Fatalf("statuses %v, want 409 409 201 201: %+v", got, out)
		}
		if d, _ := out.Operations[0].Response["detail"].(string); !strings.Contains(d, "cycle") {
			t.Errorf("first cycle member: detail %q, want it to name the cycle", d)
		}
		c3 := e.get(t, "/Users/"+idOf(t, out.Operations[2].Location))
		c4 := idOf(t, out.Operations[3].Location)
		if got := c3[enterpriseSchemaURN].(map[string]any)["manager"].(map[string]any)["value"]; got != c4 {
			t.Errorf("c3's manager %v, want c4 %s (a forward reference)", got, c4)
		}
	})

	t.Run("failOnErrors", func(t *testing.T) {
		for _, tc := range []struct {
			failOnErrors any
			want         []string
		}{
			{1, []string{"409"}},
			{0, []string{"409"}},
			{2, []string{"409", "201", "409"}},
			{nil, []string{"409", "201", "409", "201"}},
			{5, []string{"409", "201", "409", "201"}},
		} {
			t.Run(fmt.Sprint(tc.failOnErrors), func(t *testing.T) {
				tag := strconv.Itoa(int(time.Now().UnixNano()))
				out := e.bulk(t, "corr-fail", tc.failOnErrors,
					postUser("x1", "ada@example.com"),
					postUser("x2", "one-"+tag+"@example.com"),
					postUser("x3", "ADA@example.com"),
					postUser("x4", "two-"+tag+"@example.com"),
				)
				if got := out.statuses(); !slices.Equal(got, tc.want) {
					t.Errorf("statuses %v, want %v", got, tc.want)
				}
				if len(tc.want) == 1 {
					w := e.send(t, http.MethodGet, "/Users?filter="+strings.ReplaceAll(`userName eq "one-`+tag+`@example.com"`, " ", "%20"), "q", nil)
					if !strings.Contains(w.Body.String(), `"totalResults":0`) {
						t.Errorf("an operation after failOnErrors was reached was performed: %s", w.Body)
					}
				}
			})
		}
	})

	t.Run("one correlation id for every audit event", func(t *testing.T) {
		const corr = "corr-bulk-audit"
		out := e.bulk(t, corr, nil,
			postUser("au", "audit-user@example.com"),
			postGroup("ag", "Audited", "bulkId:au"),
			postUser("au-dup", "audit-user@example.com"),
			map[string]any{"method": "DELETE", "path": "/Users/bulkId:au"},
			patchOpMsg("/Groups/bulkId:nowhere", map[string]any{"op": "remove", "path": "members"}),
		)
		if got := out.statuses(); !slices.Equal(got, []string{"201", "201", "409", "204", "409"}) {
			t.Fatalf("statuses %v", got)
		}
		evs, err := e.st.ListEvents(t.Context(), store.AuditQuery{CorrelationID: corr})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, ev := range evs {
			actions = append(actions, ev.Action+":"+ev.Outcome)
			if ev.CorrelationID != corr || ev.Actor != "bulk-tester" {
				t.Errorf("event %+v: want correlation id %s, actor bulk-tester", ev, corr)
			}
			if ev.Action == "group.patch" && (ev.Status != http.StatusConflict || !strings.Contains(ev.Summary, `"bulkId:nowhere" cannot be resolved`)) {
				t.Errorf("refused reference: event %+v, want status 409 and the reason", ev)
			}
		}
		slices.Sort(actions)
		want := []string{"group.create:success", "group.patch:failure", "user.create:failure", "user.create:success", "user.delete:success"}
		if !slices.Equal(actions, want) {
			t.Errorf("audit events %v, want %v", actions, want)
		}
	})

	t.Run("version is If-Match", func(t *testing.T) {
		out := e.bulk(t, "corr-bulk-6", nil, postUser("v", "versioned@example.com"))
		loc := strings.TrimPrefix(out.Operations[0].Location, bulkTestBase)
		out = e.bulk(t, "corr-bulk-6", nil,
			map[string]any{"method": "DELETE", "path": loc, "version": `W/"7"`},
			patchOpMsg(loc, map[string]any{"op": "replace", "path": "displayName", "value": "V"}),
		)
		out.Operations[1].Method = "" // only the first matters here
		if got := out.statuses(); got[0] != "412" {
			t.Errorf("DELETE with a stale version: status %s, want 412 (%+v)", got[0], out.Operations[0])
		}
		patched := out.Operations[1].Version
		out = e.bulk(t, "corr-bulk-6", nil, map[string]any{"method": "DELETE", "path": loc, "version": patched})
		if got := out.statuses(); got[0] != "204" {
			t.Errorf("DELETE with the current version %s: status %s, want 204 (%+v)", patched, got[0], out.Operations[0])
		}
	})

	t.Run("request errors", func(t *testing.T) {
		if w := e.send(t, http.MethodGet, "/Bulk", "c", nil); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
			t.Errorf("GET /Bulk: %d (Allow %q), want 405 allowing POST", w.Code, w.Header().Get("Allow"))
		}
		w := e.send(t, http.MethodPost, "/Bulk", "c", []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`))
		checkBulkError(t, w, http.StatusBadRequest, "invalidSyntax")

		big := bytes.Repeat([]byte(" "), BulkMaxPayloadSize+1)
		copy(big, `{"schemas":["`+bulkRequestURN+`"],"Operations":[]}`)
		w = e.send(t, http.MethodPost, "/Bulk", "c", big)
		checkBulkError(t, w, http.StatusRequestEntityTooLarge, "")
		if !strings.Contains(w.Body.String(), "maxPayloadSize ("+strconv.Itoa(BulkMaxPayloadSize)) {
			t.Errorf("413 detail does not state the limit: %s", w.Body)
		}

		ops := make([]any, BulkMaxOperations+1)
		for i := range ops {
			ops[i] = map[string]any{"method": "DELETE", "path": "/Users/x"}
		}
		body, _ := json.Marshal(map[string]any{"schemas": []string{bulkRequestURN}, "Operations": ops})
		w = e.send(t, http.MethodPost, "/Bulk", "c", body)
		checkBulkError(t, w, http.StatusRequestEntityTooLarge, "")
		if !strings.Contains(w.Body.String(), "maxOperations ("+strconv.Itoa(BulkMaxOperations)) {
			t.Errorf("413 detail does not state the limit: %s", w.Body)
		}

		out := e.bulk(t, "c", nil)
		if len(out.Operations) != 0 {
			t.Errorf("empty request: %+v, want no operations", out)
		}
	})
}

func checkBulkError(t *testing.T, w *httptest.ResponseRecorder, status int, scimType string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != status {
		t.Fatalf("got %d %s, want a %d SCIM error", w.Code, w.Body, status)
	}
	if m["status"] != strconv.Itoa(status) || (scimType != "" && m["scimType"] != scimType) {
		t.Errorf("error %v, want status %q scimType %q", m, strconv.Itoa(status), scimType)
	}
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// bulkLoadBody is a BulkRequest creating n users, shaped as an IdP sends
// them (core and enterprise attributes).
func bulkLoadBody(tb testing.TB, prefix string, n int) []byte {
	tb.Helper()
	ops := make([]any, n)
	for i := range ops {
		name := fmt.Sprintf("%s%07d@load.example.com", prefix, i)
		ops[i] = map[string]any{"method": "POST", "bulkId": fmt.Sprint("u", i), "path": "/Users", "data": map[string]any{
			"schemas":           []string{userSchemaURN, enterpriseSchemaURN},
			"userName":          name,
			"externalId":        fmt.Sprintf("%s-ext-%07d", prefix, i),
			"active":            true,
			"displayName":       fmt.Sprintf("Load User %d", i),
			"name":              map[string]any{"givenName": "Load", "familyName": fmt.Sprintf("User%d", i)},
			"emails":            []any{map[string]any{"value": name, "type": "work", "primary": true}},
			enterpriseSchemaURN: map[string]any{"employeeNumber": fmt.Sprintf("%07d", i), "department": fmt.Sprintf("Dept %d", i%50)},
		}}
	}
	body, err := json.Marshal(map[string]any{"schemas": []string{bulkRequestURN}, "Operations": ops})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// bulkLoad sends body and checks that all n users were created.
func bulkLoad(tb testing.TB, e *bulkEnv, body []byte, n int) {
	tb.Helper()
	w := e.send(tb, http.MethodPost, "/Bulk", "load", body)
	if w.Code != http.StatusOK {
		tb.Fatalf("POST /Bulk: %d %s", w.Code, w.Body)
	}
	if got := strings.Count(w.Body.String(), `"status":"201"`); got != n {
		tb.Fatalf("%d operations answered 201, want %d: %s", got, n, w.Body.String()[:min(w.Body.Len(), 2000)])
	}
}

// TestBulkLoad10k loads 10,000 users in one Bulk request on each database
// and logs how long it took. It asserts no time. It skips under -short and
// under the race detector (make test), which makes it take minutes and
// measure the detector: run it with
//
//	go test -run TestBulkLoad10k -v ./scim
func TestBulkLoad10k(t *testing.T) {
	if testing.Short() || raceEnabled() {
		t.Skip("loads 10,000 users; skipped under -short and -race")
	}
	const n = BulkMaxOperations
	for _, db := range []struct {
		name string
		open func(*testing.T) *store.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(db.name, func(t *testing.T) {
			e := newBulkEnv(t, db.open(t))
			body := bulkLoadBody(t, "load", n)
			start := time.Now()
			bulkLoad(t, e, body, n)
			d := time.Since(start)
			t.Logf("%s: %d users in one Bulk request (%d bytes) in %s: %.0f creates/s",
				db.name, n, len(body), d.Round(time.Millisecond), float64(n)/d.Seconds())

			// The same users' worth of single POSTs, for comparison: what
			// Bulk costs over the store's own write path.
			const single = 1000
			start = time.Now()
			for i := range single {
				data, _ := json.Marshal(map[string]any{"schemas": []string{userSchemaURN}, "userName": fmt.Sprintf("single%07d@load.example.com", i)})
				if w := e.send(t, http.MethodPost, "/Users", "single", data); w.Code != http.StatusCreated {
					t.Fatalf("POST /Users: %d %s", w.Code, w.Body)
				}
			}
			d = time.Since(start)
			t.Logf("%s: %d single POST /Users in %s: %.0f creates/s", db.name, single, d.Round(time.Millisecond), float64(single)/d.Seconds())
		})
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// BenchmarkBulkCreate10k measures one Bulk request of 10,000 user POSTs on
// SQLite (synchronous=FULL, one transaction per operation).
func BenchmarkBulkCreate10k(b *testing.B) {
	const n = BulkMaxOperations
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		st, err := store.Open(ctx, "sqlite:"+b.TempDir()+"/bench.db")
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		e := newBulkEnv(b, st)
		body := bulkLoadBody(b, fmt.Sprint("b", i, "-"), n)
		b.StartTimer()
		bulkLoad(b, e, body, n)
		b.StopTimer()
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
