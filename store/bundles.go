package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/mapping"
)

// Bundle is a stored bundle: its definition and version (its ETag).
type Bundle struct {
	mapping.Bundle
	Version      int64
	Created      time.Time
	LastModified time.Time
}

// Rule is a stored rule: its definition and version (its ETag).
type Rule struct {
	mapping.Rule
	Version      int64
	Created      time.Time
	LastModified time.Time
}

// Put reports what a PutBundle or PutRule did.
type Put int

const (
	Unchanged Put = iota // the stored definition was the same: nothing written, nothing audited
	Created
	Updated
)

// PutBundle creates or replaces the bundle b.Name, and queues a sync of
// every user whose enrollments it can change: the members of groups that
// rules naming the bundle match, when its connector, courses or
// deactivation policy changed. Putting the definition already stored writes
// nothing and returns [Unchanged], so applying a file twice is harmless.
// An invalid bundle is [ErrInvalidValue]; pre as for users (a missing
// bundle with a version precondition is [ErrVersionMismatch]).
func (s *Store) PutBundle(ctx context.Context, b mapping.Bundle, ev Event, pre ...Precondition) (*Bundle, Put, error) {
	if err := b.Validate(); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrInvalidValue, err)
	}
	var (
		out *Bundle
		put Put
	)
	err := s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, true); err != nil {
			return err
		}
		old, err := loadBundle(ctx, tx, b.Name, s.d.forUpdate())
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		row, p, err := s.writeDoc(ctx, tx, bundlesTable, b.Name, old.row(), b, nil, pre)
		if err != nil {
			return err
		}
		out, put = &Bundle{Bundle: b, Version: row.Version, Created: row.Created.Time, LastModified: row.LastModified.Time}, p
		if p == Unchanged {
			return nil
		}
		ev = s.stamp(ev, "Bundle", b.Name)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if old != nil && sameEffect(old.Bundle, b) {
			return nil
		}
		return s.bundleChanged(ctx, tx, b.Name, ev)
	})
	if err != nil {
		return nil, 0, opError("put bundle", err)
	}
	return out, put, nil
}

// sameEffect reports whether two versions of a bundle enroll the same
// people in the same courses (a new description changes nobody's).
func sameEffect(a, b mapping.Bundle) bool {
	return a.Connector == b.Connector && a.Policy() == b.Policy() && slices.Equal(a.Courses, b.Courses)
}

// DeleteBundle deletes the bundle name and queues a sync of the users it
// enrolled, or returns [ErrNotFound]. Rules naming it stay, and match
// nothing of it until a bundle of that name exists again.
func (s *Store) DeleteBundle(ctx context.Context, name string, ev Event, pre ...Precondition) error {
	err := s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, true); err != nil {
			return err
		}
		if err := s.deleteDoc(ctx, tx, bundlesTable, name, pre); err != nil {
			return err
		}
		ev = s.stamp(ev, "Bundle", name)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.bundleChanged(ctx, tx, name, ev)
	})
	return opError("delete bundle", err)
}

// bundleChanged queues the users of every rule naming the bundle.
func (s *Store) bundleChanged(ctx context.Context, tx *storeTx, name string, ev Event) error {
	if s.hook.p.Load() == nil {
		return nil
	}
	rules, err := listRules(ctx, tx)
	if err != nil {
		return err
	}
	var naming []mapping.Rule
	for _, r := range rules {
		if slices.Contains(r.Bundles, name) {
			naming = append(naming, r.Rule)
		}
	}
	return s.rulesChanged(ctx, tx, naming, ev)
}

// GetBundle returns the bundle name, or [ErrNotFound].
func (s *Store) GetBundle(ctx context.Context, name string) (*Bundle, error) {
	b, err := loadBundle(ctx, s.pool, name, "")
	return b, opError("get bundle", err)
}

// ListBundles returns every bundle, by name.
func (s *Store) ListBundles(ctx context.Context) ([]*Bundle, error) {
	b, err := listBundles(ctx, s.pool)
	return b, opError("list bundles", err)
}

func loadBundle(ctx context.Context, q querier, name, lock string) (*Bundle, error) {
	row, err := loadDoc(ctx, q, bundlesTable, name, lock)
	if err != nil {
		return nil, err
	}
	return row.bundle()
}

func listBundles(ctx context.Context, q querier) ([]*Bundle, error) {
	rows, err := listDocs(ctx, q, bundlesTable)
	if err != nil {
		return nil, err
	}
	out := make([]*Bundle, 0, len(rows))
	for _, r := range rows {
		b, err := r.bundle()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// PutRule creates or replaces the rule r.Name and queues a sync of the
// members of the groups it matched before and matches now. Putting the
// definition already stored writes nothing and returns [Unchanged].
func (s *Store) PutRule(ctx context.Context, r mapping.Rule, ev Event, pre ...Precondition) (*Rule, Put, error) {
	if err := r.Validate(); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrInvalidValue, err)
	}
	var (
		out *Rule
		put Put
	)
	err := s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, true); err != nil {
			return err
		}
		old, err := loadRule(ctx, tx, r.Name, s.d.forUpdate())
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		row, p, err := s.writeDoc(ctx, tx, rulesTable, r.Name, old.row(), r, ruleColumns(r), pre)
		if err != nil {
			return err
		}
		out, put = &Rule{Rule: r, Version: row.Version, Created: row.Created.Time, LastModified: row.LastModified.Time}, p
		if p == Unchanged {
			return nil
		}
		ev = s.stamp(ev, "Rule", r.Name)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		changed := []mapping.Rule{r}
		if old != nil {
			changed = append(changed, old.Rule)
		}
		return s.rulesChanged(ctx, tx, changed, ev)
	})
	if err != nil {
		return nil, 0, opError("put rule", err)
	}
	return out, put, nil
}

