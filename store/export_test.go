package store

import (
	"context"
	"fmt"
	"strings"
)

// Test hooks: exported here, visible only to this package's tests.

// PlanUsers returns the database's query plan for the users matching
// filter, with sequential scans discouraged on PostgreSQL so that a usable
// index shows in the plan of a tiny table.
func (s *Store) PlanUsers(ctx context.Context, filter Cond) (string, error) {
	return s.plan(ctx, usersTable, filter)
}

// PlanGroups is PlanUsers for groups.
func (s *Store) PlanGroups(ctx context.Context, filter Cond) (string, error) {
	return s.plan(ctx, groupsTable, filter)
}

func (s *Store) plan(ctx context.Context, table string, filter Cond) (string, error) {
	where, err := renderWhere(s.d, table, filter)
	if err != nil {
		return "", err
	}
	query := "SELECT r.id FROM " + table + " r" + where.String()
	var lines []string
	err = s.inReadTx(ctx, func(tx *storeTx) error {
		explain := "EXPLAIN QUERY PLAN "
		if s.d.name() == "postgres" {
			explain = "EXPLAIN "
			if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, tx.Rebind(explain+query), where.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			lines = append(lines, fmt.Sprint(vals...))
		}
		return rows.Err()
	})
	return strings.Join(lines, "\n"), err
}

// Pragma returns the value of an SQLite pragma on a pooled connection.
func (s *Store) Pragma(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.GetContext(ctx, &v, "PRAGMA "+name)
	return v, err
}

// ExecDDL runs a schema change on the pool, outside the store's statements.
func (s *Store) ExecDDL(ctx context.Context, query string) error {
	_, err := s.db.ExecContext(ctx, query)
	return err
}

// PreparedStatements waits for pending preparations and returns how many
// statements the store holds prepared.
func (s *Store) PreparedStatements() int {
	s.stmts.wg.Wait()
	s.stmts.mu.RLock()
	defer s.stmts.mu.RUnlock()
	n := 0
	for _, st := range s.stmts.m {
		if st != nil {
			n++
		}
	}
	return n
}

// StatementCacheSize is the bound of the store's prepared statements.
const StatementCacheSize = stmtCacheSize

// RunOnPool runs query through the store's helpers outside a transaction
// and returns its one integer.
func (s *Store) RunOnPool(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := get(ctx, s.pool, &n, query, args...)
	return n, err
}
