// Package store is Onramp's persistence: SCIM users and groups, group
// membership, API tokens, the audit trail, and the bundles, rules and
// enrollments that delivery works from, on SQLite (the embedded default) or
// PostgreSQL. (River, in package delivery, keeps its job tables in the same
// database.)
//
// One concrete type, [Store], serves both databases. The differences between
// them (JSON access, constraint errors, timestamps) live behind a small
// dialect in sqlite.go and postgres.go; everything else is the same SQL,
// written with ? placeholders and rebound. The conformance suite in
// store/storetest runs against both.
//
// Every write takes the audit [Event] that records it and commits the two in
// one transaction: a change without its audit row, or an audit row without
// its change, cannot exist. A write that can change someone's enrollments
// also calls the change hook in that transaction ([Store.SetChangeHook]), so
// the delivery job it causes commits with it too.
package store

import (
	"errors"
	"slices"
	"time"
)

// Sentinel errors. Callers test with errors.Is; the store wraps them with
// context but never returns driver errors for these conditions, so callers
// need not know the dialect.
var (
	// ErrNotFound: the resource, token or event does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique attribute (userName, group displayName,
	// token name) is already taken. The error's text names the attribute.
	ErrAlreadyExists = errors.New("already exists")
	// ErrUnknownMember: a group member refers to a user that does not exist.
	ErrUnknownMember = errors.New("unknown member")
	// ErrInvalidValue: a value cannot be stored or searched for on every
	// dialect: a string with a NUL character or invalid UTF-8 (PostgreSQL
	// rejects both), a number that is not finite, a missing userName or
	// group displayName, a scope containing a comma. Callers answer it as a
	// client error (SCIM 400 invalidValue). The text names the attribute.
	ErrInvalidValue = errors.New("invalid value")
	// ErrVersionMismatch: a write's [Precondition] does not hold, because
	// the resource has changed since the client read it. Nothing was
	// written. Callers answer it as HTTP 412 Precondition Failed.
	ErrVersionMismatch = errors.New("version mismatch")
)

// Precondition guards a write, as HTTP If-Match does (RFC 7232 §3.1): the
// update or delete happens only while the resource's version is one the
// client names. The store checks it in the transaction that writes, on the
// row it has locked, and writes with "WHERE id = ? AND version = ?", so of
// two writers racing with the same expected version exactly one wins and
// the other gets [ErrVersionMismatch].
//
// A resource that does not exist is [ErrNotFound] whatever the
// precondition: SCIM clients expect 404 for a deleted resource.
type Precondition struct {
	// IfVersion lists the acceptable versions; the write goes ahead when
	// the current version is any of them. Empty accepts any version
	// (If-Match: *, or no If-Match at all).
	IfVersion []int64
}

// holds reports whether every precondition of pre accepts version.
func holds(pre []Precondition, version int64) bool {
	for _, p := range pre {
		if len(p.IfVersion) > 0 && !slices.Contains(p.IfVersion, version) {
			return false
		}
	}
	return true
}

// Timestamps are kept at whole seconds: SCIM clients see meta.created and
// meta.lastModified at that precision, and a filter such as
// `meta.lastModified gt "<a value the client was given>"` must mean exactly
// what it says. Version numbers, not timestamps, detect change.
const timePrecision = time.Second

// User is a SCIM User as stored.
//
// Attributes is the whole resource as validated by the SCIM layer, with
// canonical attribute names, minus what the server owns (id, meta, schemas,
// groups). The store derives its indexed columns (userName, externalId,
// displayName, active) from it on every write, so the two cannot disagree.
//
// Version starts at 1 and grows by one with every write of the user's own
// attributes; it is the user's ETag. It does not change when only the
// computed Groups changes (a group gains or loses the user): bumping every
// member's version would make adding one member to a group cost as much as
// the group is large, and Groups is readOnly, so no client can lose an
// update to it. A client that caches a user by ETag must re-read groups
// from the Groups endpoint, whose versions do change with membership.
type User struct {
	ID           string
	Version      int64
	Created      time.Time
	LastModified time.Time
	Attributes   map[string]any

	// Groups is computed on read from the membership table; it is ignored on write.
	Groups []GroupRef
}

