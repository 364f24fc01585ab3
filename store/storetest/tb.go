package storetest

import (
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// OpenSQLiteURL is [OpenSQLite] for any testing.TB (benchmarks too), also
// returning the database's URL, for [SeedUsers].
func OpenSQLiteURL(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	u := sqliteURL(tb)
	return openMigrated(tb, u), u
}

// OpenPostgresURL is [OpenPostgres] for any testing.TB (benchmarks too),
// also returning the database's URL, for [SeedUsers].
func OpenPostgresURL(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	u := postgresURL(tb)
	return openMigrated(tb, u), u
}
