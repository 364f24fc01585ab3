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

	"github.com/onramp-dev/onramp/store"
)

// OpenSQLiteTB is [OpenSQLite] for benchmarks and any other testing.TB.
func OpenSQLiteTB(tb testing.TB) *store.Store {
	tb.Helper()
	s, _ := OpenSQLiteURL(tb)
	return s
}

// OpenSQLiteURL is [OpenSQLiteTB] that also returns the database's URL,
// for [SeedUsers].
func OpenSQLiteURL(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	u := "sqlite:" + filepath.Join(tb.TempDir(), "onramp.db")
	return openMigratedTB(tb, u), u
}

// OpenPostgresTB is [OpenPostgres] for benchmarks and any other
// testing.TB: a migrated store on a fresh database, dropped afterwards. It
// skips without ONRAMP_TEST_POSTGRES_URL.
func OpenPostgresTB(tb testing.TB) *store.Store {
	tb.Helper()
	s, _ := OpenPostgresURL(tb)
	return s
}

// OpenPostgresURL is [OpenPostgresTB] that also returns the database's
// URL, for [SeedUsers].
func OpenPostgresURL(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skipf("PostgreSQL skipped: set %s", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	tb.Cleanup(func() { _ = admin.Close() })
	name := "onramp_test_" + randomHexTB(tb, 8)
	ctx := context.WithoutCancel(tb.Context())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return openMigratedTB(tb, u.String()), u.String()
}

func openMigratedTB(tb testing.TB, databaseURL string) *store.Store {
	tb.Helper()
	ctx := tb.Context()
	s, err := store.Open(ctx, databaseURL)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}

func randomHexTB(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}