// UserName returns the userName attribute ("" when absent).
func (u *User) UserName() string { return stringAttr(u.Attributes, "userName") }

// Active reports the active attribute; an absent attribute counts as active,
// as RFC 7643 leaves it to the service provider and IdPs assume it.
func (u *User) Active() bool {
	b, ok := u.Attributes["active"].(bool)
	return !ok || b
}

// GroupRef is one entry of a user's computed groups attribute.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Group is a SCIM Group as stored.
//
// Attributes holds the resource minus id, meta, schemas and members; the
// store derives displayName and externalId columns from it. Members live in
// their own table: on create they are the initial members; on read they are
// filled only when asked for (see [GroupOptions]).
//
// Version grows by one with every write of the group, membership changes
// included (from either side: a deleted user's groups get a new version too).
type Group struct {
	ID           string
	Version      int64
	Created      time.Time
	LastModified time.Time
	Attributes   map[string]any
	Members      []Member
}

// DisplayName returns the displayName attribute ("" when absent).
func (g *Group) DisplayName() string { return stringAttr(g.Attributes, "displayName") }

// Member is one member of a group. Only users can be members; Display is
// computed on read (the user's displayName, else its userName).
type Member struct {
	Value   string // the member user's id
	Display string
}

// MemberChanges says how an update changes a group's membership without the
// caller having to read it: adding or removing one member costs the same in a
// group of 100,000 as in a group of ten.
//
// Replace, when true, removes every current member first. Then Remove is
// applied, then Add. Adding a present member or removing an absent one is not
// an error: repeated PATCH requests are harmless.
type MemberChanges struct {
	Replace bool
	Remove  []string
	Add     []string
}

// GroupOptions tunes group reads.
type GroupOptions struct {
	// WithMembers loads Members. Leave it false when the client excluded
	// members: a group of 100,000 then costs one row.
	WithMembers bool
}

// ListQuery selects a page of users or groups.
type ListQuery struct {
	// Filter restricts the result; nil selects everything.
	Filter Cond
	// StartIndex is 1-based, as in SCIM; values below 1 mean 1.
	StartIndex int
	// Count is the page size; 0 asks for totalResults alone.
	Count int
	// Sort orders the matches; nil orders them by id.
	Sort *Sort
}

// Page is one page of a list, with the number of matches in all pages.
type Page[T any] struct {
	Total     int
	Resources []T
}

// Token is an API bearer token. The secret itself is never stored; Hash is
// its SHA-256 (secrets are 256 random bits, so a slow hash would add nothing).
type Token struct {
	Name     string
	Scopes   []string
	Hash     []byte
	Created  time.Time
	LastUsed time.Time // zero when never used
}

// Event is one audit record.
type Event struct {
	ID            int64 // assigned by the store
	Time          time.Time
	CorrelationID string
	Actor         string // token name or OIDC subject
	Action        string // e.g. "user.create", "group.patch"
	ResourceType  string // "User", "Group", "Token"
	ResourceID    string // filled in by Create methods
	Outcome       string // "success" or "failure"
	Status        int    // HTTP status answered, when there was a request
	// Summary says what changed, for people. It must never hold a secret or
	// password; callers redact before they build it.
	Summary string
}

// Outcomes of an audited operation.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditQuery selects audit events, newest first. Set fields are ANDed.
type AuditQuery struct {
	CorrelationID string
	ResourceID    string
	Actor         string
	Action        string    // e.g. "user.patch", "enrollment.enroll"
	ResourceType  string    // "User", "Group", "Bundle", ...
	Outcome       string    // OutcomeSuccess or OutcomeFailure
	Since         time.Time // inclusive; zero: no lower bound
	Until         time.Time // exclusive; zero: no upper bound
	// BeforeID pages backwards: only events with a smaller ID (pass the
	// last ID of the previous page). 0: no bound.
	BeforeID int64
	Limit    int // 0: a default of 100
}

func stringAttr(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}
