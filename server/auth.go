package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/store"
)

// authenticator checks bearer tokens against the store.
type authenticator struct {
	store *store.Store
	log   *slog.Logger
	cache *tokenCache
	// perToken bounds each token's request rate; nil: no bound.
	perToken *limiters
	// oidc verifies JWTs from the configured issuer; nil: none accepted.
	oidc *oidcVerifier
}

// authFailure writes one of the authenticator's refusals (401, 403 or
// 503) in the error format of the API being guarded. require has set any
// WWW-Authenticate or Retry-After header by then.
type authFailure func(w http.ResponseWriter, r *http.Request, status int, detail string)

// scimAuthFailure writes a refusal as a SCIM error body.
func scimAuthFailure(w http.ResponseWriter, _ *http.Request, status int, detail string) {
	scim.WriteError(w, scimerrors.ScimError{Status: status, Detail: detail})
}

// require is requireWith answering refusals as SCIM errors, for /scim/v2.
func (a *authenticator) require(scopeFor func(*http.Request) string, next http.Handler) http.Handler {
	return a.requireWith(scopeFor, scimAuthFailure, next)
}

// requireWith lets a request through only with a valid bearer token
// carrying the scope that scopeFor names for it: 401 (with WWW-Authenticate)
// without a valid token, 403 with a valid one that lacks the scope, 503 when
// the token cannot be checked at all (a valid client must not be told its
// token is bad because the database is down). fail writes the refusal.
func (a *authenticator) requireWith(scopeFor func(*http.Request) string, fail authFailure, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := a.principal(r)
		if err != nil {
			a.log.ErrorContext(r.Context(), "looking up token", "error", err)
			w.Header().Set("Retry-After", "5")
			fail(w, r, http.StatusServiceUnavailable, "The token cannot be checked right now; try again shortly.")
			return
		}
		if !ok {
			// One message for every failure, so that a caller cannot tell a
			// revoked token from a mistyped one.
			w.Header().Set("WWW-Authenticate", `Bearer realm="onramp"`)
			fail(w, r, http.StatusUnauthorized, "A valid bearer token is required.")
			return
		}
		if scope := scopeFor(r); !p.HasScope(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="onramp", error="insufficient_scope", scope="`+scope+`"`)
			fail(w, r, http.StatusForbidden, "The token is valid but lacks the scope "+scope+".")
			return
		}
		if ok, wait := a.perToken.allow(p.Name); !ok {
			tooMany(w, r, fail, wait, "token")
			return
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithPrincipal(r.Context(), p)))
	})
}

// principal identifies the caller by its bearer token. ok is false when
// there is no valid token; err is set when the lookup itself failed.
func (a *authenticator) principal(r *http.Request) (p reqctx.Principal, ok bool, err error) {
	scheme, secret, found := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !found || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return reqctx.Principal{}, false, nil
	}
	if a.oidc != nil && looksLikeJWT(secret) {
		return a.oidc.principal(r.Context(), secret)
	}
	hash := HashTokenSecret(secret)
	if p, ok := a.cache.get(hash); ok {
		return p, true, nil
	}
	tok, err := a.store.TokenByHash(r.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return reqctx.Principal{}, false, nil
	case err != nil:
		return reqctx.Principal{}, false, err
	}
	p = reqctx.Principal{Name: tok.Name, Scopes: tok.Scopes}
	a.cache.put(hash, p)
	return p, true, nil
}
