package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

func (row resourceRow) user() (*User, error) {
	attrs, err := decodeAttributes(row.Data)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", row.ID, err)
	}
	return &User{
		ID: row.ID, Version: row.Version, Created: row.Created.Time,
		LastModified: row.LastModified.Time, Attributes: attrs,
	}, nil
}

// userFields are the columns derived from a user's attributes.
type userFields struct {
	userName    string
	userNameKey string // foldKey(userName): unique, and what filters ignoring case compare
	externalID  sql.NullString
	displayName sql.NullString
	active      bool
	data        string
}

// deriveUser checks attrs and derives the indexed columns from them.
func deriveUser(attrs map[string]any) (userFields, error) {
	u := User{Attributes: attrs}
	f := userFields{userName: u.UserName(), active: u.Active()}
	if f.userName == "" {
		return f, fmt.Errorf("%w: userName is required", ErrInvalidValue)
	}
	f.userNameKey = foldKey(f.userName)
	f.externalID = optionalString(attrs, "externalId")
	f.displayName = optionalString(attrs, "displayName")
	for name, v := range map[string]string{"userName": f.userName, "externalId": f.externalID.String, "displayName": f.displayName.String} {
		if err := checkIndexed(name, v); err != nil {
			return f, err
		}
	}
	data, err := encodeAttributes(attrs)
	if err != nil {
		return f, err
	}
	f.data = data
	return f, nil
}

// optionalString is a string attribute as a nullable column.
func optionalString(attrs map[string]any, name string) sql.NullString {
	s, ok := attrs[name].(string)
	return sql.NullString{String: s, Valid: ok}
}

