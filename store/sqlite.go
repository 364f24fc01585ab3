package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteConns bounds the pool. SQLite has one writer at a time (write
// transactions begin IMMEDIATE and queue on the lock); under WAL the other
// connections read concurrently.
const sqliteConns = 8

// sqliteParams configure every connection (modernc.org/sqlite DSN
// parameters). synchronous=FULL makes an acknowledged commit durable;
// busy_timeout lets a writer wait for the lock instead of failing;
// _txlock=immediate takes the write lock at BEGIN, so a transaction never
// fails half way trying to upgrade a read lock. Read-only transactions still
// begin DEFERRED.
const sqliteParams = "_pragma=busy_timeout(5000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// openSQLite opens the database file at path with the modernc driver.
func openSQLite(path string) (*sqlx.DB, dialect, error) {
	switch {
	case path == "":
		return nil, nil, errors.New(`sqlite: empty path in "sqlite:PATH"`)
	case path == ":memory:" || strings.Contains(path, "mode=memory"):
		return nil, nil, errors.New("sqlite: in-memory databases are not supported (each pooled connection would see its own)")
	case strings.ContainsAny(path, "?#"):
		return nil, nil, errors.New("sqlite: the path may not contain '?' or '#'")
	}
	db, err := sqlx.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: %w", err)
	}
	db.SetMaxOpenConns(sqliteConns)
	db.SetMaxIdleConns(sqliteConns)
	return db, sqliteDialect{}, nil
}

// sqliteDialect is the SQLite side of [dialect].
type sqliteDialect struct{}

func (sqliteDialect) name() string         { return "sqlite" }
func (sqliteDialect) goose() goose.Dialect { return goose.DialectSQLite3 }

func (sqliteDialect) singleWriter() bool { return true }

func (sqliteDialect) gooseOptions() ([]goose.ProviderOption, error) { return nil, nil }

func (sqliteDialect) tableExists(ctx context.Context, db *sqlx.DB, table string) (bool, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table)
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", table, err)
	}
	return n > 0, nil
}

