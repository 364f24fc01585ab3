// Package oidctest is an OpenID Connect provider for tests: a discovery
// document and a JWKS served over HTTP from the test process, RSA keys
// made in the test, and tokens signed (or forged) on demand. Like
// net/http/httptest, it starts on a loopback port and the test closes it.
package oidctest

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
	"sync"
	"testing"
	"time"
)

// Issuer is the provider. Its URL is the issuer identifier.
type Issuer struct {
	URL string
	srv *httptest.Server

	mu  sync.Mutex
	key *rsa.PrivateKey
	kid string
}

// NewIssuer starts a provider with one signing key; t's cleanup stops it.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{}
	iss.Rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", iss.discovery)
	mux.HandleFunc("/keys", iss.keys)
	iss.srv = httptest.NewServer(mux)
	iss.URL = iss.srv.URL
	t.Cleanup(iss.srv.Close)
	return iss
}

func (iss *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss.URL, "jwks_uri": iss.URL + "/keys",
		"authorization_endpoint": iss.URL + "/auth", "token_endpoint": iss.URL + "/token",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (iss *Issuer) keys(w http.ResponseWriter, _ *http.Request) {
	iss.mu.Lock()
	pub, kid := iss.key.PublicKey, iss.kid
	iss.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// Rotate replaces the signing key: the JWKS then serves only the new one,
// and tokens signed with the old one no longer verify.
func (iss *Issuer) Rotate(t testing.TB) {
	t.Helper()
	key := NewKey(t)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.key, iss.kid = key, "k"+b64(key.N.Bytes()[:6])
}

// NewKey makes an RSA key, for forging tokens with Sign.
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Claims are a token's claims for subject sub and audience aud, issued
// now by iss and valid for an hour; extra adds or overrides claims.
func (iss *Issuer) Claims(sub, aud string, extra map[string]any) map[string]any {
	c := map[string]any{"iss": iss.URL, "aud": aud, "sub": sub,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// Token signs claims with the current key (RS256).
func (iss *Issuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	return iss.Sign(t, claims, "RS256", nil)
}

// Sign makes a token with the header alg: "none" leaves it unsigned; key,
// when not nil, signs in place of the issuer's own (under its kid): a
// forgery.
func (iss *Issuer) Sign(t testing.TB, claims map[string]any, alg string, key *rsa.PrivateKey) string {
	t.Helper()
	iss.mu.Lock()
	kid := iss.kid
	if key == nil {
		key = iss.key
	}
	iss.mu.Unlock()
	h, _ := json.Marshal(map[string]any{"alg": alg, "typ": "JWT", "kid": kid})
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
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
