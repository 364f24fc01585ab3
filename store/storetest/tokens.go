package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func testTokens(t *testing.T, s *store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	ci := store.Token{Name: "ci", Scopes: []string{"scim:read", "scim:write"}, Hash: hash("s1")}
	wantNoErr(t, "CreateToken", s.CreateToken(ctx, ci, event("token.create")))
	wantNoErr(t, "CreateToken", s.CreateToken(ctx, store.Token{Name: "audit", Scopes: []string{"audit:read"}, Hash: hash("s2")}, event("token.create")))
	wantNoErr(t, "CreateToken without scopes", s.CreateToken(ctx, store.Token{Name: "none", Hash: hash("s3")}, event("token.create")))

	err := s.CreateToken(ctx, store.Token{Name: "ci", Hash: hash("other")}, event("token.create"))
	wantErr(t, "CreateToken with a taken name", err, store.ErrAlreadyExists)
	err = s.CreateToken(ctx, store.Token{Name: "fresh", Hash: hash("s1")}, event("token.create"))
	wantErr(t, "CreateToken with a secret in use", err, store.ErrAlreadyExists)
	for name, bad := range map[string]store.Token{
		"empty name":      {Hash: hash("x")},
		"no hash":         {Name: "x"},
		"comma in scope":  {Name: "x", Hash: hash("x"), Scopes: []string{"a,b"}},
		"empty scope":     {Name: "x", Hash: hash("x"), Scopes: []string{""}},
		"NUL in the name": {Name: "x\x00", Hash: hash("x")},
	} {
		wantErr(t, "CreateToken: "+name, s.CreateToken(ctx, bad, event("token.create")), store.ErrInvalidValue)
	}

	got, err := s.TokenByHash(ctx, hash("s1"))
	wantNoErr(t, "TokenByHash", err)
	wantEqual(t, "name", got.Name, "ci")
	wantEqual(t, "scopes", got.Scopes, ci.Scopes)
	wantEqual(t, "hash", got.Hash, ci.Hash)
	if got.Created.Before(before) || !got.LastUsed.IsZero() {
		t.Errorf("Created %v, LastUsed %v: want now and zero", got.Created, got.LastUsed)
	}
	for _, h := range [][]byte{hash("unknown"), nil, {}} {
		_, err = s.TokenByHash(ctx, h)
		wantErr(t, "TokenByHash(unknown)", err, store.ErrNotFound)
	}

	list, err := s.ListTokens(ctx)
	wantNoErr(t, "ListTokens", err)
	var names []string
	for _, tok := range list {
		names = append(names, tok.Name)
		if tok.Hash != nil {
			t.Errorf("ListTokens returned the hash of %s", tok.Name)
		}
	}
	wantEqual(t, "token names, sorted", names, []string{"audit", "ci", "none"})
	wantEqual(t, "scopes of none", len(list[2].Scopes), 0)

	wantNoErr(t, "RevokeToken", s.RevokeToken(ctx, "ci", event("token.revoke")))
	_, err = s.TokenByHash(ctx, hash("s1"))
	wantErr(t, "TokenByHash after revoke", err, store.ErrNotFound)
	wantErr(t, "RevokeToken again", s.RevokeToken(ctx, "ci", event("token.revoke")), store.ErrNotFound)
	wantErr(t, "RevokeToken(NUL)", s.RevokeToken(ctx, "\x00", event("token.revoke")), store.ErrNotFound)

	evs := events(t, s, store.AuditQuery{ResourceID: "ci"})
	wantEqual(t, "events of token ci", len(evs), 2)
	wantEqual(t, "newest event", evs[0].Action, "token.revoke")
	wantEqual(t, "resource type", evs[1].ResourceType, "Token")
}

func testEnsureToken(t *testing.T, s *store.Store) {
	ctx := t.Context()
	boot := store.Token{Name: "bootstrap", Scopes: []string{"scim:read"}, Hash: hash("one")}
	wantNoErr(t, "EnsureToken (insert)", s.EnsureToken(ctx, boot))
	wantNoErr(t, "EnsureToken (unchanged)", s.EnsureToken(ctx, boot))
	wantEqual(t, "audit events for an unchanged token", len(events(t, s, store.AuditQuery{ResourceID: "bootstrap"})), 1)

	boot.Hash, boot.Scopes = hash("two"), []string{"scim:read", "admin:write"}
	wantNoErr(t, "EnsureToken (update)", s.EnsureToken(ctx, boot))
	_, err := s.TokenByHash(ctx, hash("one"))
	wantErr(t, "old secret", err, store.ErrNotFound)
	got, err := s.TokenByHash(ctx, hash("two"))
	wantNoErr(t, "new secret", err)
	wantEqual(t, "scopes", got.Scopes, boot.Scopes)
	evs := events(t, s, store.AuditQuery{ResourceID: "bootstrap"})
	wantEqual(t, "audit events", len(evs), 2)
	wantEqual(t, "action", evs[0].Action, "token.ensure")

	wantNoErr(t, "CreateToken", s.CreateToken(ctx, store.Token{Name: "other", Hash: hash("three")}, event("token.create")))
	err = s.EnsureToken(ctx, store.Token{Name: "bootstrap", Hash: hash("three")})
	wantErr(t, "EnsureToken with another token's secret", err, store.ErrAlreadyExists)
}
