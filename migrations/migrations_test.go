package migrations_test

import (
	"database/sql"
	"reflect"
	"strings"
	"testing"

	_ "github.com/lib/pq"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/onramp-dev/onramp/migrations"
	"github.com/onramp-dev/onramp/store/storetest"
)

// schema is what a dialect's migrations built: columns by table, and the
// indexes created by name (not those backing a constraint).
type schema struct {
	Columns map[string][]string
	Indexes []string
}

// dialect opens an empty database of one kind and reads its schema.
type dialect struct {
	name   string
	goose  goose.Dialect
	open   func(t *testing.T) *sql.DB
	schema func(t *testing.T, db *sql.DB) schema
}

func dialects() []dialect {
	return []dialect{
		{"sqlite", goose.DialectSQLite3, openSQLite, sqliteSchema},
		{"postgres", goose.DialectPostgres, openPostgres, postgresSchema},
	}
}

func openSQLite(t *testing.T) *sql.DB {
	db, err := sql.Open("sqlite", strings.TrimPrefix(storetest.SQLiteURL(t), "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openPostgres(t *testing.T) *sql.DB {
	db, err := sql.Open("postgres", storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestUpDownUp migrates every dialect up, down to nothing, and up again.
func TestUpDownUp(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db := d.open(t)
			fsys, err := migrations.FS(d.name)
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(d.goose, db, fsys, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatalf("up: %v", err)
			}
			up := d.schema(t, db)
			if len(up.Columns) == 0 {
				t.Fatal("no tables after up")
			}
			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("down: %v", err)
			}
			if down := d.schema(t, db); len(down.Columns) != 0 {
				t.Fatalf("tables left after down: %v", down.Columns)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatalf("up again: %v", err)
			}
			if again := d.schema(t, db); !reflect.DeepEqual(again, up) {
				t.Fatalf("schema after up, down, up differs:\n%v\n%v", again, up)
			}
		})
	}
}

// TestDialectsAgree: both folders build the same tables, columns and
// indexes. It needs PostgreSQL (see storetest.PostgresURL).
func TestDialectsAgree(t *testing.T) {
	var got []schema
	for _, d := range dialects() {
		db := d.open(t)
		fsys, err := migrations.FS(d.name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(d.goose, db, fsys, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(t.Context()); err != nil {
			t.Fatalf("%s up: %v", d.name, err)
		}
		got = append(got, d.schema(t, db))
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("schemas differ:\nsqlite   %v\npostgres %v", got[0], got[1])
	}
}

func TestFSUnknownDialect(t *testing.T) {
	if _, err := migrations.FS("mysql"); err == nil {
		t.Fatal("FS(mysql): want an error")
	}
}

func sqliteSchema(t *testing.T, db *sql.DB) schema {
	s := schema{Columns: map[string][]string{}, Indexes: []string{}}
	tables := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`)
	for _, table := range tables {
		// table comes from sqlite_master, not from input.
		s.Columns[table] = queryStrings(t, db, `SELECT name FROM pragma_table_info('`+table+`') ORDER BY name`)
	}
	s.Indexes = queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'index'
		AND sql IS NOT NULL ORDER BY name`)
	return s
}

func postgresSchema(t *testing.T, db *sql.DB) schema {
	s := schema{Columns: map[string][]string{}, Indexes: []string{}}
	tables := queryStrings(t, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version' ORDER BY table_name`)
	for _, table := range tables {
		s.Columns[table] = queryStrings(t, db, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY column_name`, table)
	}
	s.Indexes = queryStrings(t, db, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
		AND tablename <> 'goose_db_version'
		AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname`)
	return s
}

func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
