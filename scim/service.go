// Package scim serves SCIM 2.0 (RFC 7643, RFC 7644) Users and Groups over
// the store.
//
// Routing, request-body validation and PATCH parsing come from
// github.com/elimity-com/scim. What that library leaves to us lives here:
// filters (filter.go, translated to store conditions, never to SQL text),
// the PATCH applier (patch.go), projection and rendering (render.go), list
// responses (list.go), the service provider configuration (discovery.go),
// and the mapping of every error to a SCIM error body (errors.go).
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
func NewHandler(cfg Config) *Handler {
	// Entra ID sends booleans as "True"/"False". The library keeps this
	// switch in a package variable; setting it is idempotent.
	schema.SetAllowStringValues(true)

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

// ServeHTTP answers list requests and the service provider configuration
// itself (the library gets itemsPerPage and the advertised features wrong)
// and hands everything else to the library.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := h.baseURL(r)
	if r.Method == http.MethodGet {
		switch r.URL.Path {
		case "/Users":
			h.list(w, r, base, userList{h})
			return
		case "/Groups":
			h.list(w, r, base, groupList{h})
			return
		case "/ServiceProviderConfig":
			h.serviceProviderConfig(w, r, base)
			return
		}
	}
	if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/Users/") {
		if err := normalizeBody(r, normalizePatchBody); err != nil {
			h.internalError(w, r, err)
			return
		}
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
}

// normalizeBody replaces r's body with fix(body). The server's body limit
// has already read and bounded it, so this costs a copy, not a read.
func normalizeBody(r *http.Request, fix func([]byte) []byte) error {
	if r.Body == nil {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(fix(body)))
	return nil
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