func (sqliteDialect) isUniqueViolation(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func (sqliteDialect) isForeignKeyViolation(err error) bool {
	code, ok := sqliteCode(err)
	return ok && code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// sqliteCode returns the extended result code of a driver error (the driver
// enables extended codes on every connection).
func sqliteCode(err error) (int, bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code(), true
}

// timeArg writes fixed-width UTC text: text order is time order.
func (sqliteDialect) timeArg(t time.Time) any { return t.UTC().Format(sqliteTimeFormat) }

// forUpdate is empty: a write transaction already holds the database's
// only write lock from BEGIN IMMEDIATE on.
func (sqliteDialect) forUpdate() string { return "" }

// mappingLock is empty: write transactions are serialised already.
func (sqliteDialect) mappingLock(bool) string { return "" }

// readOptions: read-only transactions begin DEFERRED and see one WAL snapshot.
func (sqliteDialect) readOptions() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// path writes the JSON path of ref as an SQL expression: a bound
// `$."a"."b"` from the root, or the element's full key plus a bound suffix.
// Path segments are checked by the renderer to hold no quote.
func (sqliteDialect) path(b *sqlBuf, ref jsonRef) {
	var p strings.Builder
	for _, seg := range ref.path {
		p.WriteString(`."`)
		p.WriteString(seg)
		p.WriteString(`"`)
	}
	switch {
	case ref.prefix == "":
		b.arg("$" + p.String())
	case len(ref.path) == 0:
		b.sql(ref.prefix)
	default:
		b.sql("(" + ref.prefix + " || ")
		b.arg(p.String())
		b.sql(")")
	}
}

// call writes fn(doc, path).
func (d sqliteDialect) call(b *sqlBuf, fn string, ref jsonRef) {
	b.sql(fn + "(" + ref.doc + ", ")
	d.path(b, ref)
	b.sql(")")
}

func (d sqliteDialect) jsonScalar(b *sqlBuf, ref jsonRef, t jsonType) {
	switch t {
	case jsonString:
		b.sql("CASE WHEN ")
		d.call(b, "json_type", ref)
		b.sql(" = 'text' THEN ")
		d.call(b, "json_extract", ref)
		b.sql(" END")
	case jsonNumber:
		b.sql("CASE WHEN ")
		d.call(b, "json_type", ref)
		b.sql(" IN ('integer', 'real') THEN ")
		d.call(b, "json_extract", ref)
		b.sql(" END")
	case jsonBoolean:
		b.sql("CASE ")
		d.call(b, "json_type", ref)
		b.sql(" WHEN 'true' THEN 1 WHEN 'false' THEN 0 END")
	}
}

func (d sqliteDialect) jsonPresent(b *sqlBuf, ref jsonRef) {
	b.sql("CASE ")
	d.call(b, "json_type", ref)
	b.sql(" WHEN 'null' THEN 0 WHEN 'text' THEN ")
	d.call(b, "json_extract", ref)
	b.sql(" <> '' WHEN 'array' THEN ")
	d.call(b, "json_array_length", ref)
	b.sql(" > 0 WHEN 'object' THEN ")
	d.call(b, "json_extract", ref)
	b.sql(" <> '{}' ELSE ")
	d.call(b, "json_type", ref)
	b.sql(" IS NOT NULL END")
}

// jsonAnyOf iterates the array with json_each. An element is addressed
// from the document root through its fullkey, which works for elements of
// every type (json_each's value column is not JSON for a string element).
func (d sqliteDialect) jsonAnyOf(b *sqlBuf, ref jsonRef, alias string, where func(elem jsonRef) error) error {
	b.sql("(")
	d.call(b, "json_type", ref)
	b.sql(" = 'array' AND EXISTS (SELECT 1 FROM ")
	d.call(b, "json_each", ref)
	b.sql(" AS " + alias + " WHERE ")
	if err := where(jsonRef{doc: ref.doc, prefix: alias + ".fullkey"}); err != nil {
		return err
	}
	b.sql("))")
	return nil
}

// jsonPrimaryElem walks the array with json_each, whose key is the
// element's index, and takes the primary element, else the first.
func (d sqliteDialect) jsonPrimaryElem(b *sqlBuf, ref jsonRef, alias string, value func(elem jsonRef)) {
	elem := jsonRef{doc: ref.doc, prefix: alias + ".fullkey"}
	b.sql("(SELECT ")
	value(elem)
	b.sql(" FROM ")
	d.call(b, "json_each", ref)
	b.sql(" AS " + alias + " WHERE ")
	d.call(b, "json_type", ref)
	b.sql(" = 'array' ORDER BY CASE WHEN ")
	d.call(b, "json_type", elem.child([]string{"primary"}))
	b.sql(" = 'true' THEN 0 ELSE 1 END, " + alias + ".key LIMIT 1)")
}

// exactMatch avoids LIKE, which on SQLite ignores ASCII case whatever the
// operands, and uses instr and substr, which compare characters exactly.
func (sqliteDialect) exactMatch(b *sqlBuf, op Op, operand func(), value string) {
	switch op {
	case OpCo:
		b.sql("instr(")
		operand()
		b.sql(", ")
		b.arg(value)
		b.sql(") > 0")
	case OpSw:
		b.sql("substr(")
		operand()
		b.sql(", 1, length(")
		b.arg(value)
		b.sql(")) = ")
		b.arg(value)
	case OpEw:
		b.sql("(length(")
		operand()
		b.sql(") >= length(")
		b.arg(value)
		b.sql(") AND substr(")
		operand()
		b.sql(", length(")
		operand()
		b.sql(") - length(")
		b.arg(value)
		b.sql(") + 1) = ")
		b.arg(value)
		b.sql(")")
	}
}
