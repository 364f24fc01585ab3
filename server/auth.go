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
}

// require lets a request through only with a valid bearer token carrying
// the scope that scopeFor names for it: 401 (with WWW-Authenticate) without
// a valid token, 403 with a valid one that lacks the scope.
func (a *authenticator) require(scopeFor func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.principal(r)
		if !ok {
			// One message for every failure, so that a caller cannot tell a
			// revoked token from a mistyped one.
			w.Header().Set("WWW-Authenticate", `Bearer realm="onramp"`)
			scim.WriteError(w, scimerrors.ScimError{Status: http.StatusUnauthorized,
				Detail: "A valid bearer token is required."})
			return
		}
		if scope := scopeFor(r); !p.HasScope(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="onramp", error="insufficient_scope", scope="`+scope+`"`)
			scim.WriteError(w, scimerrors.ScimError{Status: http.StatusForbidden,
				Detail: "The token is valid but lacks the scope " + scope + "."})
			return
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithPrincipal(r.Context(), p)))
	})
}

// principal identifies the caller by its bearer token.
func (a *authenticator) principal(r *http.Request) (reqctx.Principal, bool) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return reqctx.Principal{}, false
	}
	tok, err := a.store.TokenByHash(r.Context(), HashTokenSecret(secret))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.log.ErrorContext(r.Context(), "looking up token", "error", err)
		}
		return reqctx.Principal{}, false
	}
	return reqctx.Principal{Name: tok.Name, Scopes: tok.Scopes}, true
}