// newID returns a new resource id: a UUIDv7, so ids sort by creation time
// and index pages stay warm.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// CreateUser stores a new user and its audit event. It assigns u.ID,
// Version 1 and Created = LastModified = now; u.Groups is left empty. A
// userName already taken, compared ignoring case as [strings.EqualFold] does
// (for every script: "JÖRG" is "jörg"), is [ErrAlreadyExists].
func (s *Store) CreateUser(ctx context.Context, u *User, ev Event) error {
	f, err := deriveUser(u.Attributes)
	if err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return opError("create user", err)
	}
	now := s.resourceTime()
	err = s.inTx(ctx, func(tx *storeTx) error {
		_, err := exec(ctx, tx, `INSERT INTO users
			(id, user_name, user_name_key, external_id, display_name, active, version, created, last_modified, data)
			VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			id, f.userName, f.userNameKey, f.externalID, f.displayName, f.active, s.d.timeArg(now), s.d.timeArg(now), f.data)
		if s.d.isUniqueViolation(err) { // the id is a new UUID: the violation is on user_name_key
			return alreadyExists("userName", f.userName)
		}
		if err != nil {
			return err
		}
		ev = s.stamp(ev, "User", id)
		ev.ResourceID = id
		return s.insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return opError("create user", err)
	}
	u.ID, u.Version, u.Created, u.LastModified, u.Groups = id, 1, now, now, nil
	return nil
}

// GetUser returns the user id with its groups, or [ErrNotFound].
func (s *Store) GetUser(ctx context.Context, id string) (*User, error) {
	var u *User
	err := s.inReadTx(ctx, func(tx *storeTx) error {
		var err error
		u, err = loadUser(ctx, tx, id, "")
		return err
	})
	if err != nil {
		return nil, opError("get user", err)
	}
	return u, nil
}

// loadUser reads the user id and its groups with q; lock is appended to
// the row's SELECT.
func loadUser(ctx context.Context, q querier, id, lock string) (*User, error) {
	if !validText(id) {
		return nil, notFound("User", id)
	}
	var row resourceRow
	err := get(ctx, q, &row, `SELECT `+resourceColumns+` FROM users r WHERE r.id = ?`+lock, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("User", id)
	}
	if err != nil {
		return nil, err
	}
	u, err := row.user()
	if err != nil {
		return nil, err
	}
	groups, err := groupsOf(ctx, q, []string{id})
	if err != nil {
		return nil, err
	}
	u.Groups = groups[id]
	return u, nil
}

// groupsOf returns the groups of each of userIDs, keyed by user id, in one
// query per batch of ids.
func groupsOf(ctx context.Context, q querier, userIDs []string) (map[string][]GroupRef, error) {
	out := make(map[string][]GroupRef, len(userIDs))
	for _, ids := range batches(userIDs) {
		b := &sqlBuf{}
		b.sql(`SELECT gm.user_id, g.id, g.display_name FROM group_members gm
			JOIN groups g ON g.id = gm.group_id WHERE gm.user_id IN (`)
		b.list(ids)
		b.sql(") ORDER BY gm.user_id, g.id")
		var rows []struct {
			UserID      string `db:"user_id"`
			ID          string `db:"id"`
			DisplayName string `db:"display_name"`
		}
		if err := selectAll(ctx, q, &rows, b.String(), b.args...); err != nil {
			return nil, fmt.Errorf("read groups of users: %w", err)
		}
		for _, r := range rows {
			out[r.UserID] = append(out[r.UserID], GroupRef{ID: r.ID, DisplayName: r.DisplayName})
		}
	}
	return out, nil
}

// ListUsers returns the page of users that q selects, in q.Sort's order, with
// their groups, and the number of matches in all pages. The count, the page
// and the groups come from one snapshot.
func (s *Store) ListUsers(ctx context.Context, q ListQuery) (Page[*User], error) {
	page := Page[*User]{Resources: []*User{}}
	err := s.listPage(ctx, usersTable, q, &page.Total, func(tx *storeTx, rows []resourceRow) error {
		groups, err := groupsOf(ctx, tx, rowIDs(rows))
		if err != nil {
			return err
		}
		for _, r := range rows {
			u, err := r.user()
			if err != nil {
				return err
			}
			u.Groups = groups[u.ID]
			page.Resources = append(page.Resources, u)
		}
		return nil
	})
	if err != nil {
		return Page[*User]{Resources: []*User{}}, opError("list users", err)
	}
	return page, nil
}

// offset turns a 1-based SCIM startIndex into an SQL OFFSET.
func offset(startIndex int) int {
	if startIndex < 1 {
		return 0
	}
	return startIndex - 1
}

// UpdateUser changes the user id in one transaction: it reads the user
// (with its groups, locking the row against concurrent updates), lets fn
// change u.Attributes, then writes the attributes and their derived
// columns, Version+1, LastModified = now, and the audit event. An error from
// fn rolls everything back and is returned as is. Changes fn makes to other
// fields are ignored. fn runs inside the transaction: it must be quick and
// must not write through the store (on SQLite that waits for itself).
//
// pre, when given, must hold for the version read under the lock, before fn
// runs; else nothing is written and the error is [ErrVersionMismatch]. The
// UPDATE itself is conditional on that version, so no concurrent writer can
// slip in between.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(u *User) error, ev Event, pre ...Precondition) (*User, error) {
	var out *User
	err := s.inTx(ctx, func(tx *storeTx) error {
		u, err := loadUser(ctx, tx, id, s.d.forUpdate())
		if err != nil {
			return err
		}
		if err := checkVersion("User", id, u.Version, pre); err != nil {
			return err
		}
		before, wasActive := *u, u.Active()
		if err := fn(u); err != nil {
			return callerError{err}
		}
		f, err := deriveUser(u.Attributes)
		if err != nil {
			return err
		}
		now := later(s.resourceTime(), before.LastModified)
		n, err := exec(ctx, tx, `UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?,
			display_name = ?, active = ?, version = ?, last_modified = ?, data = ? WHERE id = ? AND version = ?`,
			f.userName, f.userNameKey, f.externalID, f.displayName, f.active, before.Version+1, s.d.timeArg(now), f.data, id, before.Version)
		if s.d.isUniqueViolation(err) {
			return alreadyExists("userName", f.userName)
		}
		if err != nil {
			return err
		}
		if n == 0 { // cannot happen under the row lock; never write over a change
			return versionMismatch("User", id)
		}
		ev = s.stamp(ev, "User", id)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if u.Active() != wasActive { // deactivation policies apply, or cease to
			if err := s.changed(ctx, tx, []string{id}, ev); err != nil {
				return err
			}
		}
		u.ID, u.Version, u.Created, u.LastModified, u.Groups = id, before.Version+1, before.Created, now, before.Groups
		out = u
		return nil
	})
	if err != nil {
		return nil, opError("update user", err)
	}
	return out, nil
}

// DeleteUser deletes the user id and its memberships, or returns
// [ErrNotFound]. The groups it leaves get a new version, as their members
// changed. pre, when given, must hold for the user's version, read under a
// row lock, and the DELETE is conditional on it; else nothing changes and
// the error is [ErrVersionMismatch].
func (s *Store) DeleteUser(ctx context.Context, id string, ev Event, pre ...Precondition) error {
	if !validText(id) {
		return notFound("User", id)
	}
	err := s.inTx(ctx, func(tx *storeTx) error {
		guard, err := s.lockForDelete(ctx, tx, usersTable, "User", id, pre)
		if err != nil {
			return err
		}
		var groupIDs []string
		err = selectAll(ctx, tx, &groupIDs, `SELECT group_id FROM group_members WHERE user_id = ? ORDER BY group_id`, id)
		if err != nil {
			return fmt.Errorf("read memberships: %w", err)
		}
		if err := s.touchGroups(ctx, tx, groupIDs); err != nil {
			return err
		}
		if _, err := exec(ctx, tx, `DELETE FROM group_members WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("delete memberships: %w", err)
		}
		n, err := exec(ctx, tx, `DELETE FROM users WHERE id = ?`+guard.sql, append([]any{id}, guard.args...)...)
		if err != nil {
			return err
		}
		if n == 0 && guard.sql != "" { // cannot happen under the row lock
			return versionMismatch("User", id)
		}
		if n == 0 {
			return notFound("User", id)
		}
		ev = s.stamp(ev, "User", id)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.changed(ctx, tx, []string{id}, ev) // whatever was delivered goes
	})
	return opError("delete user", err)
}

// later returns the later of a and b, so that LastModified never goes
// backwards when the clock does.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// FindUserID returns the id of the user that ref names: its id, its
// userName (ignoring case, as userName is unique) or its externalId, in
// that order of preference. A ref matching nobody is [ErrNotFound]; an
// externalId shared by several users is [ErrInvalidValue].
func (s *Store) FindUserID(ctx context.Context, ref string) (string, error) {
	if !validText(ref) {
		return "", notFound("User", ref)
	}
	var ids []string
	for _, q := range []struct{ sql, arg string }{
		{`SELECT id FROM users WHERE id = ?`, ref},
		{`SELECT id FROM users WHERE user_name_key = ?`, foldKey(ref)},
		{`SELECT id FROM users WHERE external_id = ? ORDER BY id LIMIT 2`, ref},
	} {
		if err := selectAll(ctx, s.pool, &ids, q.sql, q.arg); err != nil {
			return "", opError("find user", err)
		}
		switch len(ids) {
		case 0:
			continue
		case 1:
			return ids[0], nil
		default:
			return "", fmt.Errorf("%w: externalId %q is shared by several users; give an id or userName", ErrInvalidValue, ref)
		}
	}
	return "", notFound("User", ref)
}