// DeleteRule deletes the rule name and queues a sync of the members of the
// groups it matched, or returns [ErrNotFound].
func (s *Store) DeleteRule(ctx context.Context, name string, ev Event, pre ...Precondition) error {
	err := s.inTx(ctx, func(tx *storeTx) error {
		if err := s.lockMapping(ctx, tx, true); err != nil {
			return err
		}
		old, err := loadRule(ctx, tx, name, s.d.forUpdate())
		if err != nil {
			return err
		}
		if err := s.deleteDoc(ctx, tx, rulesTable, name, pre); err != nil {
			return err
		}
		ev = s.stamp(ev, "Rule", name)
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.rulesChanged(ctx, tx, []mapping.Rule{old.Rule}, ev)
	})
	return opError("delete rule", err)
}

// GetRule returns the rule name, or [ErrNotFound].
func (s *Store) GetRule(ctx context.Context, name string) (*Rule, error) {
	r, err := loadRule(ctx, s.pool, name, "")
	return r, opError("get rule", err)
}

// ListRules returns every rule, by name.
func (s *Store) ListRules(ctx context.Context) ([]*Rule, error) {
	r, err := listRules(ctx, s.pool)
	return r, opError("list rules", err)
}

func loadRule(ctx context.Context, q querier, name, lock string) (*Rule, error) {
	row, err := loadDoc(ctx, q, rulesTable, name, lock)
	if err != nil {
		return nil, err
	}
	return row.rule()
}

func listRules(ctx context.Context, q querier) ([]*Rule, error) {
	rows, err := listDocs(ctx, q, rulesTable)
	if err != nil {
		return nil, err
	}
	out := make([]*Rule, 0, len(rows))
	for _, r := range rows {
		rule, err := r.rule()
		if err != nil {
			return nil, err
		}
		out = append(out, rule)
	}
	return out, nil
}

// ruleColumns are the columns a rule is matched on.
func ruleColumns(r mapping.Rule) map[string]any {
	cols := map[string]any{"group_key": nil, "group_id": nil}
	if r.GroupID != "" {
		cols["group_id"] = r.GroupID
	} else {
		cols["group_key"] = foldKey(r.Group)
	}
	return cols
}

// rulesChanged queues the members of every group the rules match.
func (s *Store) rulesChanged(ctx context.Context, tx *storeTx, rules []mapping.Rule, ev Event) error {
	if s.hook.p.Load() == nil || len(rules) == 0 {
		return nil
	}
	var ids, keys []string
	for _, r := range rules {
		if r.GroupID != "" {
			ids = append(ids, r.GroupID)
		} else {
			keys = append(keys, foldKey(r.Group))
		}
	}
	// The members are read here, in the writing transaction, not by a job
	// after it: a member added just after the rule queues its own sync,
	// under its own correlation id, and a later read would claim it too.
	users, err := usersOfGroups(ctx, tx, ids, keys)
	if err != nil {
		return err
	}
	return s.changed(ctx, tx, users, ev)
}

// usersOfGroups returns the members of the groups with the given ids or
// folded displayNames.
func usersOfGroups(ctx context.Context, q querier, ids, keys []string) ([]string, error) {
	ids, keys = validIDs(ids), validIDs(keys)
	if len(ids) == 0 && len(keys) == 0 {
		return nil, nil
	}
	b := &sqlBuf{}
	b.sql("SELECT DISTINCT gm.user_id FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE ")
	if len(ids) > 0 {
		b.sql("g.id IN (")
		b.list(ids)
		b.sql(")")
	}
	if len(keys) > 0 {
		if len(ids) > 0 {
			b.sql(" OR ")
		}
		b.sql("g.display_name_key IN (")
		b.list(keys)
		b.sql(")")
	}
	var users []string
	if err := selectAll(ctx, q, &users, b.String(), b.args...); err != nil {
		return nil, fmt.Errorf("read members of matched groups: %w", err)
	}
	return users, nil
}

// The two tables that keep definitions as JSON documents.
var (
	bundlesTable = docTable{name: "bundles", kind: "Bundle"}
	rulesTable   = docTable{name: "rules", kind: "Rule"}
)

type docTable struct{ name, kind string }

