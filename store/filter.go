package store

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// This file renders a [Cond] tree as a parameterised SQL condition. Column
// names come from the whitelist below, JSON keys are bound or checked
// quoted-path literals, and every value is a bind argument: nothing a client
// sent becomes SQL text.
//
// The rendered condition is two-valued: a row where a field is absent (SQL
// NULL) fails a comparison, and Not and ne turn that failure into a match
// (NOT COALESCE(c, FALSE)), as RFC 7644 defines ne as the negation of eq.

// maxCondDepth bounds the nesting of a condition, so that a hostile filter
// cannot exhaust the stack; the SCIM parser's own limits are far below it.
const maxCondDepth = 64

// Tables a condition can select from. Their rows are aliased r.
const (
	usersTable  = "users"
	groupsTable = "groups"
)

// keyColumn returns the column holding the case-insensitive key
// ([foldKey]) of a filterable string column of table, if it has one:
// userName of users and displayName of groups, the attributes that are
// unique ignoring case. (A user's displayName has none: it is not unique,
// and a comparison ignoring its case folds ASCII only, as in the JSON
// document.)
func keyColumn(table, column string) (string, bool) {
	switch {
	case table == usersTable && column == "user_name":
		return "user_name_key", true
	case table == groupsTable && column == "display_name":
		return "display_name_key", true
	}
	return "", false
}

// columnKind returns the kind of a filterable column of table, and whether
// the column is filterable at all.
func columnKind(table, column string) (Kind, bool) {
	switch column {
	case "id", "external_id", "display_name":
		return KindString, true
	case "created", "last_modified":
		return KindDateTime, true
	case "user_name":
		return KindString, table == usersTable
	case "active":
		return KindBoolean, table == usersTable
	}
	return 0, false
}

// renderer writes one condition.
type renderer struct {
	d       dialect
	table   string
	b       *sqlBuf
	aliases int
}

