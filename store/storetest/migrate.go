package storetest

import (
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// RunMigrate checks the migration lifecycle on a database that newURL
// creates empty: not ready before Migrate, ready after, Migrate idempotent,
// and the same answers from a second Store on the same database.
func RunMigrate(t *testing.T, dialect string, newURL func(t *testing.T) string) {
	ctx := t.Context()
	url := newURL(t)
	s, err := store.Open(ctx, url)
	wantNoErr(t, "Open", err)
	t.Cleanup(func() { _ = s.Close() })
	wantEqual(t, "Dialect", s.Dialect(), dialect)

	if err := s.Ready(ctx); err == nil {
		t.Fatal("Ready on an unmigrated database: want an error")
	}
	// Ready only reads: it still fails the second time.
	if err := s.Ready(ctx); err == nil {
		t.Fatal("Ready on an unmigrated database (again): want an error")
	}
	wantNoErr(t, "Migrate", s.Migrate(ctx))
	wantNoErr(t, "Ready after Migrate", s.Ready(ctx))
	wantNoErr(t, "Migrate again", s.Migrate(ctx))
	wantNoErr(t, "Ready after a second Migrate", s.Ready(ctx))

	other, err := store.Open(ctx, url)
	wantNoErr(t, "Open a second store", err)
	t.Cleanup(func() { _ = other.Close() })
	wantNoErr(t, "Ready of a second store", other.Ready(ctx))
	createUser(t, s, attrs{"userName": "shared"})
	p, err := other.ListUsers(ctx, store.ListQuery{Count: 1})
	wantNoErr(t, "ListUsers", err)
	wantEqual(t, "users seen by the second store", p.Total, 1)

	wantNoErr(t, "Close", other.Close())
	if err := other.Ready(ctx); err == nil {
		t.Error("Ready after Close: want an error")
	}
}
