package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

func (row resourceRow) group() (*Group, error) {
	attrs, err := decodeAttributes(row.Data)
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", row.ID, err)
	}
	return &Group{
		ID: row.ID, Version: row.Version, Created: row.Created.Time,
		LastModified: row.LastModified.Time, Attributes: attrs,
	}, nil
}

// groupFields are the columns derived from a group's attributes.
type groupFields struct {
	displayName    string
	displayNameKey string // foldKey(displayName): unique, and what filters ignoring case compare
	externalID     sql.NullString
	data           string
}

func deriveGroup(attrs map[string]any) (groupFields, error) {
	f := groupFields{displayName: stringAttr(attrs, "displayName"), externalID: optionalString(attrs, "externalId")}
	if f.displayName == "" {
		return f, fmt.Errorf("%w: displayName is required", ErrInvalidValue)
	}
	f.displayNameKey = foldKey(f.displayName)
	for name, v := range map[string]string{"displayName": f.displayName, "externalId": f.externalID.String} {
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

// CreateGroup stores a new group, its initial members (g.Members by Value,
// duplicates collapsed) and its audit event. It assigns g.ID, Version 1,
// Created = LastModified = now and fills g.Members as [Store.GetGroup] with
// members would. A member that is not a user is [ErrUnknownMember]; a
// displayName already taken, ignoring case as [strings.EqualFold] does (for
// every script), is [ErrAlreadyExists].
func (s *Store) CreateGroup(ctx context.Context, g *Group, ev Event) error {
	f, err := deriveGroup(g.Attributes)
	if err != nil {
		return err
	}
	add := make([]string, len(g.Members))
	for i, m := range g.Members {
		add[i] = m.Value
	}
	id, err := newID()
	if err != nil {
		return opError("create group", err)
	}
	now := s.resourceTime()
	var members []Member
	err = s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, false); err != nil {
			return err
		}
		_, err := exec(ctx, tx, `INSERT INTO groups
			(id, display_name, display_name_key, external_id, version, created, last_modified, data)
			VALUES (?, ?, ?, ?, 1, ?, ?, ?)`,
			id, f.displayName, f.displayNameKey, f.externalID, s.d.timeArg(now), s.d.timeArg(now), f.data)
		if s.d.isUniqueViolation(err) { // the id is a new UUID: the violation is on display_name_key
			return alreadyExists("displayName", f.displayName)
		}
		if err != nil {
			return err
		}
		if err := s.addMembers(ctx, tx, id, add); err != nil {
			return err
		}
		if members, err = membersOf(ctx, tx, id); err != nil {
			return err
		}
		ev = s.stamp(ev, "Group", id)
		ev.ResourceID = id
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.membersChanged(ctx, tx, id, []string{f.displayName}, add, ev)
	})
	if err != nil {
		return opError("create group", err)
	}
	g.ID, g.Version, g.Created, g.LastModified, g.Members = id, 1, now, now, members
	return nil
}

// GetGroup returns the group id, with its members when opts.WithMembers, or
// [ErrNotFound].
func (s *Store) GetGroup(ctx context.Context, id string, opts GroupOptions) (*Group, error) {
	var g *Group
	err := s.inReadTx(ctx, func(tx *storeTx) error {
		var err error
		if g, err = loadGroup(ctx, tx, id, ""); err != nil {
			return err
		}
		if opts.WithMembers {
			g.Members, err = membersOf(ctx, tx, id)
		}
		return err
	})
	if err != nil {
		return nil, opError("get group", err)
	}
	return g, nil
}

// loadGroup reads the group id without its members; lock is appended to
// the SELECT.
func loadGroup(ctx context.Context, q querier, id, lock string) (*Group, error) {
	if !validText(id) {
		return nil, notFound("Group", id)
	}
	var row resourceRow
	err := get(ctx, q, &row, `SELECT `+resourceColumns+` FROM groups r WHERE r.id = ?`+lock, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Group", id)
	}
	if err != nil {
		return nil, err
	}
	return row.group()
}

