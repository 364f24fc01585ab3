package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PostgreSQL pool bounds: enough for concurrent requests and jobs, small
// enough for a few replicas to share a server's default 100 connections.
// Every open connection may stay idle: with fewer idle than open, a burst
// above the idle bound closes and reopens connections on every request
// (the benchmark saw 580 connections opened for 131k requests); the idle
// time bound returns them after the burst.
const (
	postgresConns        = 20
	postgresIdleConns    = postgresConns
	postgresConnIdleTime = 5 * time.Minute
)

// SQLSTATE codes the store maps to its sentinel errors.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// openPostgres opens a lib/pq pool for a postgres:// URL.
func openPostgres(databaseURL string) (*sqlx.DB, dialect, error) {
	db, err := sqlx.Open("postgres", databaseURL)
	if err != nil {
		// lib/pq's URL errors do not repeat the URL, which may hold a password.
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(postgresConns)
	db.SetMaxIdleConns(postgresIdleConns)
	db.SetConnMaxIdleTime(postgresConnIdleTime)
	return db, postgresDialect{}, nil
}

// postgresDialect is the PostgreSQL side of [dialect].
type postgresDialect struct{}

func (postgresDialect) name() string         { return "postgres" }
func (postgresDialect) goose() goose.Dialect { return goose.DialectPostgres }

func (postgresDialect) singleWriter() bool { return false }

// gooseOptions take a session advisory lock while migrating, polled every
// second for up to five minutes.
func (postgresDialect) gooseOptions() ([]goose.ProviderOption, error) {
	l, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	return []goose.ProviderOption{goose.WithSessionLocker(l)}, nil
}

func (postgresDialect) tableExists(ctx context.Context, db *sqlx.DB, table string) (bool, error) {
	var ok bool
	if err := db.GetContext(ctx, &ok, `SELECT to_regclass($1) IS NOT NULL`, table); err != nil {
		return false, fmt.Errorf("look for table %s: %w", table, err)
	}
	return ok, nil
}

func (postgresDialect) isUniqueViolation(err error) bool {
	return pgCode(err) == pgUniqueViolation
}

func (postgresDialect) isForeignKeyViolation(err error) bool {
	return pgCode(err) == pgForeignKeyViolation
}

func pgCode(err error) string {
	var e *pq.Error
	if !errors.As(err, &e) {
		return ""
	}
	return e.SQLState()
}

// timeArg: timestamptz keeps microseconds; truncate rather than let the
// server round, so both dialects store the same instant.
func (postgresDialect) timeArg(t time.Time) any { return t.UTC().Truncate(time.Microsecond) }

// forUpdate takes FOR NO KEY UPDATE, the lock an UPDATE that keeps the
// primary key takes anyway: concurrent updates of the row queue behind it,
// while inserting a row that references it (a membership) does not.
func (postgresDialect) forUpdate() string { return " FOR NO KEY UPDATE" }

// mappingLockKey is the advisory lock key of [Store.lockMapping] ("onramp"
// in ASCII, so it is recognisable in pg_locks).
const mappingLockKey = 0x6f6e72616d70

func (postgresDialect) mappingLock(exclusive bool) string {
	if exclusive {
		return fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", mappingLockKey)
	}
	return fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d)", mappingLockKey)
}

// readOptions: REPEATABLE READ so that a count and its page agree.
func (postgresDialect) readOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// value writes the jsonb value at ref: doc #> path, the path bound as a
// text[] (each key one array element, so no key needs quoting).
func (postgresDialect) value(b *sqlBuf, ref jsonRef) {
	if len(ref.path) == 0 {
		b.sql(ref.doc)
		return
	}
	b.sql("(" + ref.doc + " #> CAST(")
	b.arg(pq.Array(ref.path))
	b.sql(" AS text[]))")
}

// text writes the value at ref as text (a JSON string without its quotes),
// in the "C" collation the columns use.
func (postgresDialect) text(b *sqlBuf, ref jsonRef) {
	b.sql("(" + ref.doc + " #>> CAST(")
	b.arg(pq.Array(append([]string{}, ref.path...)))
	b.sql(` AS text[])) COLLATE "C"`)
}

// jsonScalar guards every cast with jsonb_typeof inside a CASE, which
// PostgreSQL evaluates in order: a value of another type yields NULL, never
// a cast error.
func (d postgresDialect) jsonScalar(b *sqlBuf, ref jsonRef, t jsonType) {
	b.sql("CASE WHEN jsonb_typeof(")
	d.value(b, ref)
	switch t {
	case jsonString:
		b.sql(") = 'string' THEN ")
		d.text(b, ref)
	case jsonNumber:
		b.sql(") = 'number' THEN CAST(")
		d.value(b, ref)
		b.sql(" AS numeric)")
	case jsonBoolean:
		b.sql(") = 'boolean' THEN CAST(")
		d.value(b, ref)
		b.sql(" AS boolean)")
	}
	b.sql(" END")
}

func (d postgresDialect) jsonPresent(b *sqlBuf, ref jsonRef) {
	b.sql("CASE jsonb_typeof(")
	d.value(b, ref)
	b.sql(") WHEN 'null' THEN false WHEN 'string' THEN ")
	d.value(b, ref)
	b.sql(` <> CAST('""' AS jsonb) WHEN 'array' THEN jsonb_array_length(`)
	d.value(b, ref)
	b.sql(") > 0 WHEN 'object' THEN ")
	d.value(b, ref)
	b.sql(" <> CAST('{}' AS jsonb) ELSE jsonb_typeof(")
	d.value(b, ref)
	b.sql(") IS NOT NULL END")
}

// jsonAnyOf expands the array with jsonb_array_elements, fed an empty array
// when the value is not an array (the function raises on anything else).
func (d postgresDialect) jsonAnyOf(b *sqlBuf, ref jsonRef, alias string, where func(elem jsonRef) error) error {
	b.sql("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(")
	d.value(b, ref)
	b.sql(") = 'array' THEN ")
	d.value(b, ref)
	b.sql(" ELSE CAST('[]' AS jsonb) END) AS " + alias + "(value) WHERE ")
	if err := where(jsonRef{doc: alias + ".value"}); err != nil {
		return err
	}
	b.sql(")")
	return nil
}

// jsonPrimaryElem numbers the elements WITH ORDINALITY and takes the
// primary one, else the one numbered first.
func (d postgresDialect) jsonPrimaryElem(b *sqlBuf, ref jsonRef, alias string, value func(elem jsonRef)) {
	b.sql("(SELECT ")
	value(jsonRef{doc: alias + ".value"})
	b.sql(" FROM jsonb_array_elements(CASE WHEN jsonb_typeof(")
	d.value(b, ref)
	b.sql(") = 'array' THEN ")
	d.value(b, ref)
	b.sql(" ELSE CAST('[]' AS jsonb) END) WITH ORDINALITY AS " + alias + "(value, n) ORDER BY CASE WHEN " +
		alias + ".value -> 'primary' = CAST('true' AS jsonb) THEN 0 ELSE 1 END, " + alias + ".n LIMIT 1)")
}

// exactMatch uses LIKE, which is case-sensitive on PostgreSQL, with the
// value's pattern characters escaped.
func (postgresDialect) exactMatch(b *sqlBuf, op Op, operand func(), value string) {
	operand()
	b.sql(" LIKE ")
	b.arg(likePattern(op, value))
	b.sql(` ESCAPE '\'`)
}
