package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// dialect is everything that differs between SQLite and PostgreSQL. The rest
// of the store writes one query for both, with ? placeholders that sqlx
// rebinds; a difference gets a named method here rather than a rewrite of
// SQL text. sqlite.go and postgres.go implement it.
type dialect interface {
	// name is what [Store.Dialect] reports, and the migrations folder.
	name() string
	goose() goose.Dialect
	// gooseOptions are extra provider options, such as a migration lock.
	gooseOptions() ([]goose.ProviderOption, error)
	// singleWriter reports whether the database has one writer at a time,
	// so that the store queues its own write transactions.
	singleWriter() bool
	// tableExists reports whether a table is in the database, without creating it.
	tableExists(ctx context.Context, db *sqlx.DB, table string) (bool, error)

	// isUniqueViolation and isForeignKeyViolation read the driver's error
	// codes: the only place that knows how each driver reports a conflict.
	isUniqueViolation(err error) bool
	isForeignKeyViolation(err error) bool

	// timeArg encodes a timestamp as a bind argument, at microsecond
	// precision, for a column or a comparison with one.
	timeArg(t time.Time) any
	// forUpdate is appended to a SELECT that reads a row the transaction
	// is about to rewrite, so that concurrent updates queue instead of
	// losing each other's change.
	forUpdate() string
	// mappingLock returns a statement that takes the transaction-scoped
	// lock ordering group writes (shared) against bundle and rule writes
	// (exclusive); "" when the database has one writer anyway. See
	// [Store.lockMapping].
	mappingLock(exclusive bool) string
	// readOptions are the options of a read-only transaction that must see
	// one snapshot (a count and its page).
	readOptions() *sql.TxOptions

	// jsonScalar writes an expression giving the value at ref when it is a
	// JSON value of type t, as the SQL type for t (text, a number, a
	// boolean), and NULL otherwise: a value of another type, JSON null, or
	// no value at all. It never raises an error, whatever the document holds.
	jsonScalar(b *sqlBuf, ref jsonRef, t jsonType)
	// jsonPresent writes a condition: the value at ref exists and is not
	// null, "", [] or {}.
	jsonPresent(b *sqlBuf, ref jsonRef)
	// jsonAnyOf writes a condition: the value at ref is an array with an
	// element for which where (given a reference to that element, and
	// writing a condition on it) holds. alias is unique in the statement.
	jsonAnyOf(b *sqlBuf, ref jsonRef, alias string, where func(elem jsonRef) error) error
	// jsonPrimaryElem writes a scalar subquery: value (given a reference to
	// an element, and writing an expression on it) for the element of the
	// array at ref that has "primary": true, else for its first element;
	// NULL when ref is not an array or is empty. alias is unique in the
	// statement.
	jsonPrimaryElem(b *sqlBuf, ref jsonRef, alias string, value func(elem jsonRef))
	// exactMatch writes a case-sensitive co, sw or ew test of the string
	// expression operand against value, with no pattern characters.
	exactMatch(b *sqlBuf, op Op, operand func(), value string)
}

// jsonType is the type a JSON value is read as.
type jsonType int

const (
	jsonString jsonType = iota
	jsonNumber
	jsonBoolean
)

// jsonRef addresses a value inside a JSON document. The renderer builds refs
// to the resource's root document; a dialect builds refs to array elements
// in jsonAnyOf, and is the only one to read the fields it set there.
type jsonRef struct {
	// doc is the SQL expression of the JSON document.
	doc string
	// prefix, when not empty, is an SQL expression evaluating to the JSON
	// path that path is relative to (SQLite array elements).
	prefix string
	// path is the sequence of object keys below doc (and prefix).
	path []string
}

// child returns ref extended by path.
func (r jsonRef) child(path []string) jsonRef {
	return jsonRef{doc: r.doc, prefix: r.prefix, path: append(append([]string(nil), r.path...), path...)}
}
