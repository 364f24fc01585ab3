package scim

// Bulk (RFC 7644 §3.7): POST /Bulk carries many resource operations in one
// request.
//
// Every operation runs as a sub-request through Handler.ServeHTTP, with the
// Bulk request's context (principal and correlation id), so that body
// validation, PATCH normalisation, ETag checks, errors and audit events are
// exactly those of the same request sent on its own, and every audit event
// of a Bulk request carries the request's one correlation id.
//
// A Bulk request is not atomic. Each operation is its own transaction: an
// operation that fails changes nothing, and does not undo the operations
// that succeeded before it. The server goes on after a failure (RFC 7644
// §3.7: "continue performing as many changes as possible") unless
// failOnErrors says otherwise.
//
// bulkId references: a string value that is exactly "bulkId:X", anywhere in
// an operation's data, or a path "/Users/bulkId:X" or "/Groups/bulkId:X", is
// replaced by the id of the resource that the POST with bulkId X created.
// Operations run in request order, except that an operation waits for the
// POSTs whose bulkIds it refers to (a stable topological order): forward
// references work. Onramp does not resolve circular references (§3.7.1
// allows a service provider to stop after a failed attempt): one operation
// of each cycle fails with 409, and the operations that refer to it then
// fail the same way. A reference that cannot be resolved, because no POST
// in the request has that bulkId or because that POST failed, is a 409
// (Conflict) with scimType invalidValue for the operation that holds it.
//
// Whole-request errors (the body is not a BulkRequest, failOnErrors is not a
// non-negative integer, Operations is missing or not an array) are a 400;
// more than BulkMaxOperations operations or a body over BulkMaxPayloadSize
// bytes is a 413 (§3.7.4). Everything wrong with a single operation
// (method, path, bulkId, data) is a 400 for that operation alone.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
)

// Bulk limits, advertised in /ServiceProviderConfig and enforced by POST
// /Bulk. The server's body limit for /scim/v2/Bulk must be at least
// BulkMaxPayloadSize.
const (
	// BulkMaxOperations is the most operations one Bulk request may hold:
	// enough for an initial load of 10,000 users in one request.
	BulkMaxOperations = 10_000
	// BulkMaxPayloadSize is the largest Bulk request body, in bytes (10 MiB):
	// 10,000 users of about 1 KB each, core and enterprise attributes.
	BulkMaxPayloadSize = 10 << 20
)

// Bulk message URNs.
const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// bulkIDPrefix marks a reference to another operation's bulkId.
const bulkIDPrefix = "bulkId:"

// bulkOp is one operation of a Bulk request, as parsed.
type bulkOp struct {
	index    int
	method   string // upper case; as sent when it is not a method we serve
	bulkID   string
	version  string
	endpoint string // "/Users" or "/Groups"; "" when the path is invalid
	id       string // resource id from the path; may be a "bulkId:X" reference
	data     json.RawMessage
	refs     []string // bulkIds referred to by id and data
	// err, when set, is why the operation is refused before it runs.
	err *scimerrors.ScimError
}

// bulkRequest is a parsed Bulk request.
type bulkRequest struct {
	// failOnErrors stops processing once this many operations have failed;
	// -1: never.
	failOnErrors int
	ops          []*bulkOp
}

