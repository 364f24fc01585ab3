package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// SeedUsers inserts n users named prefix-0 ... prefix-(n-1) straight into
// the database at databaseURL, many rows per statement in one transaction,
// and returns their ids. It is for benchmarks that need 100,000 users in
// seconds, which one audited transaction per user (Store.CreateUser, with
// every commit durable) cannot give.
//
// It writes the users table as migrations/*/00001_init.sql defines it and
// the store writes it, for users whose userName is lower-case ASCII (so
// that its case-folded key is itself); prefix must be such. Nothing else
// may rely on it.
func SeedUsers(tb testing.TB, databaseURL, prefix string, n int) []string {
	tb.Helper()
	if prefix != strings.ToLower(prefix) {
		tb.Fatalf("SeedUsers: prefix %q is not lower case", prefix)
	}
	ctx := context.WithoutCancel(tb.Context())
	driver, dsn, now := "postgres", databaseURL, any(time.Now().UTC().Truncate(time.Second))
	if path, ok := strings.CutPrefix(databaseURL, "sqlite:"); ok {
		driver, dsn = "sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
		now = time.Now().UTC().Truncate(time.Second).Format("2006-01-02T15:04:05.000000Z")
	}
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		tb.Fatalf("SeedUsers: open: %v", err)
	}
	defer db.Close()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		tb.Fatalf("SeedUsers: begin: %v", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	ids := make([]string, n)
	const perStmt = 100
	for start := 0; start < n; start += perStmt {
		var sb strings.Builder
		var args []any
		sb.WriteString("INSERT INTO users (id, user_name, user_name_key, active, version, created, last_modified, data) VALUES ")
		for i := start; i < min(n, start+perStmt); i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, 1, ?, ?, ?)")
			ids[i] = newUUID(tb)
			name := fmt.Sprintf("%s-%d", prefix, i)
			args = append(args, ids[i], name, name, true, now, now, `{"userName":"`+name+`"}`)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(sb.String()), args...); err != nil {
			tb.Fatalf("SeedUsers: insert: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatalf("SeedUsers: commit: %v", err)
	}
	return ids
}

// newUUID returns a random (version 4) UUID in its usual text form.
func newUUID(tb testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
