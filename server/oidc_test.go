package server_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// issuer is an OpenID Connect provider in the test process: a discovery
// document and a JWKS served over HTTP, with keys made here.
type issuer struct {
	srv *httptest.Server
	mu  sync.Mutex
	key *rsa.PrivateKey
	kid string
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	iss := &issuer{}
	iss.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/keys",
			"authorization_endpoint": iss.srv.URL + "/auth", "token_endpoint": iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		iss.mu.Lock()
		pub, kid := iss.key.PublicKey, iss.kid
		iss.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// rotate replaces the signing key; the JWKS then serves only the new one.
func (iss *issuer) rotate(t *testing.T) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.key, iss.kid = key, "k"+b64(key.N.Bytes()[:6])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// token signs claims with the current key (or with key, under the current
// kid, to forge), with alg RS256, or "none" unsigned.
func (iss *issuer) token(t *testing.T, claims map[string]any, alg string, key *rsa.PrivateKey) string {
	t.Helper()
	iss.mu.Lock()
	kid := iss.kid
	if key == nil {
		key = iss.key
	}
	iss.mu.Unlock()
	h, _ := json.Marshal(map[string]any{"alg": alg, "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	signing := b64(h) + "." + b64(c)
	if alg == "none" {
		return signing + "."
	}
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

func (iss *issuer) claims(sub string, extra map[string]any) map[string]any {
	c := map[string]any{"iss": iss.srv.URL, "aud": "onramp", "sub": sub,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestOIDCTokens(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	st := storetest.OpenSQLite(t)
	b := newAdminBench(t, st, server.Config{OIDC: &server.OIDC{Issuer: iss.srv.URL, Audience: "onramp",
		GroupScopes: map[string][]string{"onramp-admins": {server.ScopeAdminRead, server.ScopeAuditRead}}}})

	ats := iss.token(t, iss.claims("ats-connector", map[string]any{"scope": "scim:read scim:write offline_access"}), "RS256", nil)
	b.call(t, "GET", "/scim/v2/Users", ats, "").want(t, http.StatusOK)
	b.call(t, "POST", "/scim/v2/Users", ats, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"oidc-hire"}`,
		"Content-Type", "application/scim+json", "X-Correlation-ID", "oidc-1").want(t, http.StatusCreated)
	evs, err := st.ListEvents(t.Context(), store.AuditQuery{CorrelationID: "oidc-1"})
	if err != nil || len(evs) != 1 || evs[0].Actor != "ats-connector" {
		t.Errorf("audit of the OIDC write = %+v, %v; want actor ats-connector (the subject)", evs, err)
	}
	b.call(t, "GET", "/admin/v1/bundles", ats, "").problem(t, http.StatusForbidden)

	admin := iss.token(t, iss.claims("admin@example.com", map[string]any{"groups": []string{"staff", "onramp-admins"}}), "RS256", nil)
	b.call(t, "GET", "/admin/v1/bundles", admin, "").want(t, http.StatusOK)
	b.call(t, "GET", "/admin/v1/audit", admin, "").want(t, http.StatusOK)
	b.call(t, "PUT", "/admin/v1/bundles/x", admin, `{"connector":"demo","courses":["A"]}`).problem(t, http.StatusForbidden)

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	scim := map[string]any{"scope": "scim:read"}
	refused := map[string]string{
		"expired":        iss.token(t, iss.claims("x", map[string]any{"scope": "scim:read", "exp": time.Now().Add(-time.Minute).Unix()}), "RS256", nil),
		"wrong audience": iss.token(t, iss.claims("x", map[string]any{"scope": "scim:read", "aud": "someone-else"}), "RS256", nil),
		"wrong issuer":   iss.token(t, iss.claims("x", map[string]any{"scope": "scim:read", "iss": "https://evil.example.com"}), "RS256", nil),
		"unsigned":       iss.token(t, iss.claims("x", scim), "none", nil),
		"badly signed":   iss.token(t, iss.claims("x", scim), "RS256", other),
		"tampered":       strings.Replace(iss.token(t, iss.claims("x", scim), "RS256", nil), ".", ".e30", 1),
	}
	for name, tok := range refused {
		r := b.call(t, "GET", "/scim/v2/Users", tok, "")
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s token: status %d, want 401", name, r.status)
		}
	}

	iss.rotate(t)
	rotated := iss.token(t, iss.claims("ats-connector", scim), "RS256", nil)
	b.call(t, "GET", "/scim/v2/Users", rotated, "").want(t, http.StatusOK)
	b.call(t, "GET", "/scim/v2/Users", ats, "").want(t, http.StatusUnauthorized) // its key is gone from the JWKS

	own := server.NewTokenSecret()
	if err := st.EnsureToken(t.Context(), store.Token{Name: "own", Scopes: []string{server.ScopeSCIMRead}, Hash: server.HashTokenSecret(own)}); err != nil {
		t.Fatal(err)
	}
	b.call(t, "GET", "/scim/v2/Users", own, "").want(t, http.StatusOK) // Onramp's own tokens still work
}