// bulkResult is one entry of a BulkResponse's Operations.
type bulkResult struct {
	index    int
	id       string          // of the resource a successful POST created
	Method   string          `json:"method,omitempty"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// bulk answers POST /Bulk.
func (h *Handler) bulk(w http.ResponseWriter, r *http.Request, base string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, scimerrors.ScimError{Status: http.StatusMethodNotAllowed, Detail: "Bulk requests are sent with POST."})
		return
	}
	start := time.Now()
	body, se := readBulkBody(r)
	if se != nil {
		WriteError(w, *se)
		return
	}
	req, se := parseBulkRequest(body)
	if se != nil {
		WriteError(w, *se)
		return
	}
	results := h.runBulk(r, base, req)
	failed := 0
	for _, res := range results {
		if res.Status[0] != '2' {
			failed++
		}
	}
	h.log.InfoContext(r.Context(), "bulk request",
		"operations", len(req.ops), "performed", len(results), "failed", failed,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":    []string{bulkResponseURN},
		"Operations": results,
	})
}

// readBulkBody reads the request body, at most BulkMaxPayloadSize bytes.
func readBulkBody(r *http.Request) ([]byte, *scimerrors.ScimError) {
	if r.ContentLength > BulkMaxPayloadSize {
		return nil, payloadTooLarge()
	}
	if r.Body == nil {
		return nil, &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "A Bulk request needs a body: a BulkRequest message."}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, BulkMaxPayloadSize+1))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, payloadTooLarge()
	case err != nil:
		return nil, &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "The request body could not be read."}
	case len(body) > BulkMaxPayloadSize:
		return nil, payloadTooLarge()
	}
	return body, nil
}

func payloadTooLarge() *scimerrors.ScimError {
	return &scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge,
		Detail: fmt.Sprintf("The size of the bulk request exceeds the maxPayloadSize (%d bytes).", BulkMaxPayloadSize)}
}

// parseBulkRequest checks the request as a whole and parses each operation.
// A problem with the request as a whole is returned; a problem with one
// operation is kept in that operation's err.
func parseBulkRequest(body []byte) (*bulkRequest, *scimerrors.ScimError) {
	invalid := func(scimType scimerrors.ScimType, format string, args ...any) *scimerrors.ScimError {
		se := badRequest(scimType, format, args...)
		return &se
	}
	var msg struct {
		Schemas      json.RawMessage
		FailOnErrors json.RawMessage
		Operations   json.RawMessage
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, invalid(scimerrors.ScimTypeInvalidSyntax, "The request body is not a JSON object: %s.", jsonProblem(err))
	}
	var schemas []string
	if err := json.Unmarshal(msg.Schemas, &schemas); err != nil || !slices.ContainsFunc(schemas, func(s string) bool {
		return strings.EqualFold(s, bulkRequestURN)
	}) {
		return nil, invalid(scimerrors.ScimTypeInvalidSyntax, "schemas must be [%q].", bulkRequestURN)
	}
	req := &bulkRequest{failOnErrors: -1}
	if !isNull(msg.FailOnErrors) {
		n, err := strconv.Atoi(string(bytes.TrimSpace(msg.FailOnErrors)))
		if err != nil || n < 0 {
			return nil, invalid(scimerrors.ScimTypeInvalidValue, "failOnErrors must be a non-negative integer.")
		}
		req.failOnErrors = n
	}
	if isNull(msg.Operations) {
		return nil, invalid(scimerrors.ScimTypeInvalidSyntax, "Operations is required: the list of operations to perform.")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(msg.Operations, &raw); err != nil {
		return nil, invalid(scimerrors.ScimTypeInvalidSyntax, "Operations must be an array of operations.")
	}
	if len(raw) > BulkMaxOperations {
		return nil, &scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The number of operations (%d) exceeds the maxOperations (%d).", len(raw), BulkMaxOperations)}
	}
	msg.Operations = nil
	req.ops = make([]*bulkOp, len(raw))
	posted := make(map[string]bool)
	for i, data := range raw {
		op := parseBulkOp(i, data)
		raw[i] = nil
		// bulkIds are unique within a request (§3.7): a second POST with the
		// same one would make references to it ambiguous.
		if op.err == nil && op.method == http.MethodPost {
			if posted[op.bulkID] {
				op.fail(badRequest(scimerrors.ScimTypeInvalidValue,
					"Operations[%d]: bulkId %q is already used by an earlier operation; bulkIds must be unique.", i, op.bulkID))
			}
			posted[op.bulkID] = true
		}
		req.ops[i] = op
	}
	return req, nil
}

// parseBulkOp parses and checks operation i.
func parseBulkOp(i int, raw json.RawMessage) *bulkOp {
	op := &bulkOp{index: i}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return op.fail(badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations[%d] must be an object.", i))
	}
	field := func(name string) json.RawMessage {
		for k, v := range fields {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return nil
	}
	str := func(name string) (string, bool, *scimerrors.ScimError) {
		v := field(name)
		if isNull(v) {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			se := badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations[%d].%s must be a string.", i, name)
			return "", false, &se
		}
		return s, true, nil
	}

	// method and bulkId first: the response echoes them, even for a refusal.
	method, ok, se := str("method")
	if se != nil {
		return op.fail(*se)
	}
	op.method = strings.ToUpper(method)
	if !ok {
		return op.fail(badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations[%d].method is required.", i))
	}
	bulkID, hasBulkID, se := str("bulkId")
	if se != nil {
		return op.fail(*se)
	}
	op.bulkID = bulkID
	switch op.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		op.method = method
		return op.fail(badRequest(scimerrors.ScimTypeInvalidValue,
			"Operations[%d].method %q is not allowed: use POST, PUT, PATCH or DELETE.", i, method))
	}
	if hasBulkID && bulkID == "" {
		return op.fail(badRequest(scimerrors.ScimTypeInvalidValue, "Operations[%d].bulkId must not be empty.", i))
	}
	version, _, se := str("version")
	if se != nil {
		return op.fail(*se)
	}
	op.version = version

	path, ok, se := str("path")
	if se != nil {
		return op.fail(*se)
	}
	if !ok {
		return op.fail(badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations[%d].path is required.", i))
	}
	endpoint, id, ok := parseBulkPath(path)
	switch {
	case !ok:
		return op.fail(badRequest(scimerrors.ScimTypeInvalidValue,
			"Operations[%d].path %q is not a resource path: use /Users, /Groups, /Users/{id} or /Groups/{id}.", i, path))
	case op.method == http.MethodPost && id != "":
		return op.fail(badRequest(scimerrors.ScimTypeInvalidValue,
			"Operations[%d].path %q: a POST names a resource type endpoint, /Users or /Groups.", i, path))
	case op.method != http.MethodPost && id == "":
		return op.fail(badRequest(scimerrors.ScimTypeInvalidValue,
			"Operations[%d].path %q: a %s names one resource, such as %s/{id}.", i, path, op.method, endpoint))
	}
	op.endpoint, op.id = endpoint, id
	if ref, ok := strings.CutPrefix(id, bulkIDPrefix); ok {
		op.refs = append(op.refs, ref)
	}

	if op.method == http.MethodPost && !hasBulkID {
		return op.fail(badRequest(scimerrors.ScimTypeInvalidValue,
			"Operations[%d].bulkId is required for a POST.", i))
	}
	if op.method != http.MethodDelete {
		data := field("data")
		if isNull(data) {
			return op.fail(badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations[%d].data is required for a %s.", i, op.method))
		}
		if data = bytes.TrimSpace(data); data[0] != '{' {
			return op.fail(badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations[%d].data must be a JSON object.", i))
		}
		op.data = data
		op.refs = append(op.refs, dataRefs(data)...)
	}
	return op
}

func (op *bulkOp) fail(se scimerrors.ScimError) *bulkOp {
	op.err = &se
	return op
}

// parseBulkPath splits an operation's path into the resource type endpoint
// and the resource id ("" for the endpoint itself). The endpoint's name is
// matched without regard to case.
func parseBulkPath(path string) (endpoint, id string, ok bool) {
	if strings.ContainsAny(path, "?#") {
		return "", "", false
	}
	p, err := url.PathUnescape(path)
	if err != nil {
		return "", "", false
	}
	name, id, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	switch {
	case !strings.HasPrefix(p, "/"), strings.Contains(id, "/"):
		return "", "", false
	case strings.EqualFold(name, "Users"):
		endpoint = "/Users"
	case strings.EqualFold(name, "Groups"):
		endpoint = "/Groups"
	default:
		return "", "", false
	}
	if strings.HasSuffix(p, "/") && id == "" {
		return "", "", false
	}
	return endpoint, id, true
}

// dataRefs returns the bulkIds that data refers to. Data without the text
// "bulkId:" (or an escape that could spell it) is not decoded.
func dataRefs(data json.RawMessage) []string {
	if !mayHoldRefs(data) {
		return nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil // the sub-request reports the bad JSON
	}
	var refs []string
	walkStrings(v, func(s string) string {
		if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok {
			refs = append(refs, ref)
		}
		return s
	})
	return refs
}

func mayHoldRefs(data []byte) bool {
	return bytes.Contains(data, []byte(bulkIDPrefix)) || bytes.Contains(data, []byte(`\u`))
}

// resolveData replaces every "bulkId:X" string of data with id(X).
func resolveData(data json.RawMessage, id func(string) (string, error)) (json.RawMessage, error) {
	if !mayHoldRefs(data) {
		return data, nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return data, nil // the sub-request reports the bad JSON
	}
	var rerr error
	changed := false
	v = walkStrings(v, func(s string) string {
		ref, ok := strings.CutPrefix(s, bulkIDPrefix)
		if !ok || rerr != nil {
			return s
		}
		resolved, err := id(ref)
		if err != nil {
			rerr = err
			return s
		}
		changed = true
		return resolved
	})
	if rerr != nil || !changed {
		return data, rerr
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode resolved data: %w", err)
	}
	return out, nil
}

// decodeJSON decodes data keeping numbers exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// walkStrings replaces every string value (not object keys) in v by f(s).
func walkStrings(v any, f func(string) string) any {
	switch v := v.(type) {
	case string:
		return f(v)
	case map[string]any:
		for k, e := range v {
			v[k] = walkStrings(e, f)
		}
	case []any:
		for i, e := range v {
			v[i] = walkStrings(e, f)
		}
	}
	return v
}

// bulkOrder returns the order in which to run ops: request order, except
// that an operation comes after the POSTs whose bulkIds it refers to.
// cyclic[i] is set for an operation picked to break a cycle of references:
// it is refused instead of run, and the operations waiting for it may go.
func bulkOrder(ops []*bulkOp) (order []int, cyclic map[int]bool) {
	n := len(ops)
	defined := make(map[string]int)
	for i, op := range ops {
		if op.err == nil && op.method == http.MethodPost {
			defined[op.bulkID] = i
		}
	}
	deps := make([][]int, n) // deps[i]: the operations i waits for
	next := make([][]int, n) // next[j]: the operations waiting for j
	waiting := make([]int, n)
	for i, op := range ops {
		if op.err != nil {
			continue
		}
		for _, ref := range op.refs {
			j, ok := defined[ref]
			if !ok || slices.Contains(deps[i], j) {
				continue
			}
			deps[i] = append(deps[i], j)
			next[j] = append(next[j], i)
			waiting[i]++
		}
	}
	done := make([]bool, n)
	ready := &indexHeap{}
	for i := range n {
		if waiting[i] == 0 {
			ready.push(i)
		}
	}
	cyclic = make(map[int]bool)
	release := func(j int) {
		done[j] = true
		order = append(order, j)
		for _, i := range next[j] {
			if waiting[i]--; waiting[i] == 0 && !done[i] {
				ready.push(i)
			}
		}
	}
	for len(order) < n {
		if ready.len() > 0 {
			release(ready.pop())
			continue
		}
		// Every operation left waits, directly or not, on a cycle. Walk
		// back from the first one left along what it waits for until an
		// operation repeats: that one is on a cycle.
		first := slices.Index(done, false)
		seen := make(map[int]bool)
		i := first
		for !seen[i] {
			seen[i] = true
			for _, j := range deps[i] {
				if !done[j] {
					i = j
					break
				}
			}
		}
		cyclic[i] = true
		release(i)
	}
	return order, cyclic
}

// indexHeap is a min-heap of operation indexes: among the operations ready
// to run, the earliest in the request runs first.
type indexHeap struct{ a []int }

func (h *indexHeap) len() int { return len(h.a) }

func (h *indexHeap) push(x int) {
	h.a = append(h.a, x)
	for i := len(h.a) - 1; i > 0; {
		p := (i - 1) / 2
		if h.a[p] <= h.a[i] {
			break
		}
		h.a[p], h.a[i] = h.a[i], h.a[p]
		i = p
	}
}

func (h *indexHeap) pop() int {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.a[l] < h.a[m] {
			m = l
		}
		if r < last && h.a[r] < h.a[m] {
			m = r
		}
		if m == i {
			break
		}
		h.a[m], h.a[i] = h.a[i], h.a[m]
		i = m
	}
	return top
}

// runBulk performs the operations and returns the results of those it
// performed, in request order.
func (h *Handler) runBulk(r *http.Request, base string, req *bulkRequest) []*bulkResult {
	order, cyclic := bulkOrder(req.ops)
	created := make(map[string]string) // bulkId -> id, of successful POSTs
	posted := make(map[string]bool)    // bulkIds of valid POSTs
	for _, op := range req.ops {
		if op.err == nil && op.method == http.MethodPost {
			posted[op.bulkID] = true
		}
	}
	resolve := func(ref string) (string, error) {
		if id, ok := created[ref]; ok {
			return id, nil
		}
		return "", &unresolvedRef{ref: ref, posted: posted[ref]}
	}

	results := make([]*bulkResult, 0, len(order))
	failures := 0
	for _, i := range order {
		if r.Context().Err() != nil {
			break // the client has gone; nothing more will be read
		}
		op := req.ops[i]
		var res *bulkResult
		switch {
		case op.err != nil:
			res = op.result(base, *op.err)
		case cyclic[i]:
			res = h.refuse(r, base, op, conflict("Operations[%d]: its bulkId references form a cycle, which Onramp does not resolve; "+
				"create the resources first and link them with later operations.", i))
		default:
			res = h.perform(r, base, op, resolve)
		}
		if res.id != "" {
			created[op.bulkID] = res.id
		}
		results = append(results, res)
		if res.Status[0] != '2' {
			failures++
			if req.failOnErrors >= 0 && failures >= max(req.failOnErrors, 1) {
				break
			}
		}
	}
	slices.SortFunc(results, func(a, b *bulkResult) int { return a.index - b.index })
	return results
}

// unresolvedRef is a bulkId reference without a resource id.
type unresolvedRef struct {
	ref    string
	posted bool // a POST in the request has this bulkId; it failed
}

func (e *unresolvedRef) Error() string {
	if e.posted {
		return fmt.Sprintf("%q cannot be resolved: the POST with bulkId %q failed or is part of a circular reference", bulkIDPrefix+e.ref, e.ref)
	}
	return fmt.Sprintf("%q cannot be resolved: no POST operation in this request has bulkId %q", bulkIDPrefix+e.ref, e.ref)
}

// conflict is the 409 of an operation whose bulkId reference cannot be resolved.
func conflict(format string, args ...any) scimerrors.ScimError {
	return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeInvalidValue, Detail: fmt.Sprintf(format, args...)}
}

// refuse is the response entry of a well-formed operation that Bulk
// refuses with se because a bulkId reference cannot be resolved. It is a
// write that was asked for and not done, so the audit trail records it, as
// it records the writes the store refuses.
func (h *Handler) refuse(r *http.Request, base string, op *bulkOp, se scimerrors.ScimError) *bulkResult {
	kind, resourceType := "user", "User"
	if op.endpoint == "/Groups" {
		kind, resourceType = "group", "Group"
	}
	verb := map[string]string{
		http.MethodPost: "create", http.MethodPut: "replace", http.MethodPatch: "patch", http.MethodDelete: "delete",
	}[op.method]
	id := op.id
	if strings.HasPrefix(id, bulkIDPrefix) {
		id = ""
	}
	_ = h.fail(r, h.event(r, kind+"."+verb, resourceType, id, se.Status, ""), se)
	return op.result(base, se)
}

// result is the response entry of an operation refused with se.
func (op *bulkOp) result(base string, se scimerrors.ScimError) *bulkResult {
	body, err := json.Marshal(se)
	if err != nil {
		body = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500"}`)
	}
	res := &bulkResult{index: op.index, Method: op.method, BulkID: op.bulkID, Status: strconv.Itoa(se.Status), Response: body}
	if op.endpoint != "" && op.id != "" && !strings.HasPrefix(op.id, bulkIDPrefix) {
		res.Location = base + op.endpoint + "/" + url.PathEscape(op.id)
	}
	return res
}

