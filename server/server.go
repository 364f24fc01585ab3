// Package server wires Onramp's HTTP surface: the router, the middleware
// every request passes through (recovery, correlation id, access log, body
// limit, authentication) and the health endpoints. The SCIM protocol itself
// lives in package scim.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/store"
)

// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the HTTP server.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	// BaseURL is the external URL of this server, e.g.
	// "https://onramp.example.com"; empty derives it from each request.
	BaseURL string
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Version is reported by /healthz.
	Version string
	// Delivery is the delivery engine, for the admin API's dead letters;
	// nil serves no /admin/v1/deliveries.
	Delivery *delivery.Engine
	// Connectors are the configured LMS connectors, for validating bundles
	// and for the read-only /admin/v1/connectors.
	Connectors []lms.Spec
	// Metrics is what /metrics serves; nil serves none.
	Metrics prometheus.Gatherer
	// RateLimits bound each token's and each address's request rate.
	RateLimits RateLimits
	// OIDC, when set, also accepts JWT bearer tokens from an issuer.
	OIDC *OIDC
}

// New returns Onramp's HTTP handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	scimBase := ""
	if cfg.BaseURL != "" {
		scimBase = strings.TrimRight(cfg.BaseURL, "/") + "/scim/v2"
	}
	scimHandler := scim.NewHandler(scim.Config{Store: cfg.Store, Logger: cfg.Logger, BaseURL: scimBase})
	if err := errors.Join(cfg.RateLimits.Validate(), cfg.OIDC.Validate()); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	auth := &authenticator{store: cfg.Store, log: cfg.Logger, cache: newTokenCache(time.Now), perToken: newLimiters(cfg.RateLimits.PerToken),
		oidc: newOIDCVerifier(cfg.OIDC)}
	perAddress := newLimiters(cfg.RateLimits.PerAddress)

	r := mux.NewRouter()
	r.Handle("/healthz", healthz(cfg.Version)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", readyz(cfg.Store, cfg.Logger)).Methods(http.MethodGet, http.MethodHead)
	if cfg.Metrics != nil {
		r.Handle("/metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)})).
			Methods(http.MethodGet, http.MethodHead)
	}
	adminRouter := mux.NewRouter()
	mountAdmin(adminRouter.PathPrefix("/admin/v1").Subrouter(), cfg, auth)
	r.PathPrefix("/admin/v1").Handler(limitAddress(perAddress, writeAuthProblem, adminRouter))
	r.PathPrefix("/scim/v2").Handler(limitAddress(perAddress, scimAuthFailure,
		auth.require(scimScope,
			limitBody(scimBodyLimit(cfg.MaxBodyBytes),
				http.StripPrefix("/scim/v2", scimHandler)))))
	r.NotFoundHandler = http.HandlerFunc(notFound)

	return recoverPanics(cfg.Logger, correlate(accessLog(cfg.Logger, r))), nil
}

// scimScope is the scope a SCIM request needs: reads (and searches, which
// are POSTs that change nothing) need scim:read, every other write scim:write.
func scimScope(r *http.Request) string {
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return ScopeSCIMRead
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/.search"):
		return ScopeSCIMRead
	default:
		return ScopeSCIMWrite
	}
}

// scimBodyLimit is the body limit of a SCIM request: a Bulk request may be
// as large as the maxPayloadSize that /ServiceProviderConfig advertises.
func scimBodyLimit(def int64) func(*http.Request) int64 {
	return func(r *http.Request) int64 {
		if r.URL.Path == "/scim/v2/Bulk" {
			return max(def, scim.BulkMaxPayloadSize)
		}
		return def
	}
}