// memberRow is one member of a group as read.
type memberRow struct {
	GroupID string `db:"group_id"`
	Value   string `db:"user_id"`
	Display string `db:"display"`
}

// memberQuery selects members with their display: the user's displayName,
// else its userName.
const memberQuery = `SELECT gm.group_id, gm.user_id, COALESCE(NULLIF(u.display_name, ''), u.user_name) AS display
	FROM group_members gm JOIN users u ON u.id = gm.user_id`

// membersOf returns the members of one group, sorted by value.
func membersOf(ctx context.Context, q querier, groupID string) ([]Member, error) {
	var rows []memberRow
	if err := selectAll(ctx, q, &rows, memberQuery+` WHERE gm.group_id = ? ORDER BY gm.user_id`, groupID); err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	members := make([]Member, len(rows))
	for i, r := range rows {
		members[i] = Member{Value: r.Value, Display: r.Display}
	}
	return members, nil
}

// membersOfGroups returns the members of each of groupIDs, keyed by group
// id, in one query per batch of ids.
func membersOfGroups(ctx context.Context, q querier, groupIDs []string) (map[string][]Member, error) {
	out := make(map[string][]Member, len(groupIDs))
	for _, ids := range batches(groupIDs) {
		b := &sqlBuf{}
		b.sql(memberQuery + ` WHERE gm.group_id IN (`)
		b.list(ids)
		b.sql(") ORDER BY gm.group_id, gm.user_id")
		var rows []memberRow
		if err := selectAll(ctx, q, &rows, b.String(), b.args...); err != nil {
			return nil, fmt.Errorf("read members: %w", err)
		}
		for _, r := range rows {
			out[r.GroupID] = append(out[r.GroupID], Member{Value: r.Value, Display: r.Display})
		}
	}
	return out, nil
}

// ListGroups returns the page of groups that q selects, in q.Sort's order, with
// their members (in one query per page) when opts.WithMembers, and the
// number of matches in all pages.
func (s *Store) ListGroups(ctx context.Context, q ListQuery, opts GroupOptions) (Page[*Group], error) {
	page := Page[*Group]{Resources: []*Group{}}
	err := s.listPage(ctx, groupsTable, q, &page.Total, func(tx *storeTx, rows []resourceRow) error {
		var members map[string][]Member
		if opts.WithMembers {
			var err error
			if members, err = membersOfGroups(ctx, tx, rowIDs(rows)); err != nil {
				return err
			}
		}
		for _, r := range rows {
			g, err := r.group()
			if err != nil {
				return err
			}
			g.Members = members[g.ID]
			page.Resources = append(page.Resources, g)
		}
		return nil
	})
	if err != nil {
		return Page[*Group]{Resources: []*Group{}}, opError("list groups", err)
	}
	return page, nil
}

// UpdateGroup changes the group id in one transaction. fn receives the
// group without its members (reading them would cost the size of the
// group), changes g.Attributes and returns the membership changes, which
// are applied without reading the other members: Replace, then Remove, then
// Add. Version+1 and LastModified = now are written with the audit event,
// and the group is returned as opts asks. An error from fn rolls back and is
// returned as is; a member to add that is not a user is [ErrUnknownMember].
// fn runs inside the transaction: it must be quick and must not write
// through the store.
//
// pre, when given, must hold for the version read under the lock, before fn
// runs; else nothing is written and the error is [ErrVersionMismatch]. The
// UPDATE is conditional on that version.
func (s *Store) UpdateGroup(ctx context.Context, id string, fn func(g *Group) (MemberChanges, error), ev Event, opts GroupOptions, pre ...Precondition) (*Group, error) {
	var out *Group
	err := s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, false); err != nil {
			return err
		}
		g, err := loadGroup(ctx, tx, id, s.d.forUpdate())
		if err != nil {
			return err
		}
		if err := checkVersion("Group", id, g.Version, pre); err != nil {
			return err
		}
		before, oldName := *g, g.DisplayName()
		changes, err := fn(g)
		if err != nil {
			return callerError{err}
		}
		now := later(s.resourceTime(), before.LastModified)
		if err := s.writeGroup(ctx, tx, id, g.Attributes, before.Version, now); err != nil {
			return err
		}
		affected, err := s.affectedMembers(ctx, tx, id, oldName, g.DisplayName(), changes)
		if err != nil {
			return err
		}
		if err := s.changeMembers(ctx, tx, id, changes); err != nil {
			return err
		}
		ev = s.stamp(ev, "Group", id)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if err := s.groupChanged(ctx, tx, id, affected, ev); err != nil {
			return err
		}
		g.ID, g.Version, g.Created, g.LastModified, g.Members = id, before.Version+1, before.Created, now, nil
		if opts.WithMembers {
			g.Members, err = membersOf(ctx, tx, id)
		}
		out = g
		return err
	})
	if err != nil {
		return nil, opError("update group", err)
	}
	return out, nil
}

