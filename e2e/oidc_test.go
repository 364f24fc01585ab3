package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/server/oidctest"
)

// TestOIDCBearerTokens drives the real binary with tokens from an OIDC
// issuer in the test process: a connector's token writes over SCIM, an
// admin's finds the write in the audit API under its correlation id, and
// forged, expired and wrong-audience tokens are refused.
func TestOIDCBearerTokens(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		iss := oidctest.NewIssuer(t)
		cfg := filepath.Join(t.TempDir(), "onramp.yaml")
		config := "connectors: [{name: demo, type: log}]\nauth:\n  oidc:\n    issuer: " + iss.URL +
			"\n    audience: onramp\n    group_scopes: {onramp-auditors: [audit:read, admin:read]}\n"
		if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		inst := startOnrampWith(t, db, serveOptions{config: cfg})
		claims := func(sub string, extra map[string]any) map[string]any { return iss.Claims(sub, "onramp", extra) }

		ats := iss.Token(t, claims("greenhouse-sync", map[string]any{"scp": []string{"scim:read", "scim:write"}}))
		r := inst.do(t, http.MethodPost, "/scim/v2/Users", map[string]any{
			"schemas": []string{userURN}, "userName": uniq("oidc") + "@example.com",
		}, withToken(ats), withHeader("X-Correlation-ID", "oidc-e2e-1"))
		mustStatus(t, r, http.StatusCreated)

		auditor := iss.Token(t, claims("alice@corp.example", map[string]any{"groups": []string{"onramp-auditors"}}))
		r = inst.do(t, http.MethodGet, "/admin/v1/audit?correlation_id=oidc-e2e-1", nil, withToken(auditor))
		mustStatus(t, r, http.StatusOK)
		events, _ := r.JSON(t)["events"].([]any)
		if len(events) != 1 || getStr(events[0], "actor") != "greenhouse-sync" || getStr(events[0], "action") != "user.create" {
			t.Errorf("audit of the OIDC write: %s; want one user.create by greenhouse-sync", r)
		}

		for name, tok := range map[string]string{
			"forged":         iss.Sign(t, claims("x", map[string]any{"scope": "scim:read"}), "RS256", oidctest.NewKey(t)),
			"unsigned":       iss.Sign(t, claims("x", map[string]any{"scope": "scim:read"}), "none", nil),
			"expired":        iss.Token(t, claims("x", map[string]any{"scope": "scim:read", "exp": time.Now().Add(-time.Hour).Unix()})),
			"wrong audience": iss.Token(t, claims("x", map[string]any{"scope": "scim:read", "aud": "another-app"})),
		} {
			if r := inst.do(t, http.MethodGet, "/scim/v2/Users", nil, withToken(tok)); r.Status != http.StatusUnauthorized {
				t.Errorf("%s token: status %d, want 401", name, r.Status)
			}
		}
	})
}
