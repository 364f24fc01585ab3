package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// querier is what both *sqlx.DB and *sqlx.Tx offer: the store's helpers
// take one so that they run alone or inside a transaction alike. Given the
// store's own (*storeDB, *storeTx), they run its prepared statements.
type querier interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// inTx runs fn in a write transaction and commits when fn returns nil. Any
// error, fn's included, rolls back and is returned unchanged, so that
// callers' errors.Is and errors.As still see their own errors. A panic in fn
// rolls back too, before it goes on up: a transaction left open would hold
// SQLite's write lock for good.
func (s *Store) inTx(ctx context.Context, fn func(tx *storeTx) error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return fmt.Errorf("wait for the write lock: %w", context.Cause(ctx))
		}
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback() // the error (or panic) that got us here matters more
		}
	}()
	if err := fn(&storeTx{Tx: tx, stmts: s.stmts}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// inReadTx runs fn in a read-only transaction, so that the several queries
// of a list (count, page, related rows) see one snapshot. On SQLite it does
// not take the write lock.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *storeTx) error) error {
	tx, err := s.db.BeginTxx(ctx, s.d.readOptions())
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to keep
	return fn(&storeTx{Tx: tx, stmts: s.stmts})
}

// exec runs a statement and returns the number of rows it changed.
func exec(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	query = q.Rebind(query)
	var (
		res sql.Result
		err error
	)
	if st, c := prepared(ctx, q, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
		if retry(q, c.failed(query, err)) {
			res, err = q.ExecContext(ctx, query, args...)
		}
	} else {
		res, err = q.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// get scans one row into dest; sql.ErrNoRows passes through.
func get(ctx context.Context, q querier, dest any, query string, args ...any) error {
	query = q.Rebind(query)
	if st, c := prepared(ctx, q, query); st != nil {
		err := st.GetContext(ctx, dest, args...)
		if retry(q, c.failed(query, err)) {
			err = q.GetContext(ctx, dest, query, args...)
		}
		return err
	}
	return q.GetContext(ctx, dest, query, args...)
}

// selectAll scans every row into dest, a pointer to a slice.
func selectAll(ctx context.Context, q querier, dest any, query string, args ...any) error {
	query = q.Rebind(query)
	if st, c := prepared(ctx, q, query); st != nil {
		err := st.SelectContext(ctx, dest, args...)
		if retry(q, c.failed(query, err)) {
			err = q.SelectContext(ctx, dest, query, args...)
		}
		return err
	}
	return q.SelectContext(ctx, dest, query, args...)
}

// queryRows runs a query and returns its rows, to be closed by the caller.
func queryRows(ctx context.Context, q querier, query string, args ...any) (*sqlx.Rows, error) {
	query = q.Rebind(query)
	if st, c := prepared(ctx, q, query); st != nil {
		rows, err := st.QueryxContext(ctx, args...)
		if retry(q, c.failed(query, err)) {
			return q.QueryxContext(ctx, query, args...)
		}
		return rows, err
	}
	return q.QueryxContext(ctx, query, args...)
}
