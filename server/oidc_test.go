package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/server/oidctest"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

func TestOIDCTokens(t *testing.T) {
	t.Parallel()
	iss := oidctest.NewIssuer(t)
	claims := func(sub string, extra map[string]any) map[string]any { return iss.Claims(sub, "onramp", extra) }
	st := storetest.OpenSQLite(t)
	b := newAdminBench(t, st, server.Config{OIDC: &server.OIDC{Issuer: iss.URL, Audience: "onramp",
		GroupScopes: map[string][]string{"onramp-admins": {server.ScopeAdminRead, server.ScopeAuditRead}}}})

	ats := iss.Token(t, claims("ats-connector", map[string]any{"scope": "scim:read scim:write offline_access"}))
	b.call(t, "GET", "/scim/v2/Users", ats, "").want(t, http.StatusOK)
	b.call(t, "POST", "/scim/v2/Users", ats, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"oidc-hire"}`,
		"Content-Type", "application/scim+json", "X-Correlation-ID", "oidc-1").want(t, http.StatusCreated)
	evs, err := st.ListEvents(t.Context(), store.AuditQuery{CorrelationID: "oidc-1"})
	if err != nil || len(evs) != 1 || evs[0].Actor != "ats-connector" {
		t.Errorf("audit of the OIDC write = %+v, %v; want actor ats-connector (the subject)", evs, err)
	}
	b.call(t, "GET", "/admin/v1/bundles", ats, "").problem(t, http.StatusForbidden)

	admin := iss.Token(t, claims("admin@example.com", map[string]any{"groups": []string{"staff", "onramp-admins"}}))
	b.call(t, "GET", "/admin/v1/bundles", admin, "").want(t, http.StatusOK)
	b.call(t, "GET", "/admin/v1/audit", admin, "").want(t, http.StatusOK)
	b.call(t, "PUT", "/admin/v1/bundles/x", admin, `{"connector":"demo","courses":["A"]}`).problem(t, http.StatusForbidden)

	other := oidctest.NewKey(t)
	scim := map[string]any{"scope": "scim:read"}
	refused := map[string]string{
		"expired":        iss.Token(t, claims("x", map[string]any{"scope": "scim:read", "exp": time.Now().Add(-time.Minute).Unix()})),
		"wrong audience": iss.Token(t, claims("x", map[string]any{"scope": "scim:read", "aud": "someone-else"})),
		"wrong issuer":   iss.Token(t, claims("x", map[string]any{"scope": "scim:read", "iss": "https://evil.example.com"})),
		"unsigned":       iss.Sign(t, claims("x", scim), "none", nil),
		"badly signed":   iss.Sign(t, claims("x", scim), "RS256", other),
		"tampered":       strings.Replace(iss.Token(t, claims("x", scim)), ".", ".e30", 1),
	}
	for name, tok := range refused {
		r := b.call(t, "GET", "/scim/v2/Users", tok, "")
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s token: status %d, want 401", name, r.status)
		}
	}

	iss.Rotate(t)
	rotated := iss.Token(t, claims("ats-connector", scim))
	b.call(t, "GET", "/scim/v2/Users", rotated, "").want(t, http.StatusOK)
	b.call(t, "GET", "/scim/v2/Users", ats, "").want(t, http.StatusUnauthorized) // its key is gone from the JWKS

	own := server.NewTokenSecret()
	if err := st.EnsureToken(t.Context(), store.Token{Name: "own", Scopes: []string{server.ScopeSCIMRead}, Hash: server.HashTokenSecret(own)}); err != nil {
		t.Fatal(err)
	}
	b.call(t, "GET", "/scim/v2/Users", own, "").want(t, http.StatusOK) // Onramp's own tokens still work
}
