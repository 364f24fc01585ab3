package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

// admin serves the JSON admin API, /admin/v1. Its errors are RFC 9457
// problem details (application/problem+json) carrying the request's
// correlation_id; every change it makes is audited with the caller as actor.
type admin struct {
	store      *store.Store
	delivery   *delivery.Engine // nil: /deliveries answers 503
	connectors []lms.Spec
	log        *slog.Logger
	maxBody    int64
}

// adminHandler serves one admin request. An error it returns is answered
// as a problem: an *httpError as it says, anything else as a logged 500.
type adminHandler func(w http.ResponseWriter, r *http.Request) error

// methods maps the methods one path allows to their handlers.
type methods map[string]adminHandler

// mountAdmin serves the admin API under r (/admin/v1). Every path, known
// or not, needs a valid token: admin:read for GET and HEAD, admin:write
// for anything else.
func mountAdmin(r *mux.Router, cfg Config, auth *authenticator) {
	a := &admin{store: cfg.Store, delivery: cfg.Delivery, connectors: cfg.Connectors, log: cfg.Logger, maxBody: cfg.MaxBodyBytes}
	route := func(path string, ms methods) {
		r.Handle(path, auth.requireWith(adminScope, writeAuthProblem, a.handle(ms.serve)))
	}
	bundles := definitions[mapping.Bundle]{a: a, k: bundleKind{st: a.store, connectors: a.connectors}}
	route("/bundles", methods{http.MethodGet: bundles.list})
	route("/bundles/{name}", methods{http.MethodGet: bundles.get, http.MethodPut: bundles.put, http.MethodDelete: bundles.delete})
	rules := definitions[mapping.Rule]{a: a, k: ruleKind{st: a.store}}
	route("/rules", methods{http.MethodGet: rules.list})
	route("/rules/{name}", methods{http.MethodGet: rules.get, http.MethodPut: rules.put, http.MethodDelete: rules.delete})
	route("/connectors", methods{http.MethodGet: a.listConnectors})
	route("/deliveries", methods{http.MethodGet: a.listDeliveries})
	route("/deliveries/{id}", methods{http.MethodDelete: a.purgeDelivery})
	route("/deliveries/{id}/replay", methods{http.MethodPost: a.replayDelivery})
	route("/users/{id}/enrollments", methods{http.MethodGet: a.explainEnrollments})
	route("/openapi.json", methods{http.MethodGet: a.openAPI})
	r.Handle("/audit", auth.requireWith(func(*http.Request) string { return ScopeAuditRead }, writeAuthProblem,
		a.handle(methods{http.MethodGet: a.listAudit}.serve)))
	r.NotFoundHandler = auth.requireWith(adminScope, writeAuthProblem, a.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{status: http.StatusNotFound, detail: "There is no admin API resource at " + r.URL.Path + "."}
	}))
}

// adminScope is the scope an admin request needs.
func adminScope(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ScopeAdminRead
	}
	return ScopeAdminWrite
}

// serve dispatches on the method: GET serves HEAD too, and a method the
// path does not allow is answered 405 with Allow.
func (ms methods) serve(w http.ResponseWriter, r *http.Request) error {
	h, ok := ms[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = ms[http.MethodGet]
	}
	if ok {
		return h(w, r)
	}
	var allow []string
	for m := range ms {
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return &httpError{status: http.StatusMethodNotAllowed,
		detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s.", r.Method, r.URL.Path, strings.Join(allow, ", "))}
}

// httpError is an error answered as a problem. What the client is told
// (status, title, detail, fields) is kept apart from err, the cause, which
// is logged and never shown.
type httpError struct {
	status int
	// typ and title name a problem type of Onramp's own; empty means
	// about:blank, titled with the status text.
	typ, title string
	detail     string
	fields     []fieldProblem
	err        error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.detail, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.detail)
}

func (e *httpError) Unwrap() error { return e.err }

// fieldProblem is one problem with one field of a request body.
type fieldProblem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// problemInvalid is the type of a problem listing field errors.
const problemInvalid = "tag:onramp.dev,2026:problem:invalid-value"

// invalid is a 400 listing every problem with a request body. Its detail
// repeats a single problem, so that a client showing only the detail
// still says what is wrong.
func invalid(noun string, fields []fieldProblem) *httpError {
	detail := fmt.Sprintf("The %s has %d problems; see errors.", noun, len(fields))
	if len(fields) == 1 {
		detail = fmt.Sprintf("The %s is not valid: %s: %s.", noun, fields[0].Field, strings.TrimSuffix(fields[0].Detail, "."))
	}
	return &httpError{status: http.StatusBadRequest, typ: problemInvalid, title: "Invalid value", detail: detail, fields: fields}
}

// invalidField is a 400 about one field of a request body.
func invalidField(detail, field, fieldDetail string) *httpError {
	return &httpError{status: http.StatusBadRequest, typ: problemInvalid, title: "Invalid value", detail: detail,
		fields: []fieldProblem{{Field: field, Detail: fieldDetail}}}
}

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, detail: fmt.Sprintf(format, args...)}
}