// renderWhere writes " WHERE cond" for a query over table (aliased r), or
// nothing when cond is nil.
func renderWhere(d dialect, table string, cond Cond) (*sqlBuf, error) {
	b := &sqlBuf{}
	if cond == nil {
		return b, nil
	}
	b.sql(" WHERE ")
	r := &renderer{d: d, table: table, b: b}
	if err := r.cond(cond, nil, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// cond writes c. elem is the array element c is relative to inside an
// [AnyOf], nil at the top.
func (r *renderer) cond(c Cond, elem *jsonRef, depth int) error {
	if depth > maxCondDepth {
		return fmt.Errorf("filter: nested deeper than %d", maxCondDepth)
	}
	switch c := c.(type) {
	case Compare:
		return r.compare(c, elem)
	case *Compare:
		if c != nil {
			return r.compare(*c, elem)
		}
	case Present:
		return r.present(c.Field, elem)
	case *Present:
		if c != nil {
			return r.present(c.Field, elem)
		}
	case And:
		return r.join(c, " AND ", "1 = 1", elem, depth)
	case Or:
		return r.join(c, " OR ", "1 = 0", elem, depth)
	case Not:
		return r.not(c.Cond, elem, depth)
	case *Not:
		if c != nil {
			return r.not(c.Cond, elem, depth)
		}
	case AnyOf:
		return r.anyOf(c, elem, depth)
	case *AnyOf:
		if c != nil {
			return r.anyOf(*c, elem, depth)
		}
	case HasMember:
		return r.membership(groupsTable, "group_id", "user_id", c.UserID)
	case *HasMember:
		if c != nil {
			return r.membership(groupsTable, "group_id", "user_id", c.UserID)
		}
	case InGroup:
		return r.membership(usersTable, "user_id", "group_id", c.GroupID)
	case *InGroup:
		if c != nil {
			return r.membership(usersTable, "user_id", "group_id", c.GroupID)
		}
	default:
		return fmt.Errorf("filter: unsupported condition %T", c)
	}
	return errors.New("filter: nil condition")
}

// join writes conds separated by op; empty writes identity (And{} is
// true, Or{} is false).
func (r *renderer) join(conds []Cond, op, identity string, elem *jsonRef, depth int) error {
	if len(conds) == 0 {
		r.b.sql(identity)
		return nil
	}
	r.b.sql("(")
	for i, c := range conds {
		if i > 0 {
			r.b.sql(op)
		}
		if err := r.cond(c, elem, depth+1); err != nil {
			return err
		}
	}
	r.b.sql(")")
	return nil
}

// not negates c, counting an unknown (NULL) result of c as false first.
func (r *renderer) not(c Cond, elem *jsonRef, depth int) error {
	r.b.sql("NOT COALESCE((")
	if err := r.cond(c, elem, depth+1); err != nil {
		return err
	}
	r.b.sql("), FALSE)")
	return nil
}

func (r *renderer) anyOf(c AnyOf, elem *jsonRef, depth int) error {
	ref, err := r.jsonRef(c.Path, elem)
	if err != nil {
		return err
	}
	alias := fmt.Sprintf("e%d", r.aliases)
	r.aliases++
	return r.d.jsonAnyOf(r.b, ref, alias, func(el jsonRef) error {
		if c.Where == nil {
			r.b.sql("1 = 1")
			return nil
		}
		return r.cond(c.Where, &el, depth+1)
	})
}

// membership writes an EXISTS over group_members linking the row (its id in
// column self) to id (in column other). It applies to table only.
func (r *renderer) membership(table, self, other, id string) error {
	if r.table != table {
		return fmt.Errorf("filter: membership condition on %s applies to %s", r.table, table)
	}
	if !validText(id) {
		return fmt.Errorf("%w: a member id in the filter holds a NUL character or invalid UTF-8", ErrInvalidValue)
	}
	r.b.sql("EXISTS (SELECT 1 FROM group_members gm WHERE gm." + self + " = r.id AND gm." + other + " = ")
	r.b.arg(id)
	r.b.sql(")")
	return nil
}

// jsonRef resolves a JSON path from the root document, or from elem.
func (r *renderer) jsonRef(path []string, elem *jsonRef) (jsonRef, error) {
	for _, seg := range path {
		if err := checkSegment(seg); err != nil {
			return jsonRef{}, err
		}
	}
	if elem != nil {
		return elem.child(path), nil
	}
	if len(path) == 0 {
		return jsonRef{}, errors.New("filter: empty attribute path")
	}
	return jsonRef{doc: "r.data", path: append([]string(nil), path...)}, nil
}

// checkSegment accepts attribute names and schema URNs (letters, digits,
// "-", "_", ":", ".", "$" and the like) and refuses what could end a quoted
// JSON path label or confuse a log: quotes, backslashes, control characters.
func checkSegment(seg string) error {
	if seg == "" || len(seg) > 256 || !utf8.ValidString(seg) {
		return fmt.Errorf("filter: invalid attribute path segment %q", seg)
	}
	for _, c := range seg {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("filter: invalid attribute path segment %q", seg)
		}
	}
	return nil
}

// operand is a field ready to compare: how to write it, and its kind.
type operand struct {
	write  func()
	column bool
	kind   Kind
	// key, when not empty, is the SQL of the column holding the field's
	// case-insensitive key (see keyColumn).
	key string
}

// field resolves f for a comparison of kind.
func (r *renderer) field(f Field, kind Kind, elem *jsonRef) (operand, error) {
	if f.Column != "" {
		if elem != nil || len(f.Path) > 0 {
			return operand{}, fmt.Errorf("filter: column %q inside a multi-valued attribute or with a path", f.Column)
		}
		k, ok := columnKind(r.table, f.Column)
		if !ok {
			return operand{}, fmt.Errorf("filter: %s has no filterable column %q", r.table, f.Column)
		}
		if k != kind {
			return operand{}, fmt.Errorf("filter: column %q is not compared as kind %d", f.Column, kind)
		}
		col := "r." + f.Column // from the whitelist above
		x := operand{write: func() { r.b.sql(col) }, column: true, kind: k}
		if key, ok := keyColumn(r.table, f.Column); ok {
			x.key = "r." + key
		}
		return x, nil
	}
	ref, err := r.jsonRef(f.Path, elem)
	if err != nil {
		return operand{}, err
	}
	t := jsonString
	switch kind {
	case KindNumber:
		t = jsonNumber
	case KindBoolean:
		t = jsonBoolean
	}
	return operand{write: func() { r.d.jsonScalar(r.b, ref, t) }, kind: kind}, nil
}

func (r *renderer) present(f Field, elem *jsonRef) error {
	if f.Column != "" {
		k, ok := columnKind(r.table, f.Column)
		if !ok || elem != nil || len(f.Path) > 0 {
			return fmt.Errorf("filter: %s has no filterable column %q", r.table, f.Column)
		}
		col := "r." + f.Column
		if k == KindString {
			r.b.sql("(" + col + " IS NOT NULL AND " + col + " <> '')")
		} else {
			r.b.sql(col + " IS NOT NULL")
		}
		return nil
	}
	ref, err := r.jsonRef(f.Path, elem)
	if err != nil {
		return err
	}
	r.d.jsonPresent(r.b, ref)
	return nil
}

// compare writes c; ne is written as the negation of eq.
func (r *renderer) compare(c Compare, elem *jsonRef) error {
	value, err := compareValue(c)
	if err != nil {
		return err
	}
	if err := checkOp(c.Kind, c.Op); err != nil {
		return err
	}
	x, err := r.field(c.Field, c.Kind, elem)
	if err != nil {
		return err
	}
	if c.Op == OpNe {
		r.b.sql("NOT COALESCE((")
		r.compareOp(x, OpEq, value, c.CaseExact)
		r.b.sql("), FALSE)")
		return nil
	}
	r.compareOp(x, c.Op, value, c.CaseExact)
	return nil
}

// compareOp writes `x op value` for a checked op and value.
func (r *renderer) compareOp(x operand, op Op, value any, caseExact bool) {
	switch x.kind {
	case KindString:
		r.compareString(x, op, value.(string), caseExact)
	case KindDateTime:
		t := value.(time.Time)
		x.write()
		r.b.sql(" " + sqlOp(op) + " ")
		if x.column {
			r.b.arg(r.d.timeArg(t))
		} else {
			// A dateTime inside the JSON document is text as the client
			// sent it; compare with the same instant written the usual way.
			r.b.arg(t.UTC().Format(time.RFC3339Nano))
		}
	default: // boolean, number
		x.write()
		r.b.sql(" " + sqlOp(op) + " ")
		r.b.arg(value)
	}
}

// compareString writes a string comparison. Ignoring case, a column with a
// key column (userName, group displayName) is compared through its key,
// with the value folded the same way in Go: Unicode case folding, alike on
// both dialects. Every other field ignoring case, JSON values included, is
// compared with SQL lower() on both sides, which folds ASCII letters only on
// both dialects (PostgreSQL's text is in the "C" collation): "É" and "é"
// differ there.
func (r *renderer) compareString(x operand, op Op, v string, caseExact bool) {
	switch {
	case !caseExact && x.key != "":
		r.compareKey(x.key, op, foldKey(v))
	case (op == OpCo || op == OpSw || op == OpEw) && caseExact:
		r.d.exactMatch(r.b, op, x.write, v)
	case op == OpCo || op == OpSw || op == OpEw:
		r.b.sql("lower(")
		x.write()
		r.b.sql(") LIKE lower(")
		r.b.arg(likePattern(op, v))
		r.b.sql(`) ESCAPE '\'`)
	case caseExact:
		x.write()
		r.b.sql(" " + sqlOp(op) + " ")
		r.b.arg(v)
	default:
		r.b.sql("lower(")
		x.write()
		r.b.sql(") " + sqlOp(op) + " lower(")
		r.b.arg(v)
		r.b.sql(")")
	}
}

// compareKey writes `key op value` for a key column and a folded value.
// Both sides are folded, so plain byte comparison is right: = uses the
// UNIQUE index, and LIKE (with the value's pattern characters escaped) is
// exact on both dialects, as a key holds no upper-case ASCII letter for
// SQLite's LIKE to fold.
func (r *renderer) compareKey(key string, op Op, value string) {
	r.b.sql(key)
	switch op {
	case OpCo, OpSw, OpEw:
		r.b.sql(" LIKE ")
		r.b.arg(likePattern(op, value))
		r.b.sql(` ESCAPE '\'`)
	default:
		r.b.sql(" " + sqlOp(op) + " ")
		r.b.arg(value)
	}
}

// sqlOp maps an ordering or equality operator to SQL.
func sqlOp(op Op) string {
	switch op {
	case OpGt:
		return ">"
	case OpGe:
		return ">="
	case OpLt:
		return "<"
	case OpLe:
		return "<="
	default:
		return "="
	}
}

// checkOp refuses operators that mean nothing for a kind (RFC 7644: gt on a
// boolean is an error; co, sw and ew are for strings).
func checkOp(k Kind, op Op) error {
	switch op {
	case OpEq, OpNe:
		return nil
	case OpGt, OpGe, OpLt, OpLe:
		if k != KindBoolean {
			return nil
		}
	case OpCo, OpSw, OpEw:
		if k == KindString {
			return nil
		}
	default:
		return fmt.Errorf("filter: unknown operator %q", op)
	}
	return fmt.Errorf("filter: operator %q does not apply to kind %d", op, k)
}

// compareValue checks that c.Value suits c.Kind and returns it in the form
// bound to the query.
func compareValue(c Compare) (any, error) {
	switch c.Kind {
	case KindString:
		if v, ok := c.Value.(string); ok {
			if !validText(v) {
				return nil, fmt.Errorf("%w: a filter value holds a NUL character or invalid UTF-8", ErrInvalidValue)
			}
			return v, nil
		}
	case KindBoolean:
		if v, ok := c.Value.(bool); ok {
			return v, nil
		}
	case KindNumber:
		var f float64
		switch v := c.Value.(type) {
		case float64:
			f = v
		case int:
			f = float64(v)
		case int64:
			f = float64(v)
		default:
			return nil, fmt.Errorf("filter: number compared with %T", c.Value)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: a filter number is not finite", ErrInvalidValue)
		}
		return f, nil
	case KindDateTime:
		if v, ok := c.Value.(time.Time); ok {
			return v, nil
		}
	default:
		return nil, fmt.Errorf("filter: unknown kind %d", c.Kind)
	}
	return nil, fmt.Errorf("filter: kind %d compared with %T", c.Kind, c.Value)
}

// likePattern turns a co, sw or ew value into a LIKE pattern that matches
// the value literally, with \ as the escape character.
func likePattern(op Op, v string) string {
	v = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(v)
	switch op {
	case OpSw:
		return v + "%"
	case OpEw:
		return "%" + v
	default:
		return "%" + v + "%"
	}
}
