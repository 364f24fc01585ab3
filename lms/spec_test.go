package lms_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms"
)

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		spec   lms.Spec
		env    lms.Env
		wantIn []string
	}{
		{
			name: "webhook with everything wrong",
			spec: lms.Spec{Name: "Hooks!", Type: "webhook", Timeout: -time.Second, SecretEnv: "HOOKS"},
			env:  hookEnv(),
			wantIn: []string{
				`connector name "Hooks!"`,
				"url is required for type webhook",
				"timeout must not be negative",
				"environment variable HOOKS (secret_env) is not set",
			},
		},
		{
			name:   "webhook without secret_env",
			spec:   lms.Spec{Name: "hooks", Type: "webhook", URL: "ftp://lms.example.com/onramp"},
			env:    hookEnv(),
			wantIn: []string{"url must be an absolute http:// or https:// URL", "secret_env is required for type webhook"},
		},
		{
			name:   "relative url",
			spec:   lms.Spec{Name: "hooks", Type: "webhook", URL: "/onramp", SecretEnv: "S"},
			env:    hookEnv("S", hookSecret),
			wantIn: []string{"url must be an absolute http:// or https:// URL"},
		},
		{
			name:   "empty secret",
			spec:   lms.Spec{Name: "hooks", Type: "webhook", URL: "https://lms.example.com", SecretEnv: "S"},
			env:    hookEnv("S", ""),
			wantIn: []string{"environment variable S (secret_env) is not set"},
		},
		{
			name:   "moodle without url or token",
			spec:   lms.Spec{Name: "moodle", Type: "moodle"},
			env:    hookEnv(),
			wantIn: []string{"url is required for type moodle", "token_env is required for type moodle"},
		},
		{
			name:   "canvas token not set",
			spec:   lms.Spec{Name: "canvas", Type: "canvas", URL: "https://canvas.example.com", TokenEnv: "CANVAS_TOKEN"},
			env:    hookEnv(),
			wantIn: []string{"environment variable CANVAS_TOKEN (token_env) is not set"},
		},
		{
			name:   "unknown type",
			spec:   lms.Spec{Name: "x", Type: "blackboard"},
			env:    hookEnv(),
			wantIn: []string{`unknown type "blackboard"`, "log webhook moodle canvas"},
		},
		{
			name:   "empty name",
			spec:   lms.Spec{Type: "log"},
			env:    hookEnv(),
			wantIn: []string{`connector name ""`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := lms.New(tt.spec, lms.Deps{Env: tt.env})
			if err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tt.spec, c)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q\ndoes not contain %q", err, s)
				}
			}
		})
	}
}

func TestNewRejectsBadWebhookSecrets(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n))) }
	tests := []struct {
		name, secret, wantIn string
	}{
		{"no prefix", b64(32), "does not start with whsec_"},
		{"asymmetric key", "whsk_" + b64(32), "does not start with whsec_"},
		{"not base64", "whsec_not*base64*at*all", "not valid base64"},
		{"too short", "whsec_" + b64(23), "decodes to a 23-byte key"},
		{"too long", "whsec_" + b64(65), "decodes to a 65-byte key"},
		{"empty after prefix", "whsec_", "decodes to a 0-byte key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := lms.Spec{Name: "hooks", Type: "webhook", URL: "https://lms.example.com/onramp", SecretEnv: "HOOKS_SECRET"}
			_, err := lms.New(spec, lms.Deps{Env: hookEnv("HOOKS_SECRET", tt.secret)})
			if err == nil {
				t.Fatal("New accepted the secret")
			}
			for _, s := range []string{tt.wantIn, `connector "hooks"`, "HOOKS_SECRET", "want whsec_ followed by 24 to 64 random bytes in base64"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q\ndoes not contain %q", err, s)
				}
			}
			if v := strings.TrimPrefix(tt.secret, "whsec_"); v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestNewAcceptsWebhookSecrets(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n))) }
	for _, secret := range []string{
		"whsec_" + b64(24),
		"whsec_" + b64(64),
		"whsec_" + strings.TrimRight(b64(32), "="), // unpadded
		"whsec_" + b64(32) + "\n",                  // read from a file
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",   // the spec's test vector
	} {
		spec := lms.Spec{Name: "hooks", Type: "webhook", URL: "https://lms.example.com/onramp", SecretEnv: "S"}
		if _, err := lms.New(spec, lms.Deps{Env: hookEnv("S", secret)}); err != nil {
			t.Errorf("New with secret %q: %v", secret, err)
		}
	}
}

func TestNewDefaultsEnvToProcess(t *testing.T) {
	// Not parallel: it sets a process environment variable.
	t.Setenv("ONRAMP_TEST_HOOKS_SECRET", hookSecret)
	spec := lms.Spec{Name: "hooks", Type: "webhook", URL: "https://lms.example.com/onramp", SecretEnv: "ONRAMP_TEST_HOOKS_SECRET"}
	if _, err := lms.New(spec, lms.Deps{}); err != nil {
		t.Errorf("New with Deps.Env nil: %v", err)
	}
}