// perform resolves op's references and runs it as a sub-request.
func (h *Handler) perform(r *http.Request, base string, op *bulkOp, resolve func(string) (string, error)) *bulkResult {
	id := op.id
	if ref, ok := strings.CutPrefix(id, bulkIDPrefix); ok {
		resolved, err := resolve(ref)
		if err != nil {
			return h.refuse(r, base, op, conflict("Operations[%d].path: %v.", op.index, err))
		}
		id = resolved
	}
	data, err := resolveData(op.data, resolve)
	var unresolved *unresolvedRef
	switch {
	case errors.As(err, &unresolved):
		return h.refuse(r, base, op, conflict("Operations[%d].data: %v.", op.index, err))
	case err != nil:
		h.log.ErrorContext(r.Context(), "bulk operation", "index", op.index, "error", err)
		return op.result(base, internalError(r))
	}

	target := &url.URL{Path: op.endpoint}
	if id != "" {
		target.Path += "/" + id
	}
	if op.endpoint == "/Groups" {
		// The response entry needs no members; do not read them.
		target.RawQuery = "excludedAttributes=members"
	}
	var body io.Reader = http.NoBody
	if data != nil {
		body = bytes.NewReader(data)
	}
	sub, err := http.NewRequestWithContext(r.Context(), op.method, "/", body)
	if err != nil {
		h.log.ErrorContext(r.Context(), "bulk operation", "index", op.index, "error", err)
		return op.result(base, internalError(r))
	}
	sub.URL = target
	sub.Host, sub.TLS, sub.RemoteAddr = r.Host, r.TLS, r.RemoteAddr
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		sub.Header.Set("X-Forwarded-Proto", p)
	}
	if data != nil {
		sub.Header.Set("Content-Type", "application/scim+json")
	}
	if op.version != "" {
		sub.Header.Set("If-Match", op.version)
	}

	rec := &opRecorder{header: make(http.Header)}
	h.serveOp(rec, sub, op.index)

	res := &bulkResult{index: op.index, Method: op.method, BulkID: op.bulkID, Status: strconv.Itoa(rec.code())}
	if rec.code() >= 300 {
		res.Response = rec.errorBody(r)
		if op.method != http.MethodPost {
			res.Location = base + op.endpoint + "/" + url.PathEscape(id)
		}
		return res
	}
	var doc struct {
		ID   string `json:"id"`
		Meta struct {
			Location string `json:"location"`
			Version  string `json:"version"`
		} `json:"meta"`
	}
	if rec.body.Len() > 0 {
		_ = json.Unmarshal(rec.body.Bytes(), &doc) // best effort: headers first
	}
	res.Location = rec.header.Get("Location")
	if id == "" {
		if id = doc.ID; id == "" {
			id = lastSegment(res.Location)
		}
	}
	if op.method == http.MethodPost {
		res.id = id
	}
	if res.Location == "" {
		res.Location = doc.Meta.Location
	}
	if res.Location == "" && id != "" {
		res.Location = base + op.endpoint + "/" + url.PathEscape(id)
	}
	if op.method != http.MethodDelete {
		res.Version = rec.header.Get("Etag")
		if res.Version == "" {
			res.Version = doc.Meta.Version
		}
	}
	return res
}

