// Package migrations holds Onramp's SQL schema, one folder per database
// dialect, embedded in the binary so that `onramp serve` and `onramp migrate`
// need no files beside it.
//
// Files are goose migrations (github.com/pressly/goose/v3): numbered, with
// `-- +goose Up` and `-- +goose Down` sections. The two folders describe the
// same tables; a change to one needs its twin in the other, and the store's
// conformance suite (store/storetest) runs against both.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// FS returns the migrations of dialect ("sqlite" or "postgres"), with the
// migration files at its root as goose expects.
func FS(dialect string) (fs.FS, error) {
	switch dialect {
	case "sqlite", "postgres":
		return fs.Sub(files, dialect)
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q (want \"sqlite\" or \"postgres\")", dialect)
	}
}
