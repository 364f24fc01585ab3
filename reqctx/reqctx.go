// Package reqctx carries per-request facts through a context: the
// correlation id and the authenticated principal. It is a leaf package so
// that HTTP middleware (which sets them), the SCIM handlers and jobs (which
// read them) and the logger (which prints them) share one key without import
// cycles.
//
// Who sets what: server's correlation middleware calls WithCorrelationID for
// every request; server's auth middleware calls WithPrincipal once a bearer
// token is verified. Everything else only reads.
package reqctx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
)

type correlationKey struct{}
type principalKey struct{}

// Principal is who made a request.
type Principal struct {
	// Name is the token name or OIDC subject; it appears in audit events as the actor.
	Name   string
	Scopes []string
}

// HasScope reports whether p was granted scope.
func (p Principal) HasScope(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// WithCorrelationID returns ctx carrying id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the id carried by ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal carried by ctx and whether there is one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// wellFormed accepts the ids that clients and proxies commonly send (UUIDs,
// ULIDs, hex or base64url request ids) and nothing that could smuggle text
// into logs, audit rows or LMS payloads.
var wellFormed = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ValidCorrelationID reports whether a client-sent id may be adopted.
func ValidCorrelationID(id string) bool { return wellFormed.MatchString(id) }

// NewCorrelationID mints a random id: 32 lower-case hex digits.
func NewCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
