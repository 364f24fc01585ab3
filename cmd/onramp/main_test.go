package main

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

// testBundle is one test's database and environment.
type testBundle struct {
	database string            // sqlite:... in the test's temp dir
	env      map[string]string // the environment the commands see
}

// setup returns a bundle on a new SQLite database.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{database: storetest.SQLiteURL(t), env: map[string]string{}}
}

// eachDatabase runs fn as a subtest on a new SQLite database and on a new
// PostgreSQL database (skipped without ONRAMP_TEST_POSTGRES_URL, failed in
// CI), in parallel unless the test must run alone.
func eachDatabase(t *testing.T, parallel bool, fn func(t *testing.T, b *testBundle)) {
	t.Helper()
	for _, db := range []struct {
		name string
		url  func(*testing.T) string
	}{
		{"sqlite", storetest.SQLiteURL},
		{"postgres", storetest.PostgresURL},
	} {
		t.Run(db.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			fn(t, &testBundle{database: db.url(t), env: map[string]string{}})
		})
	}
}

// newApp returns an app that writes to the given writers and sees only
// b.env as its environment.
func (b *testBundle) newApp(stdout, stderr *syncBuffer) *app {
	return &app{
		stdout:     stdout,
		stderr:     stderr,
		getenv:     func(k string) string { return b.env[k] },
		progName:   "onramp",
		newHandler: server.New,
	}
}

// run runs one command line against b's database (unless args name one).
func (b *testBundle) run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	if !hasFlag(args, "--database") {
		args = append(args, "--database", b.database)
	}
	code := b.newApp(&stdout, &stderr).run(t.Context(), args)
	return result{code, stdout.String(), stderr.String()}
}

// mustRun is run for command lines that must succeed.
func (b *testBundle) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := b.run(t, args...)
	if r.code != 0 {
		t.Fatalf("onramp %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// createToken creates a token and returns its secret.
func (b *testBundle) createToken(t *testing.T, name, scopes string) string {
	t.Helper()
	r := b.mustRun(t, "token", "create", "--name", name, "--scopes", scopes)
	return lastLine(r.stdout)
}

// openStore opens b's database directly, to check what the commands wrote.
func (b *testBundle) openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), b.database)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// syncBuffer is a bytes.Buffer that a running server may write to while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.mustRun(t, "version")
	for _, want := range []string{"onramp " + version + "\n", runtime.Version()} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version output %q does not contain %q", r.stdout, want)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {
		for range 2 { // migrating a migrated database is fine
			r := b.mustRun(t, "migrate")
			if !strings.Contains(r.stdout, "migrated") || !strings.Contains(r.stdout, redactURL(b.database)) {
				t.Errorf("migrate said %q", r.stdout)
			}
		}
		if err := b.openStore(t).Ready(t.Context()); err != nil {
			t.Errorf("store not ready after migrate: %v", err)
		}
	})
}

// TestUsageErrors pins that mistakes exit non-zero with a message that says
// what is wrong.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{"unknown scope", []string{"token", "create", "--name", "x", "--scopes", "scim:read,scim:admin"}, nil, `unknown scope "scim:admin"`},
		{"no scopes", []string{"token", "create", "--name", "x", "--scopes", ","}, nil, "no scopes"},
		{"missing name", []string{"token", "create", "--scopes", "scim:read"}, nil, `"name" not set`},
		{"bad name", []string{"token", "create", "--name", "a b", "--scopes", "scim:read"}, nil, `token name "a b"`},
		{"revoke unknown", []string{"token", "revoke", "nobody"}, nil, `no token named "nobody"`},
		{"revoke without name", []string{"token", "revoke"}, nil, "accepts 1 arg"},
		{"unknown flag", []string{"token", "list", "--bogus"}, nil, "unknown flag: --bogus"},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"bad since", []string{"audit", "--since", "yesterday"}, nil, `--since "yesterday"`},
		{"since after until", []string{"audit", "--since", "1h", "--until", "2h"}, nil, "is not before --until"},
		{"zero limit", []string{"audit", "--limit", "0"}, nil, "--limit must be between"},
		{"bad listen", []string{"serve", "--listen", "8080"}, nil, `--listen "8080"`},
		{"bad base url", []string{"serve", "--listen", "127.0.0.1:0", "--base-url", "onramp.example.com"}, nil, "--base-url"},
		{"bad env", []string{"serve", "--listen", "127.0.0.1:0"}, map[string]string{"ONRAMP_MAX_BODY_BYTES": "lots"}, "environment variable ONRAMP_MAX_BODY_BYTES"},
		{"bad database", []string{"migrate", "--database", "mysql://x"}, nil, "open database mysql://x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for k, v := range tt.env {
				b.env[k] = v
			}
			r := b.run(t, tt.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stdout %q", r.stdout)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
		})
	}
}

func TestDatabaseFromEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	envDB := storetest.SQLiteURL(t)
	b.env["ONRAMP_DATABASE_URL"] = envDB

	// No --database: the environment wins over the default.
	var stdout, stderr syncBuffer
	args := []string{"token", "create", "--name", "from-env", "--scopes", "scim:read"}
	if code := b.newApp(&stdout, &stderr).run(t.Context(), args); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	r := b.mustRun(t, "token", "list", "--database", envDB)
	if !strings.Contains(r.stdout, "from-env") {
		t.Errorf("token not in ONRAMP_DATABASE_URL's database:\n%s", r.stdout)
	}

	// --database wins over the environment.
	b.mustRun(t, "token", "create", "--name", "from-flag", "--scopes", "scim:read")
	if r := b.mustRun(t, "token", "list", "--database", envDB); strings.Contains(r.stdout, "from-flag") {
		t.Errorf("--database was ignored in favour of ONRAMP_DATABASE_URL:\n%s", r.stdout)
	}
	if r := b.mustRun(t, "token", "list"); !strings.Contains(r.stdout, "from-flag") {
		t.Errorf("token not in --database's database:\n%s", r.stdout)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"sqlite:onramp.db", "sqlite:onramp.db"},
		{"postgres://onramp:hunter2@db:5432/onramp?sslmode=disable", "postgres://onramp:xxxxx@db:5432/onramp?sslmode=disable"},
		{"postgres://db/onramp?password=hunter2", "postgres://db/onramp?password=xxxxx"},
		{"postgres://onramp@db/onramp", "postgres://onramp@db/onramp"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
