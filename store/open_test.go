package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

func TestOpenRefusesUnknownURLs(t *testing.T) {
	for _, url := range []string{"", "mysql://db", "sqlite3:x.db", "file:x.db", "onramp.db"} {
		_, err := store.Open(t.Context(), url)
		if err == nil {
			t.Fatalf("Open(%q): want an error", url)
		}
		if !strings.Contains(err.Error(), "sqlite:PATH") || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("Open(%q): error %q should name the accepted forms", url, err)
		}
	}
	for _, url := range []string{"sqlite:", "sqlite::memory:", "sqlite:x.db?mode=ro"} {
		if _, err := store.Open(t.Context(), url); err == nil {
			t.Errorf("Open(%q): want an error", url)
		}
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://onramp:s3cret-pw@127.0.0.1:1/onramp?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server: want an error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := storetest.OpenSQLite(t)
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "5000",
	} {
		got, err := s.Pragma(t.Context(), pragma)
		if err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestSQLiteRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := store.Open(t.Context(), "sqlite:relative.db")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

// The unique index on the folded key of userName serves a case-insensitive
// `userName eq`, the filter every IdP sends before creating a user, whatever
// the script; likewise for a group's displayName.
func TestCaseInsensitiveEqUsesKeyIndex(t *testing.T) {
	eq := func(column, v string) store.Cond {
		return store.Compare{Field: store.Field{Column: column}, Op: store.OpEq, Value: v}
	}
	for name, open := range map[string]func(*testing.T) *store.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			for _, tc := range []struct {
				what       string
				plan       func(context.Context, store.Cond) (string, error)
				filter     store.Cond
				index, key string
			}{
				{"userName eq", s.PlanUsers, eq("user_name", "bjensen"), "users_user_name_key", "user_name_key"},
				{"userName eq, non-ASCII", s.PlanUsers, eq("user_name", "JÖRG@example.com"), "users_user_name_key", "user_name_key"},
				{"group displayName eq", s.PlanGroups, eq("display_name", "Émile"), "groups_display_name_key", "display_name_key"},
			} {
				plan, err := tc.plan(t.Context(), tc.filter)
				if err != nil {
					t.Fatalf("%s: plan: %v", tc.what, err)
				}
				// The index by name, searched on the key column (SQLite:
				// "(user_name_key=?)", PostgreSQL: "(user_name_key = ...)").
				if !strings.Contains(plan, tc.index) || !strings.Contains(plan, "("+tc.key) || strings.Contains(plan, "lower(") {
					t.Errorf("%s: plan does not search %s on %s:\n%s", tc.what, tc.index, tc.key, plan)
				}
			}
		})
	}
}

func TestOpenPostgresqlScheme(t *testing.T) {
	url := "postgresql://" + strings.TrimPrefix(storetest.PostgresURL(t), "postgres://")
	s, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(postgresql://...): %v", err)
	}
	defer s.Close()
	if s.Dialect() != "postgres" {
		t.Errorf("Dialect() = %q", s.Dialect())
	}
}
