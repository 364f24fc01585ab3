package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/lib/pq" // the PostgreSQL driver, for creating test databases

	"github.com/onramp-dev/onramp/store"
)

// PostgresEnv names the environment variable holding the URL of a
// PostgreSQL server where tests may create and drop databases, e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const PostgresEnv = "ONRAMP_TEST_POSTGRES_URL"

// SQLiteURL returns a database URL ("sqlite:PATH") for a new SQLite file in
// a temporary directory removed after the test. Nothing is created yet.
func SQLiteURL(t *testing.T) string { return sqliteURL(t) }

func sqliteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "onramp.db")
}

// OpenSQLite returns a migrated store on a new SQLite file, closed after
// the test.
func OpenSQLite(t *testing.T) *store.Store {
	t.Helper()
	return openMigrated(t, sqliteURL(t))
}

// PostgresURL creates a fresh, empty database (onramp_test_<random>) on the
// server at $ONRAMP_TEST_POSTGRES_URL, returns its URL and drops it after
// the test, ending any connection still open to it. Without the variable it
// skips the test, or fails it when CI=true: CI must test PostgreSQL.
func PostgresURL(t *testing.T) string { return postgresURL(t) }

func postgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI requires PostgreSQL: set %s", PostgresEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s to a server URL, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() { _ = admin.Close() })

	name := "onramp_test_" + randomHex(t, 8)
	ctx := context.WithoutCancel(t.Context())
	// name is ours (hex), so it can be written into the statement.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() is done by now; WITH (FORCE) ends leftover sessions.
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// OpenPostgres returns a migrated store on a fresh PostgreSQL database
// (see [PostgresURL]), closed and dropped after the test.
func OpenPostgres(t *testing.T) *store.Store {
	t.Helper()
	return openMigrated(t, postgresURL(t))
}

func openMigrated(t testing.TB, databaseURL string) *store.Store {
	t.Helper()
	ctx := t.Context()
	s, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}