// serveOp runs one operation's sub-request. A panic fails that operation
// alone (its transaction has rolled back), not the whole Bulk request.
func (h *Handler) serveOp(rec *opRecorder, sub *http.Request, index int) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		h.log.ErrorContext(sub.Context(), "panic serving bulk operation", "index", index,
			"method", sub.Method, "path", sub.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		rec.reset()
		WriteError(rec, internalError(sub))
	}()
	h.ServeHTTP(rec, sub)
}

// lastSegment is the last path segment of a resource URL, unescaped: the id.
func lastSegment(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(u.Path, '/')
	if i < 0 {
		return ""
	}
	return u.Path[i+1:]
}

func isNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

// jsonProblem phrases a JSON decoding error for a client without Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s has the wrong type", typ.Field)
		}
		return "it is a JSON " + typ.Value
	}
	return "invalid JSON"
}

// opRecorder is the in-memory ResponseWriter of one operation's sub-request.
type opRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *opRecorder) Header() http.Header { return w.header }

func (w *opRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *opRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *opRecorder) reset() {
	clear(w.header)
	w.status = 0
	w.body.Reset()
}

func (w *opRecorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// errorBody is the SCIM error the sub-request answered, for the response
// entry. A body that is not a JSON object (which no handler of ours writes)
// becomes a plain error with the same status.
func (w *opRecorder) errorBody(r *http.Request) json.RawMessage {
	b := bytes.TrimSpace(w.body.Bytes())
	if len(b) > 0 && b[0] == '{' && json.Valid(b) {
		return json.RawMessage(slices.Clone(b))
	}
	se := scimerrors.ScimError{Status: w.code(), Detail: http.StatusText(w.code())}
	if w.code() >= 500 {
		se = internalError(r)
		se.Status = w.code()
	}
	out, _ := json.Marshal(se)
	return out
}
