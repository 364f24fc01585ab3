// Package scim serves SCIM 2.0 (RFC 7643, RFC 7644) Users and Groups over
// the store.
//
// Routing, request-body validation and PATCH parsing come from
// github.com/elimity-com/scim. What that library leaves to us lives here:
// filters (filter.go, translated to store conditions, never to SQL text),
// the PATCH applier (patch.go), projection and rendering (render.go), list
// responses (list.go), GET of large groups streamed from the database
// (stream.go), sorting (sort.go), searches (search.go), entity tags
// and preconditions (etag.go), the mutability check of PATCH bodies
// (mutability.go), the service provider configuration (discovery.go), the
// mapping of every error to a SCIM error body (errors.go), and details
// that name the attribute when the library refuses a body (diagnose.go).
//
// The handler expects to be mounted under /scim/v2 with that prefix
// stripped, behind middleware that authenticates the caller, puts the
// correlation id and principal in the request context (package reqctx),
// and bounds the request body.
package scim

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	elimity "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"

	"github.com/onramp-dev/onramp/store"
)

// Config configures the SCIM service.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	// BaseURL is the absolute URL clients use for /scim/v2, e.g.
	// "https://onramp.example.com/scim/v2". When empty it is derived from each
	// request's Host (and X-Forwarded-Proto), which is right behind a plain
	// reverse proxy that keeps the Host header.
	BaseURL string
}

// Handler serves the SCIM endpoints.
type Handler struct {
	store  *store.Store
	log    *slog.Logger
	base   string
	types  []elimity.ResourceType
	users  *userHandler
	groups *groupHandler
}

// NewHandler returns the SCIM service for cfg.
// allowStringValues guards the library's package-level switch.
var allowStringValues sync.Once

func NewHandler(cfg Config) *Handler {
	// Entra ID sends booleans as "True"/"False". The library keeps this
	// switch in a package variable: set it once, so that handlers built
	// concurrently (parallel tests) do not race on it.
	allowStringValues.Do(func() { schema.SetAllowStringValues(true) })

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		store: cfg.Store,
		log:   logger,
		base:  strings.TrimRight(cfg.BaseURL, "/"),
	}
	h.users = &userHandler{h: h}
	h.groups = &groupHandler{h: h}
	h.types = resourceTypes(h.users, h.groups)
	return h
}

// ServeHTTP answers list requests and searches (list.go, search.go), the
// service provider configuration itself (the library gets itemsPerPage,
// filter validation and the advertised features wrong) and GET of a group
// with its members (stream.go: the library would hold the whole document in
// memory), and hands every other request to the library, with what the
// library leaves out added around it (viaLibrary).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := h.baseURL(r)
	if r.URL.Path == "/Bulk" {
		h.bulk(w, r, base) // bulk.go; its operations come back here as sub-requests
		return
	}
	if h.serveOwn(w, r, base) {
		return
	}
	h.viaLibrary(w, r, base)
}

// serveOwn answers the requests Onramp serves without the library, and
// reports whether r was one.
func (h *Handler) serveOwn(w http.ResponseWriter, r *http.Request, base string) bool {
	switch r.Method + " " + r.URL.Path {
	case "GET /Users":
		h.list(w, r, base, userList{h})
	case "GET /Groups":
		h.list(w, r, base, groupList{h})
	case "GET /", "GET ":
		h.rootList(w, r, base)
	case "GET /ServiceProviderConfig":
		h.serviceProviderConfig(w, r, base)
	case "POST /Users/.search":
		h.search(w, r, base, userList{h})
	case "POST /Groups/.search":
		h.search(w, r, base, groupList{h})
	case "POST /.search":
		h.rootSearch(w, r, base)
	default:
		// GET /Groups/{id} with members streams them (stream.go), after
		// If-None-Match has had its say (etag.go).
		ref, ok := parseResourcePath(r.URL.Path)
		if !ok || !streamsGroup(r, ref) {
			return false
		}
		if !h.notModified(w, r, ref) {
			h.streamGroup(w, r, base, ref.id)
		}
	}
	return true
}

// viaLibrary hands r to the library, after answering what comes first:
// entity-tag preconditions (etag.go) and PATCH operations on read-only
// attributes (mutability.go); and it words the library's generic refusals
// of resource bodies (diagnose.go).
func (h *Handler) viaLibrary(w http.ResponseWriter, r *http.Request, base string) {
	w, r, done := h.conditional(w, r)
	if done {
		return
	}
	if r.Method == http.MethodPatch && !h.preparePatch(w, r) {
		return
	}
	w, diagnose, err := withDiagnosis(w, r)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	srv, err := elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{SupportFiltering: true, SupportPatch: true, MaxResults: maxCount},
		ResourceTypes:         h.types,
	}, elimity.WithBaseURL(base), elimity.WithLogger(libraryLogger{h.log}))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	srv.ServeHTTP(w, r)
	diagnose()
}

// conditional handles the entity-tag headers of requests on one resource
// (see etag.go): it answers a GET whose If-None-Match matches with 304 (done
// is then true), carries If-Match of writes into the request context, and
// makes sure a 204 answer to a write still carries the new ETag.
func (h *Handler) conditional(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, bool) {
	ref, ok := parseResourcePath(r.URL.Path)
	if !ok {
		return w, r, false
	}
	switch r.Method {
	case http.MethodGet:
		return w, r, h.notModified(w, r, ref)
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		r, rec := withWritten(withIfMatch(r))
		return etagWriter{ResponseWriter: w, rec: rec}, r, false
	}
	return w, r, false
}

// preparePatch readies a PATCH of a user or group for the library: it
// answers operations on read-only attributes with 400 mutability itself
// (mutability.go) and rewrites user bodies into forms the library accepts
// (normalizePatchBody). It reports whether the library should go on.
func (h *Handler) preparePatch(w http.ResponseWriter, r *http.Request) bool {
	ref, ok := parseResourcePath(r.URL.Path)
	if !ok || r.Body == nil {
		return true
	}
	// The server's body limit has already read and bounded the body, so
	// this costs a copy, not a read.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.internalError(w, r, fmt.Errorf("read body: %w", err))
		return false
	}
	if err := checkPatchMutability(ref, body); err != nil {
		WriteError(w, h.scimError(r, err))
		return false
	}
	if ref.kind == kindUser {
		body = normalizePatchBody(body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// baseURL is the absolute URL of /scim/v2 for this request.
func (h *Handler) baseURL(r *http.Request) string {
	if h.base != "" {
		return h.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + "/scim/v2"
}

// libraryLogger adapts slog to the library's logger interface.
type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Error(args ...any) { l.log.Error("scim library", "detail", args) }
