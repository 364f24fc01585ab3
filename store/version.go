package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// This file holds what ETags need from the store: cheap reads of a
// resource's version (HTTP If-None-Match answers 304 without reading the
// resource) and the locked version check of conditional deletes. Updates
// check their [Precondition] right after their own locked read.

// UserVersion returns the current version of the user id, reading one
// column of one row, or [ErrNotFound].
func (s *Store) UserVersion(ctx context.Context, id string) (int64, error) {
	v, err := readVersion(ctx, s.pool, usersTable, "User", id, "")
	return v, opError("user version", err)
}

// GroupVersion returns the current version of the group id, without
// reading its members, or [ErrNotFound].
func (s *Store) GroupVersion(ctx context.Context, id string) (int64, error) {
	v, err := readVersion(ctx, s.pool, groupsTable, "Group", id, "")
	return v, opError("group version", err)
}

// readVersion reads the version of the row id of table (usersTable or
// groupsTable, never client text); lock is appended to the SELECT.
func readVersion(ctx context.Context, q querier, table, kind, id, lock string) (int64, error) {
	if !validText(id) {
		return 0, notFound(kind, id)
	}
	var v int64
	err := get(ctx, q, &v, `SELECT version FROM `+table+` WHERE id = ?`+lock, id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound(kind, id)
	}
	if err != nil {
		return 0, fmt.Errorf("read version: %w", err)
	}
	return v, nil
}

// checkVersion returns [ErrVersionMismatch] unless pre accepts version.
func checkVersion(kind, id string, version int64, pre []Precondition) error {
	if !holds(pre, version) {
		return versionMismatch(kind, id)
	}
	return nil
}

// deleteGuard is the extra condition of a conditional DELETE:
// " AND version = ?" bound to the version checked, or nothing.
type deleteGuard struct {
	sql  string
	args []any
}

// lockForDelete, when pre is not empty, locks the row id of table, checks
// pre against its version and returns the guard that makes the DELETE
// conditional on that version. Without pre it reads nothing.
func (s *Store) lockForDelete(ctx context.Context, q querier, table, kind, id string, pre []Precondition) (deleteGuard, error) {
	if len(pre) == 0 {
		return deleteGuard{}, nil
	}
	v, err := readVersion(ctx, q, table, kind, id, s.d.forUpdate())
	if err != nil {
		return deleteGuard{}, err
	}
	if err := checkVersion(kind, id, v, pre); err != nil {
		return deleteGuard{}, err
	}
	return deleteGuard{sql: " AND version = ?", args: []any{v}}, nil
}
