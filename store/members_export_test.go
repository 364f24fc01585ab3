package store

import (
	"context"
	"fmt"
)

// Test hooks for large groups: exported here, visible only to this
// package's tests.

// SeedUsers inserts n minimal users (userName prefix-i) in one transaction,
// many rows per statement, and returns their ids. It skips the audit trail
// and everything else CreateUser does per user: it exists so that
// benchmarks can build groups of 100,000 in seconds.
func (s *Store) SeedUsers(ctx context.Context, prefix string, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		id, err := newID()
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	now := s.d.timeArg(s.resourceTime())
	err := s.inTx(ctx, func(tx *storeTx) error {
		const perStmt = 100 // 9 parameters a row: well within every limit
		for start := 0; start < n; start += perStmt {
			b := &sqlBuf{}
			b.sql(`INSERT INTO users (id, user_name, user_name_key, display_name, active, version, created, last_modified, data) VALUES `)
			for i := start; i < min(n, start+perStmt); i++ {
				if i > start {
					b.sql(", ")
				}
				name := fmt.Sprintf("%s-%d", prefix, i)
				data, err := encodeAttributes(map[string]any{"userName": name})
				if err != nil {
					return err
				}
				b.sql("(")
				b.list([]string{ids[i], name, foldKey(name)})
				b.sql(", NULL, ")
				b.arg(true)
				b.sql(", 1, ")
				b.arg(now)
				b.sql(", ")
				b.arg(now)
				b.sql(", ")
				b.arg(data)
				b.sql(")")
			}
			if _, err := exec(ctx, tx, b.String(), b.args...); err != nil {
				return fmt.Errorf("seed users: %w", err)
			}
		}
		return nil
	})
	return ids, err
}

// SeedMembers makes userIDs members of the group id in one transaction,
// without the checks, version bump and audit event of UpdateGroup.
func (s *Store) SeedMembers(ctx context.Context, groupID string, userIDs []string) error {
	return s.inTx(ctx, func(tx *storeTx) error {
		for _, ids := range batches(userIDs) {
			b := &sqlBuf{}
			b.sql("INSERT INTO group_members (group_id, user_id) VALUES ")
			for i, u := range ids {
				if i > 0 {
					b.sql(", ")
				}
				b.sql("(")
				b.list([]string{groupID, u})
				b.sql(")")
			}
			if _, err := exec(ctx, tx, b.String(), b.args...); err != nil {
				return fmt.Errorf("seed members: %w", err)
			}
		}
		return nil
	})
}
