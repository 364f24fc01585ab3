package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/onramp-dev/onramp/reqctx"
)

// OIDC accepts bearer tokens issued by an OpenID Connect provider, beside
// Onramp's own: JWTs its keys signed, for this audience, not expired. ATS
// connectors using the OAuth2 client-credentials grant and admins signed
// in through the company IdP both present one.
type OIDC struct {
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// ScopesClaim names the claim listing Onramp scopes: a space-separated
	// string or an array. Empty: "scope", else "scp".
	ScopesClaim string `yaml:"scopes_claim"`
	// GroupsClaim names a claim listing groups, and GroupScopes the scopes
	// each group grants. Empty: "groups".
	GroupsClaim string              `yaml:"groups_claim"`
	GroupScopes map[string][]string `yaml:"group_scopes"`
}

// Validate reports every problem at once.
func (o *OIDC) Validate() error {
	if o == nil {
		return nil
	}
	var errs []error
	if !isHTTPURL(o.Issuer) {
		errs = append(errs, fmt.Errorf("auth.oidc.issuer: %q is not an http(s) URL", o.Issuer))
	}
	if o.Audience == "" {
		errs = append(errs, errors.New("auth.oidc.audience: required (the aud a token must carry)"))
	}
	for group, scopes := range o.GroupScopes {
		for _, s := range scopes {
			if !slices.Contains(AllScopes(), s) {
				errs = append(errs, fmt.Errorf("auth.oidc.group_scopes[%q]: unknown scope %q", group, s))
			}
		}
	}
	return errors.Join(errs...)
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// oidcVerifier verifies JWTs. It discovers the issuer on first use, not at
// start, so that an IdP down at start only fails requests carrying its
// tokens, and retries discovery at most every few seconds.
type oidcVerifier struct {
	cfg    OIDC
	client *http.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
}

// retryDiscovery is how long a failed discovery is remembered.
const retryDiscovery = 5 * time.Second

func newOIDCVerifier(cfg *OIDC) *oidcVerifier {
	if cfg == nil {
		return nil
	}
	return &oidcVerifier{cfg: *cfg, client: &http.Client{Timeout: 10 * time.Second}}
}

// errOIDCUnavailable: the issuer's discovery document cannot be fetched.
var errOIDCUnavailable = errors.New("OIDC issuer unavailable")

func (o *oidcVerifier) get() (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	if time.Since(o.failedAt) < retryDiscovery {
		return nil, errOIDCUnavailable
	}
	// The context lives as long as the key set, which refetches keys when
	// a token names one it does not know (key rotation).
	ctx := oidc.ClientContext(context.Background(), o.client)
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		o.failedAt = time.Now()
		return nil, fmt.Errorf("%w: %v", errOIDCUnavailable, err)
	}
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.Audience})
	return o.verifier, nil
}

// principal verifies raw. ok is false for a token that is not valid;
// err is set when it cannot be checked at all.
func (o *oidcVerifier) principal(ctx context.Context, raw string) (reqctx.Principal, bool, error) {
	v, err := o.get()
	if err != nil {
		return reqctx.Principal{}, false, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return reqctx.Principal{}, false, nil
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return reqctx.Principal{}, false, nil
	}
	if tok.Subject == "" {
		return reqctx.Principal{}, false, nil
	}
	return reqctx.Principal{Name: tok.Subject, Scopes: o.scopes(claims)}, true, nil
}

// scopes are the Onramp scopes the claims grant: those the scopes claim
// lists and those the token's groups map to. Other scopes are ignored.
func (o *oidcVerifier) scopes(claims map[string]any) []string {
	var out []string
	add := func(s string) {
		if slices.Contains(AllScopes(), s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	names := []string{o.cfg.ScopesClaim}
	if o.cfg.ScopesClaim == "" {
		names = []string{"scope", "scp"}
	}
	for _, n := range names {
		for _, s := range stringsClaim(claims[n]) {
			add(s)
		}
	}
	groups := o.cfg.GroupsClaim
	if groups == "" {
		groups = "groups"
	}
	for _, g := range stringsClaim(claims[groups]) {
		for _, s := range o.cfg.GroupScopes[g] {
			add(s)
		}
	}
	return out
}

// stringsClaim reads a claim that is a space-separated string or an array
// of strings.
func stringsClaim(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// looksLikeJWT tells a JWT (three dot-separated parts) from Onramp's own
// secrets, which have no dot.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }
