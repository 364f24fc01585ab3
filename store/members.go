package store

import (
	"context"
	"fmt"
	"iter"
)

// ReadGroup reads the group id and streams its members, for answers too
// large to hold: a group of 100,000 members is never a slice.
//
// It reads the group row (without Members) and then calls fn with it and
// with an iterator over its members, sorted by value, as [Store.GetGroup]
// with members would return them. Both come from one read transaction, so
// the members are those of the version fn was given. The iterator reads
// one row at a time from the database as it is ranged over; it is valid
// only until fn returns and can be ranged over once. A read error ends the
// iteration with a non-nil error as its second value.
//
// A group that does not exist is [ErrNotFound], and fn is not called.
// Otherwise ReadGroup returns fn's error unchanged (a read error that fn
// passes on included), so that callers see their own errors.
//
// The transaction stays open while fn runs: a caller that writes to a slow
// client holds a database connection (and, on PostgreSQL, a snapshot) for
// as long.
func (s *Store) ReadGroup(ctx context.Context, id string, fn func(g *Group, members iter.Seq2[Member, error]) error) error {
	var fnErr error
	err := s.inReadTx(ctx, func(tx *storeTx) error {
		g, err := loadGroup(ctx, tx, id, "")
		if err != nil {
			return err
		}
		fnErr = fn(g, streamMembers(ctx, tx, id))
		return nil
	})
	if err != nil {
		return opError("read group", err)
	}
	return fnErr
}

// streamMembers iterates over the members of the group id, one row at a
// time, in the order of membersOf.
func streamMembers(ctx context.Context, q querier, groupID string) iter.Seq2[Member, error] {
	return func(yield func(Member, error) bool) {
		rows, err := queryRows(ctx, q, memberQuery+` WHERE gm.group_id = ? ORDER BY gm.user_id`, groupID)
		if err != nil {
			yield(Member{}, fmt.Errorf("read members: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r memberRow
			if err := rows.StructScan(&r); err != nil {
				yield(Member{}, fmt.Errorf("read members: %w", err))
				return
			}
			if !yield(Member{Value: r.Value, Display: r.Display}, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Member{}, fmt.Errorf("read members: %w", err))
		}
	}
}