// problem is an RFC 9457 problem details object.
type problem struct {
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Status        int            `json:"status"`
	Detail        string         `json:"detail"`
	CorrelationID string         `json:"correlation_id"`
	Errors        []fieldProblem `json:"errors,omitempty"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, e *httpError) {
	p := problem{Type: e.typ, Title: e.title, Status: e.status, Detail: e.detail,
		CorrelationID: reqctx.CorrelationID(r.Context()), Errors: e.fields}
	if p.Type == "" {
		p.Type, p.Title = "about:blank", http.StatusText(e.status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(p) // the client has gone if this fails
}

// writeAuthProblem answers the authenticator's refusals as problems.
func writeAuthProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	writeProblem(w, r, &httpError{status: status, detail: detail})
}

// handle turns h into a handler that answers h's errors, and its panics,
// as problems.
func (a *admin) handle(h adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.recoverPanic(w, r)
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// fail answers err: an *httpError as it says; anything else is logged and
// answered 500 with nothing but the correlation id, so that no SQL, path
// or secret reaches the client.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		a.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, r, internalError(r))
		return
	}
	if he.err != nil {
		level := slog.LevelInfo
		if he.status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		a.log.Log(r.Context(), level, "admin request refused", "method", r.Method, "path", r.URL.Path, "status", he.status, "error", he.err)
	}
	writeProblem(w, r, he)
}

func (a *admin) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	a.log.ErrorContext(r.Context(), "panic serving admin request", "method", r.Method, "path", r.URL.Path,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	writeProblem(w, r, internalError(r))
}

func internalError(r *http.Request) *httpError {
	return &httpError{status: http.StatusInternalServerError,
		detail: "Internal server error; correlation id " + reqctx.CorrelationID(r.Context()) + "."}
}

// event is the audit event of a change made by r's caller.
func event(r *http.Request, action string, status int, summary string) store.Event {
	p, _ := reqctx.PrincipalFrom(r.Context())
	return store.Event{CorrelationID: reqctx.CorrelationID(r.Context()), Actor: p.Name,
		Action: action, Status: status, Summary: summary}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // the client has gone if this fails
	return nil
}

// decodeObject decodes r's body, a single JSON object of at most limit
// bytes, into v (a pointer to a struct), refusing fields v does not have.
func decodeObject(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return &httpError{status: http.StatusRequestEntityTooLarge,
			detail: fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit)}
	case err != nil:
		return &httpError{status: http.StatusBadRequest, detail: "The request body could not be read.", err: err}
	case !utf8.Valid(body):
		return badRequest("The request body is not valid UTF-8.")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return badRequest("The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("The request body has data after the JSON object.")
	}
	return nil
}

// checkContentType accepts a JSON body, or one without a Content-Type.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return &httpError{status: http.StatusUnsupportedMediaType, detail: "The request body must be application/json."}
}

// jsonError says what is wrong with a body encoding/json refused.
func jsonError(err error) *httpError {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	msg := strings.TrimPrefix(err.Error(), "json: ")
	switch {
	case errors.As(err, &syntax):
		return badRequest("The request body is not valid JSON: %s (at byte %d).", msg, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("The request body ends before its JSON object does.")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		detail := "must be " + jsonKind(typeErr.Type) + ", not " + typeErr.Value
		return invalidField(fmt.Sprintf("The field %s %s.", typeErr.Field, detail), typeErr.Field, detail)
	case strings.HasPrefix(msg, "unknown field "):
		field := strings.Trim(strings.TrimPrefix(msg, "unknown field "), `"`)
		return invalidField(fmt.Sprintf("The request body has an unknown field %q.", field), field, "unknown field")
	}
	return badRequest("The request body cannot be read as JSON: %s.", msg)
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "true or false"
	default:
		return "a number"
	}
}