// writeGroup writes a group's new attributes and LastModified, and version
// from+1, on condition that the stored version is still from.
func (s *Store) writeGroup(ctx context.Context, tx *storeTx, id string, attrs map[string]any, from int64, now time.Time) error {
	f, err := deriveGroup(attrs)
	if err != nil {
		return err
	}
	n, err := exec(ctx, tx, `UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?,
		version = ?, last_modified = ?, data = ? WHERE id = ? AND version = ?`,
		f.displayName, f.displayNameKey, f.externalID, from+1, s.d.timeArg(now), f.data, id, from)
	if s.d.isUniqueViolation(err) {
		return alreadyExists("displayName", f.displayName)
	}
	if err != nil {
		return err
	}
	if n == 0 { // cannot happen under the row lock; never write over a change
		return versionMismatch("Group", id)
	}
	return nil
}

// changeMembers applies c to the group id.
func (s *Store) changeMembers(ctx context.Context, tx *storeTx, id string, c MemberChanges) error {
	if c.Replace {
		if _, err := exec(ctx, tx, `DELETE FROM group_members WHERE group_id = ?`, id); err != nil {
			return fmt.Errorf("replace members: %w", err)
		}
	}
	for _, ids := range batches(validIDs(c.Remove)) {
		b := &sqlBuf{}
		b.sql("DELETE FROM group_members WHERE group_id = ")
		b.arg(id)
		b.sql(" AND user_id IN (")
		b.list(ids)
		b.sql(")")
		if _, err := exec(ctx, tx, b.String(), b.args...); err != nil {
			return fmt.Errorf("remove members: %w", err)
		}
	}
	return s.addMembers(ctx, tx, id, c.Add)
}

// addMembers makes users members of the group id; present members stay as
// they are. It reads the users to add, never the other members, so its
// cost does not depend on the size of the group. A value that is not a
// user's id is [ErrUnknownMember].
func (s *Store) addMembers(ctx context.Context, tx *storeTx, id string, userIDs []string) error {
	userIDs = uniqueSorted(userIDs)
	for _, u := range userIDs {
		if !validText(u) {
			return unknownMember(u)
		}
	}
	for _, ids := range batches(userIDs) {
		if err := checkUsers(ctx, tx, ids); err != nil {
			return err
		}
		b := &sqlBuf{}
		b.sql("INSERT INTO group_members (group_id, user_id) VALUES ")
		for i, u := range ids {
			if i > 0 {
				b.sql(", ")
			}
			b.sql("(")
			b.arg(id)
			b.sql(", ")
			b.arg(u)
			b.sql(")")
		}
		b.sql(" ON CONFLICT DO NOTHING")
		_, err := exec(ctx, tx, b.String(), b.args...)
		if s.d.isForeignKeyViolation(err) { // a user deleted since checkUsers
			return fmt.Errorf("%w: a member was deleted meanwhile", ErrUnknownMember)
		}
		if err != nil {
			return fmt.Errorf("add members: %w", err)
		}
	}
	return nil
}