// docRow is a row of a definitions table.
type docRow struct {
	Name         string `db:"name"`
	Version      int64  `db:"version"`
	Created      dbTime `db:"created"`
	LastModified dbTime `db:"last_modified"`
	Data         []byte `db:"data"`
}

func (r *docRow) bundle() (*Bundle, error) {
	b := &Bundle{Version: r.Version, Created: r.Created.Time, LastModified: r.LastModified.Time}
	if err := json.Unmarshal(r.Data, &b.Bundle); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", r.Name, err)
	}
	return b, nil
}

func (r *docRow) rule() (*Rule, error) {
	rule := &Rule{Version: r.Version, Created: r.Created.Time, LastModified: r.LastModified.Time}
	if err := json.Unmarshal(r.Data, &rule.Rule); err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	return rule, nil
}

// row returns the stored row of b, nil for none.
func (b *Bundle) row() *docRow {
	if b == nil {
		return nil
	}
	data, _ := json.Marshal(b.Bundle) // it was decoded from JSON
	return &docRow{Name: b.Name, Version: b.Version, Created: dbTime{b.Created}, LastModified: dbTime{b.LastModified}, Data: data}
}

func (r *Rule) row() *docRow {
	if r == nil {
		return nil
	}
	data, _ := json.Marshal(r.Rule)
	return &docRow{Name: r.Name, Version: r.Version, Created: dbTime{r.Created}, LastModified: dbTime{r.LastModified}, Data: data}
}

func loadDoc(ctx context.Context, q querier, t docTable, name, lock string) (*docRow, error) {
	if !validText(name) {
		return nil, notFound(t.kind, name)
	}
	var row docRow
	err := get(ctx, q, &row, `SELECT name, version, created, last_modified, data FROM `+t.name+` WHERE name = ?`+lock, name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(t.kind, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.name, err)
	}
	return &row, nil
}

func listDocs(ctx context.Context, q querier, t docTable) ([]docRow, error) {
	var rows []docRow
	if err := selectAll(ctx, q, &rows, `SELECT name, version, created, last_modified, data FROM `+t.name+` ORDER BY name`); err != nil {
		return nil, fmt.Errorf("list %s: %w", t.name, err)
	}
	return rows, nil
}

// writeDoc inserts or updates the document name (old is its current row,
// nil when missing) with doc's JSON and cols, unless the stored JSON is the
// same. It returns the row as it is afterwards and what it did.
func (s *Store) writeDoc(ctx context.Context, tx *storeTx, t docTable, name string, old *docRow, doc any, cols map[string]any, pre []Precondition) (*docRow, Put, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, 0, fmt.Errorf("encode %s: %w", t.kind, err)
	}
	if old == nil {
		if !holds(pre, 0) {
			return nil, 0, versionMismatch(t.kind, name)
		}
	} else if err := checkVersion(t.kind, name, old.Version, pre); err != nil {
		return nil, 0, err
	}
	if old != nil && jsonEqual(old.Data, data) {
		return old, Unchanged, nil
	}
	now := s.resourceTime()
	names, args := []string{"data", "version", "last_modified"}, []any{string(data), int64(1), s.d.timeArg(now)}
	for _, c := range slices.Sorted(maps.Keys(cols)) {
		names, args = append(names, c), append(args, cols[c])
	}
	if old == nil {
		q := "INSERT INTO " + t.name + " (name, created, " + strings.Join(names, ", ") +
			") VALUES (?, ?" + strings.Repeat(", ?", len(names)) + ")"
		if _, err := exec(ctx, tx, q, append([]any{name, s.d.timeArg(now)}, args...)...); err != nil {
			return nil, 0, fmt.Errorf("insert %s: %w", t.name, err)
		}
		return &docRow{Name: name, Version: 1, Created: dbTime{now}, LastModified: dbTime{now}, Data: data}, Created, nil
	}
	args[1] = old.Version + 1
	q := "UPDATE " + t.name + " SET " + strings.Join(names, " = ?, ") + " = ? WHERE name = ? AND version = ?"
	if _, err := exec(ctx, tx, q, append(args, name, old.Version)...); err != nil {
		return nil, 0, fmt.Errorf("update %s: %w", t.name, err)
	}
	return &docRow{Name: name, Version: old.Version + 1, Created: old.Created, LastModified: dbTime{later(now, old.LastModified.Time)}, Data: data}, Updated, nil
}

// deleteDoc deletes the document name, checking pre under a row lock.
func (s *Store) deleteDoc(ctx context.Context, tx *storeTx, t docTable, name string, pre []Precondition) error {
	old, err := loadDoc(ctx, tx, t, name, s.d.forUpdate())
	if err != nil {
		return err
	}
	if err := checkVersion(t.kind, name, old.Version, pre); err != nil {
		return err
	}
	if _, err := exec(ctx, tx, `DELETE FROM `+t.name+` WHERE name = ? AND version = ?`, name, old.Version); err != nil {
		return fmt.Errorf("delete %s: %w", t.name, err)
	}
	return nil
}

// jsonEqual reports whether two JSON documents hold the same value,
// whatever their spacing and key order (PostgreSQL's jsonb reorders keys).
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
