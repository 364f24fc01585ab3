package store_test

import (
	"testing"

	"github.com/onramp-dev/onramp/store/storetest"
)

// These tests need a PostgreSQL server: set ONRAMP_TEST_POSTGRES_URL (see
// storetest.PostgresURL). Without it they skip, except under CI=true.

func TestPostgres(t *testing.T) {
	storetest.Run(t, storetest.OpenPostgres)
}

func TestPostgresMigrate(t *testing.T) {
	storetest.RunMigrate(t, "postgres", storetest.PostgresURL)
}