// checkUsers returns [ErrUnknownMember] naming the first of ids (sorted)
// that is not a user.
func checkUsers(ctx context.Context, q querier, ids []string) error {
	b := &sqlBuf{}
	b.sql("SELECT id FROM users WHERE id IN (")
	b.list(ids)
	b.sql(")")
	var found []string
	if err := selectAll(ctx, q, &found, b.String(), b.args...); err != nil {
		return fmt.Errorf("check members: %w", err)
	}
	if len(found) == len(ids) {
		return nil
	}
	users := make(map[string]bool, len(found))
	for _, id := range found {
		users[id] = true
	}
	for _, id := range ids {
		if !users[id] {
			return unknownMember(id)
		}
	}
	return nil
}

// DeleteGroup deletes the group id and its memberships, or returns
// [ErrNotFound]. pre, when given, must hold for the group's version, read
// under the row lock, and the DELETE is conditional on it; else nothing
// changes and the error is [ErrVersionMismatch].
func (s *Store) DeleteGroup(ctx context.Context, id string, ev Event, pre ...Precondition) error {
	if !validText(id) {
		return notFound("Group", id)
	}
	err := s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, false); err != nil {
			return err
		}
		// Lock the group first, as UpdateGroup does, so the two queue
		// rather than deadlock over its membership rows.
		g, err := loadGroup(ctx, tx, id, s.d.forUpdate())
		if err != nil {
			return err
		}
		if err := checkVersion("Group", id, g.Version, pre); err != nil {
			return err
		}
		var members []string
		if s.hook.p.Load() != nil {
			if members, err = memberIDs(ctx, tx, id); err != nil {
				return err
			}
		}
		if _, err := exec(ctx, tx, `DELETE FROM group_members WHERE group_id = ?`, id); err != nil {
			return fmt.Errorf("delete members: %w", err)
		}
		n, err := exec(ctx, tx, `DELETE FROM groups WHERE id = ? AND version = ?`, id, g.Version)
		if err != nil {
			return err
		}
		if n == 0 { // cannot happen under the row lock
			return versionMismatch("Group", id)
		}
		ev = s.stamp(ev, "Group", id)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.membersChanged(ctx, tx, id, []string{g.DisplayName()}, members, ev)
	})
	return opError("delete group", err)
}

// touchGroups gives the groups ids (sorted) a new version and
// LastModified, after a change to their membership made from the user's
// side. Rows are locked in id order, the order every writer uses.
func (s *Store) touchGroups(ctx context.Context, tx *storeTx, ids []string) error {
	now := s.d.timeArg(s.resourceTime())
	for _, batch := range batches(ids) {
		b := &sqlBuf{}
		b.sql("SELECT id FROM groups WHERE id IN (")
		b.list(batch)
		b.sql(") ORDER BY id" + s.d.forUpdate())
		var locked []string
		if err := selectAll(ctx, tx, &locked, b.String(), b.args...); err != nil {
			return fmt.Errorf("lock groups: %w", err)
		}
		b = &sqlBuf{}
		b.sql("UPDATE groups SET version = version + 1, last_modified = CASE WHEN last_modified < ")
		b.arg(now)
		b.sql(" THEN ")
		b.arg(now)
		b.sql(" ELSE last_modified END WHERE id IN (")
		b.list(batch)
		b.sql(")")
		if _, err := exec(ctx, tx, b.String(), b.args...); err != nil {
			return fmt.Errorf("touch groups: %w", err)
		}
	}
	return nil
}

// batchSize bounds the ids bound in one statement, well below every
// dialect's limit on parameters.
const batchSize = 500

// batches splits ids into slices of at most batchSize.
func batches(ids []string) [][]string {
	var out [][]string
	for len(ids) > batchSize {
		out = append(out, ids[:batchSize])
		ids = ids[batchSize:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// uniqueSorted returns ids sorted, without duplicates.
func uniqueSorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// validIDs returns the ids that could be stored, sorted and unique; the
// others cannot be members and are dropped from removals.
func validIDs(ids []string) []string {
	out := uniqueSorted(ids)
	return slices.DeleteFunc(out, func(id string) bool { return !validText(id) })
}
