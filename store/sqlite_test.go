package store_test

import (
	"testing"

	"github.com/onramp-dev/onramp/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, storetest.OpenSQLite)
}

func TestSQLiteMigrate(t *testing.T) {
	storetest.RunMigrate(t, "sqlite", storetest.SQLiteURL)
}
