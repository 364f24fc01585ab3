package main

// Temporary: pins the chosen dependencies in go.mod while the packages that
// use them are written. Removed once every import is real.
import (
	_ "github.com/elimity-com/scim"
	_ "github.com/google/uuid"
	_ "github.com/gorilla/mux"
	_ "github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	_ "github.com/pressly/goose/v3"
	_ "github.com/scim2/filter-parser/v2"
	_ "github.com/spf13/cobra"
	_ "modernc.org/sqlite"
)
