package store

import "strings"

// sqlBuf accumulates an SQL statement written with ? placeholders and the
// arguments for them, in order. Values only ever enter through arg.
type sqlBuf struct {
	sb   strings.Builder
	args []any
}

// sql appends SQL text, which must come from the program, never from input.
func (b *sqlBuf) sql(s string) { b.sb.WriteString(s) }

// arg appends a placeholder bound to v.
func (b *sqlBuf) arg(v any) {
	b.sb.WriteByte('?')
	b.args = append(b.args, v)
}

// list appends "?, ?, ..." bound to vs.
func (b *sqlBuf) list(vs []string) {
	for i, v := range vs {
		if i > 0 {
			b.sql(", ")
		}
		b.arg(v)
	}
}

// String returns the SQL text written so far.
func (b *sqlBuf) String() string { return b.sb.String() }
