package main

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

func TestTokenCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		scopes     string
		wantScopes []string
	}{
		{"okta", "scim:read,scim:write", []string{"scim:read", "scim:write"}},
		{"auditor", " audit:read ", []string{"audit:read"}},
		{"everything", strings.Join(server.AllScopes(), ","), server.AllScopes()},
		{"dupes", "scim:read,scim:read", []string{"scim:read"}},
	}
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {
		// The database is fresh: the first token create migrates it.
		for _, tt := range tests {
			r := b.mustRun(t, "token", "create", "--name", tt.name, "--scopes", tt.scopes)

			secret := lastLine(r.stdout)
			if !strings.HasPrefix(secret, "onr_") || len(secret) < 40 {
				t.Fatalf("%s: last line of stdout %q is not a secret", tt.name, secret)
			}
			if r.stdout != secret+"\n" {
				t.Errorf("%s: stdout holds more than the secret: %q", tt.name, r.stdout)
			}
			if strings.Contains(r.stderr, secret) {
				t.Errorf("%s: stderr shows the secret: %q", tt.name, r.stderr)
			}

			st := b.openStore(t)
			tok, err := st.TokenByHash(t.Context(), server.HashTokenSecret(secret))
			if err != nil {
				t.Fatalf("%s: the stored hash is not HashTokenSecret(secret): %v", tt.name, err)
			}
			if tok.Name != tt.name || !slices.Equal(tok.Scopes, tt.wantScopes) {
				t.Errorf("stored token %q %v, want %q %v", tok.Name, tok.Scopes, tt.name, tt.wantScopes)
			}

			events, err := st.ListEvents(t.Context(), store.AuditQuery{ResourceID: tt.name})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("%s: got %d audit events, want 1: %+v", tt.name, len(events), events)
			}
			ev := events[0]
			if ev.Action != "token.create" || ev.ResourceType != "Token" || ev.Actor != "cli" ||
				ev.Outcome != store.OutcomeSuccess || ev.CorrelationID == "" {
				t.Errorf("%s: audit event %+v", tt.name, ev)
			}
			if !strings.Contains(ev.Summary, tt.name) || !strings.Contains(ev.Summary, tt.wantScopes[0]) {
				t.Errorf("summary %q does not name the token and its scopes", ev.Summary)
			}
			if strings.Contains(ev.Summary, secret) {
				t.Errorf("summary %q holds the secret", ev.Summary)
			}
		}
	})
}

func TestTokenCreateDuplicate(t *testing.T) {
	t.Parallel()
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {
		first := b.createToken(t, "okta", "scim:read")

		r := b.run(t, "token", "create", "--name", "okta", "--scopes", "scim:read,scim:write")
		if r.code == 0 {
			t.Fatalf("duplicate name: exit 0, stdout %q", r.stdout)
		}
		if !strings.Contains(r.stderr, `a token named "okta" already exists`) {
			t.Errorf("stderr %q", r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("a failed create printed %q", r.stdout)
		}

		// The first token is untouched.
		st := b.openStore(t)
		tokens, err := st.ListTokens(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(tokens) != 1 || !slices.Equal(tokens[0].Scopes, []string{"scim:read"}) {
			t.Errorf("tokens after a failed duplicate: %+v", tokens)
		}
		if tok, err := st.TokenByHash(t.Context(), server.HashTokenSecret(first)); err != nil || tok.Name != "okta" {
			t.Errorf("the first token's secret no longer works: %+v, %v", tok, err)
		}
	})
}

func TestTokenList(t *testing.T) {
	t.Parallel()
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {

		r := b.mustRun(t, "token", "list")
		if r.stdout != "" || !strings.Contains(r.stderr, "No tokens") {
			t.Errorf("empty list: stdout %q, stderr %q", r.stdout, r.stderr)
		}

		secrets := []string{
			b.createToken(t, "okta", "scim:read,scim:write"),
			b.createToken(t, "auditor", "audit:read"),
		}
		r = b.mustRun(t, "token", "list")
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 rows, got:\n%s", r.stdout)
		}
		if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"NAME", "SCOPES", "CREATED", "LAST", "USED"}) {
			t.Errorf("header %q", lines[0])
		}
		for _, want := range []string{"okta", "scim:read,scim:write", "auditor", "audit:read", "never"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("list does not show %q:\n%s", want, r.stdout)
			}
		}
		for _, s := range secrets {
			h := server.HashTokenSecret(s)
			for _, leak := range []string{s, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h)} {
				if strings.Contains(r.stdout+r.stderr, leak) {
					t.Errorf("list shows a secret or hash %q", leak)
				}
			}
		}
	})
}

func TestTokenRevoke(t *testing.T) {
	t.Parallel()
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {
		b.createToken(t, "okta", "scim:read")
		b.createToken(t, "keep", "scim:read")

		r := b.mustRun(t, "token", "revoke", "okta")
		if !strings.Contains(r.stdout, "revoked token okta") {
			t.Errorf("revoke said %q", r.stdout)
		}
		if r := b.mustRun(t, "token", "list"); strings.Contains(r.stdout, "okta") || !strings.Contains(r.stdout, "keep") {
			t.Errorf("list after revoke:\n%s", r.stdout)
		}

		r = b.run(t, "token", "revoke", "okta")
		if r.code == 0 || !strings.Contains(r.stderr, `no token named "okta"`) {
			t.Errorf("second revoke: exit %d, stderr %q", r.code, r.stderr)
		}

		events, err := b.openStore(t).ListEvents(t.Context(), store.AuditQuery{ResourceID: "okta"})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 || events[0].Action != "token.revoke" || events[1].Action != "token.create" {
			t.Errorf("audit events for okta, newest first: %+v", events)
		}
	})
}
