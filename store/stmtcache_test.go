package store_test

import (
	"fmt"
	"testing"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// TestPreparedStatementsSurviveSchemaChange runs queries until the store
// has them prepared, changes the schema under them, as a migration would,
// and runs them again.
func TestPreparedStatementsSurviveSchemaChange(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(t *testing.T) *store.Store
	}{
		{"sqlite", storetest.OpenSQLite},
		{"postgres", storetest.OpenPostgres},
	} {
		t.Run(db.name, func(t *testing.T) {
			s := db.open(t)
			ctx := t.Context()
			u := &store.User{Attributes: map[string]any{"userName": "alice", "displayName": "Alice"}}
			if err := s.CreateUser(ctx, u, store.Event{Action: "user.create"}); err != nil {
				t.Fatal(err)
			}
			read := func() {
				t.Helper()
				got, err := s.GetUser(ctx, u.ID)
				if err != nil {
					t.Fatalf("GetUser: %v", err)
				}
				if got.UserName() != "alice" || got.Version != u.Version {
					t.Fatalf("GetUser = %q version %d, want alice version %d", got.UserName(), got.Version, u.Version)
				}
				if _, err := s.GetUser(ctx, "no-such-user"); err == nil {
					t.Fatal("GetUser of a missing user: want an error")
				}
			}
			read()
			if n := s.PreparedStatements(); n == 0 {
				t.Fatal("no statement prepared after a read")
			}
			read() // now prepared
			if err := s.ExecDDL(ctx, "ALTER TABLE users ADD COLUMN extra_col TEXT"); err != nil {
				t.Fatal(err)
			}
			if err := s.ExecDDL(ctx, "CREATE INDEX users_extra_col ON users (extra_col)"); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				read()
			}
			if _, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error {
				x.Attributes["displayName"] = "Alice B"
				return nil
			}, store.Event{Action: "user.update"}); err != nil {
				t.Fatalf("UpdateUser after the schema change: %v", err)
			}
			got, err := s.GetUser(ctx, u.ID)
			if err != nil || got.Attributes["displayName"] != "Alice B" {
				t.Fatalf("GetUser after update = %v, %v", got, err)
			}
		})
	}
}

// TestPreparedStatementAfterResultTypeChange: PostgreSQL refuses a
// prepared statement whose result type a schema change altered. The store
// drops the statement, and a query outside a transaction runs again
// unprepared, so no run fails.
func TestPreparedStatementAfterResultTypeChange(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx := t.Context()
	if err := s.CreateToken(ctx, store.Token{Name: "ci", Scopes: []string{"scim"}, Hash: []byte("0123456789abcdef0123456789abcdef")}, store.Event{Action: "token.create"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListTokens(ctx); err != nil {
		t.Fatal(err)
	}
	if s.PreparedStatements() == 0 {
		t.Fatal("no statement prepared")
	}
	for range 4 { // prepared on more than one connection, perhaps
		if _, err := s.ListTokens(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ExecDDL(ctx, "ALTER TABLE tokens ALTER COLUMN name TYPE varchar(300)"); err != nil {
		t.Fatal(err)
	}
	failures := 0
	for range 4 {
		tokens, err := s.ListTokens(ctx)
		if err != nil {
			failures++
			t.Logf("ListTokens after the change: %v", err)
			continue
		}
		if len(tokens) != 1 || tokens[0].Name != "ci" {
			t.Fatalf("ListTokens = %+v", tokens)
		}
	}
	if failures > 0 {
		t.Errorf("%d runs failed after the change; want none", failures)
	}
}

// TestPreparedStatementsBounded: past the bound, queries still run, unprepared.
func TestPreparedStatementsBounded(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := t.Context()
	for i := range store.StatementCacheSize + 20 {
		for range 2 { // the second run finds the first's statement, while there is room
			n, err := s.RunOnPool(ctx, fmt.Sprintf("SELECT %d + ?", i), 1)
			if err != nil || n != int64(i+1) {
				t.Fatalf("query %d = %d, %v", i, n, err)
			}
			s.PreparedStatements() // wait for the preparation
		}
	}
	if n := s.PreparedStatements(); n != store.StatementCacheSize {
		t.Errorf("%d statements prepared, want the bound, %d", n, store.StatementCacheSize)
	}
}
