package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Scopes a token can carry (DESIGN.md).
const (
	ScopeSCIMRead   = "scim:read"
	ScopeSCIMWrite  = "scim:write"
	ScopeAdminRead  = "admin:read"
	ScopeAdminWrite = "admin:write"
	ScopeAuditRead  = "audit:read"
)

// AllScopes lists every scope, in a stable order.
func AllScopes() []string {
	return []string{ScopeSCIMRead, ScopeSCIMWrite, ScopeAdminRead, ScopeAdminWrite, ScopeAuditRead}
}

// ParseScopes splits a comma-separated scope list and rejects unknown scopes,
// so a typo cannot create a token that silently grants nothing.
func ParseScopes(list string) ([]string, error) {
	known := make(map[string]bool)
	for _, s := range AllScopes() {
		known[s] = true
	}
	var scopes []string
	seen := make(map[string]bool)
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		if !known[s] {
			return nil, fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(AllScopes(), ", "))
		}
		seen[s] = true
		scopes = append(scopes, s)
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf("no scopes given (known: %s)", strings.Join(AllScopes(), ", "))
	}
	return scopes, nil
}

// tokenPrefix marks Onramp secrets so that secret scanners can find leaked ones.
const tokenPrefix = "onr_"

// NewTokenSecret returns a fresh bearer secret: 256 random bits, base64url.
func NewTokenSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashTokenSecret is what the store keeps of a secret. SHA-256 suffices:
// secrets are random, not passwords, so there is nothing to brute-force.
func HashTokenSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
