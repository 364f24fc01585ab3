package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// tokenRow is a tokens row as read.
type tokenRow struct {
	Name     string `db:"name"`
	Hash     []byte `db:"hash"`
	Scopes   string `db:"scopes"`
	Created  dbTime `db:"created"`
	LastUsed dbTime `db:"last_used"`
}

func (r tokenRow) token() Token {
	t := Token{Name: r.Name, Hash: r.Hash, Created: r.Created.Time, LastUsed: r.LastUsed.Time}
	if r.Scopes != "" {
		t.Scopes = strings.Split(r.Scopes, ",")
	}
	return t
}

// checkToken validates t for writing and returns its scopes column.
func checkToken(t Token) (string, error) {
	if t.Name == "" || !validText(t.Name) {
		return "", fmt.Errorf("%w: a token name must be non-empty UTF-8 text", ErrInvalidValue)
	}
	if len(t.Hash) == 0 {
		return "", fmt.Errorf("%w: token %q has no hash", ErrInvalidValue, t.Name)
	}
	for _, sc := range t.Scopes {
		if sc == "" || strings.Contains(sc, ",") || !validText(sc) {
			return "", fmt.Errorf("%w: scope %q", ErrInvalidValue, cleanText(sc))
		}
	}
	return strings.Join(t.Scopes, ","), nil
}

// CreateToken stores a new token (Created = now) and its audit event. A
// name already taken is [ErrAlreadyExists], and so is a secret already in
// use by another token.
func (s *Store) CreateToken(ctx context.Context, t Token, ev Event) error {
	scopes, err := checkToken(t)
	if err != nil {
		return err
	}
	now := s.resourceTime()
	err = s.inTx(ctx, func(tx *storeTx) error {
		n, err := exec(ctx, tx, `INSERT INTO tokens (name, hash, scopes, created) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, t.Name, t.Hash, scopes, s.d.timeArg(now))
		if s.d.isUniqueViolation(err) { // the name is free: the hash is not
			return fmt.Errorf("%w: token secret", ErrAlreadyExists)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return alreadyExists("token", t.Name)
		}
		ev = s.stamp(ev, "Token", t.Name)
		ev.ResourceID = t.Name
		return s.insertEvent(ctx, tx, ev)
	})
	return opError("create token", err)
}

// EnsureToken makes a token named t.Name exist with t's hash and scopes:
// it inserts it, or updates the hash and scopes of the token of that name.
// It serves bootstrap (ONRAMP_BOOTSTRAP_TOKEN) and is idempotent. When it
// changes anything it records a "token.ensure" audit event with actor
// "system".
func (s *Store) EnsureToken(ctx context.Context, t Token) error {
	scopes, err := checkToken(t)
	if err != nil {
		return err
	}
	now := s.resourceTime()
	err = s.inTx(ctx, func(tx *storeTx) error {
		n, err := exec(ctx, tx, `INSERT INTO tokens (name, hash, scopes, created) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, scopes = excluded.scopes
			WHERE tokens.hash <> excluded.hash OR tokens.scopes <> excluded.scopes`,
			t.Name, t.Hash, scopes, s.d.timeArg(now))
		if s.d.isUniqueViolation(err) {
			return fmt.Errorf("%w: token secret", ErrAlreadyExists)
		}
		if err != nil || n == 0 {
			return err
		}
		return s.insertEvent(ctx, tx, s.stamp(Event{
			Actor: "system", Action: "token.ensure", Summary: "bootstrap token ensured, scopes " + scopes,
		}, "Token", t.Name))
	})
	return opError("ensure token", err)
}

// TokenByHash returns the token whose secret hashes to hash, or [ErrNotFound].
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	if len(hash) == 0 {
		return Token{}, fmt.Errorf("%w: token", ErrNotFound)
	}
	var row tokenRow
	err := get(ctx, s.pool, &row, `SELECT name, hash, scopes, created, last_used FROM tokens WHERE hash = ?`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: token", ErrNotFound)
	}
	if err != nil {
		return Token{}, opError("token by hash", err)
	}
	return row.token(), nil
}

// ListTokens returns every token ordered by name, without hashes.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	var rows []tokenRow
	err := selectAll(ctx, s.pool, &rows, `SELECT name, scopes, created, last_used FROM tokens ORDER BY name`)
	if err != nil {
		return nil, opError("list tokens", err)
	}
	tokens := make([]Token, len(rows))
	for i, r := range rows {
		tokens[i] = r.token()
	}
	return tokens, nil
}

// RevokeToken deletes the token name, or returns [ErrNotFound].
func (s *Store) RevokeToken(ctx context.Context, name string, ev Event) error {
	if !validText(name) {
		return notFound("token", name)
	}
	err := s.inTx(ctx, func(tx *storeTx) error {
		n, err := exec(ctx, tx, `DELETE FROM tokens WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("token", name)
		}
		return s.insertEvent(ctx, tx, s.stamp(ev, "Token", name))
	})
	return opError("revoke token", err)
}
