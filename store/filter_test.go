package store

import (
	"strings"
	"testing"
	"time"
)

// Every value, and every JSON key, reaches the database as a bind argument:
// the SQL text holds none of them, and placeholders match arguments.
func TestRenderBindsEveryValue(t *testing.T) {
	const evil = `x' OR '1'='1' --`
	const evilKey = `k' || sqlite_version() || '`
	cond := And{
		Compare{Field: Field{Column: "user_name"}, Op: OpEq, Value: evil},
		Compare{Field: Field{Column: "user_name"}, Op: OpCo, Value: evil + "%_", CaseExact: true},
		Compare{Field: Field{Column: "user_name"}, Op: OpEw, Value: evil, CaseExact: true},
		Compare{Field: Field{Path: []string{evilKey, "urn:x:y:2.0:User"}}, Op: OpNe, Value: evil},
		Compare{Field: Field{Path: []string{evilKey}}, Op: OpGt, Kind: KindNumber, Value: 1.5},
		Compare{Field: Field{Path: []string{evilKey}}, Op: OpEq, Kind: KindBoolean, Value: true},
		Compare{Field: Field{Column: "created"}, Op: OpLt, Kind: KindDateTime, Value: time.Now()},
		Not{Cond: Present{Field: Field{Path: []string{evilKey}}}},
		AnyOf{Path: []string{evilKey}, Where: Or{
			Compare{Field: Field{Path: []string{evilKey}}, Op: OpSw, Value: evil},
			AnyOf{Path: []string{evilKey}, Where: Compare{Op: OpEq, Value: evil}},
		}},
		InGroup{GroupID: evil},
	}
	for _, d := range []dialect{sqliteDialect{}, postgresDialect{}} {
		t.Run(d.name(), func(t *testing.T) {
			b, err := renderWhere(d, usersTable, cond)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			sql := b.String()
			for _, leak := range []string{"OR '1'", "sqlite_version", "urn:x:y"} {
				if strings.Contains(sql, leak) {
					t.Errorf("SQL holds %q:\n%s", leak, sql)
				}
			}
			if n := strings.Count(sql, "?"); n != len(b.args) {
				t.Errorf("%d placeholders, %d arguments:\n%s", n, len(b.args), sql)
			}
		})
	}
}

func TestLikePattern(t *testing.T) {
	for _, tc := range []struct {
		op   Op
		in   string
		want string
	}{
		{OpCo, `a%b_c\d`, `%a\%b\_c\\d%`},
		{OpSw, `50%`, `50\%%`},
		{OpEw, `_x`, `%\_x`},
		{OpCo, ``, `%%`},
	} {
		if got := likePattern(tc.op, tc.in); got != tc.want {
			t.Errorf("likePattern(%s, %q) = %q, want %q", tc.op, tc.in, got, tc.want)
		}
	}
}
