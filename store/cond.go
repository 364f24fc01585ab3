package store

import "time"

// Cond is a dialect-neutral filter condition. The SCIM layer translates a
// SCIM filter into a Cond after checking every attribute against its
// whitelist and every value against the attribute's type; the store renders
// the Cond as parameterised SQL for its dialect and re-checks that every
// column it names is one it knows. No text from a client ever becomes SQL.
//
// The concrete types are [Compare], [Present], [And], [Or], [Not], [AnyOf],
// [HasMember] and [InGroup].
type Cond interface{ isCond() }

// Field locates a value of a resource.
//
// Column names an indexed column: for users "id", "user_name",
// "external_id", "display_name", "active", "created", "last_modified"; for
// groups "id", "display_name", "external_id", "created", "last_modified".
// When Column is empty, Path is a path into the resource's JSON document, in
// canonical attribute names, e.g. {"name", "familyName"} or
// {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "employeeNumber"}.
// Inside [AnyOf], Path is relative to the array element, and an empty Path
// means the element itself (a multi-valued attribute of simple values).
type Field struct {
	Column string
	Path   []string
}

// Kind is the SCIM data type of a compared value.
type Kind int

// Kinds of compared values. Value in [Compare] holds, per Kind: string,
// bool, float64, time.Time (KindDateTime).
const (
	KindString Kind = iota
	KindBoolean
	KindNumber
	KindDateTime
)

// Op is a SCIM comparison operator (RFC 7644 §3.4.2.2), lower case.
type Op string

// Comparison operators. OpPresent is expressed with [Present], not Compare.
const (
	OpEq Op = "eq"
	OpNe Op = "ne"
	OpCo Op = "co"
	OpSw Op = "sw"
	OpEw Op = "ew"
	OpGt Op = "gt"
	OpGe Op = "ge"
	OpLt Op = "lt"
	OpLe Op = "le"
)

// Compare is `field op value`. For strings, CaseExact false ignores case:
// on the userName column of users and the displayName column of groups, as
// [strings.EqualFold] does, for every script ("JÖRG" eq "jörg"), through a
// key folded in Go; on other columns and in the JSON document, for ASCII
// letters only (SQL lower(), alike on both dialects). co, sw and ew apply to
// strings only. A resource that lacks the field never matches, except under
// ne, where it does (RFC 7644: ne is the negation of eq).
type Compare struct {
	Field     Field
	Op        Op
	Kind      Kind
	Value     any // string, bool, float64 or time.Time, by Kind
	CaseExact bool
}

// Present is `field pr`: the field has a non-null, non-empty value.
type Present struct{ Field Field }

// And matches when every condition matches.
type And []Cond

// Or matches when any condition matches.
type Or []Cond

// Not matches when Cond does not.
type Not struct{ Cond Cond }

// AnyOf matches when some element of the multi-valued attribute at Path
// (a JSON path from the resource's root) satisfies Where. A nil Where matches
// any element: `emails pr`.
type AnyOf struct {
	Path  []string
	Where Cond
}

// HasMember matches groups that have the user UserID as a member
// (`members.value eq "..."`, `members[value eq "..."]`).
type HasMember struct{ UserID string }

// InGroup matches users who are members of GroupID (`groups.value eq "..."`).
type InGroup struct{ GroupID string }

func (Compare) isCond()   {}
func (Present) isCond()   {}
func (And) isCond()       {}
func (Or) isCond()        {}
func (Not) isCond()       {}
func (AnyOf) isCond()     {}
func (HasMember) isCond() {}
func (InGroup) isCond()   {}

// truncate brings a time to the stored precision, in UTC.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(timePrecision) }
