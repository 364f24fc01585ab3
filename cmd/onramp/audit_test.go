package main

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {
		b.createToken(t, "okta", "scim:read")
		b.createToken(t, "auditor", "audit:read")
		b.mustRun(t, "token", "revoke", "okta")

		// One JSON object per line, snake_case keys, newest first.
		r := b.mustRun(t, "audit", "--json")
		var all []map[string]any
		for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q is not JSON: %v", line, err)
			}
			all = append(all, m)
		}
		if len(all) != 3 {
			t.Fatalf("want 3 events, got %d:\n%s", len(all), r.stdout)
		}
		wantKeys := []string{"action", "actor", "correlation_id", "outcome", "resource_id", "resource_type", "status", "summary", "time"}
		var keys []string
		for k := range all[0] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("JSON keys %v, want %v", keys, wantKeys)
		}
		if all[0]["action"] != "token.revoke" || all[0]["resource_id"] != "okta" || all[2]["resource_id"] != "okta" {
			t.Errorf("events not newest first: %v", all)
		}
		if _, err := time.Parse(time.RFC3339, all[0]["time"].(string)); err != nil {
			t.Errorf("time %q: %v", all[0]["time"], err)
		}
		corr := all[1]["correlation_id"].(string)

		tests := []struct {
			name      string
			args      []string
			wantLines int
			want      []string // in stdout
		}{
			{"all", nil, 3, []string{"token.revoke", "token.create", "success -", "cli", "Token okta", "corr=" + corr}},
			{"by resource", []string{"--resource-id", "okta"}, 2, []string{"revoked token okta", "created token okta"}},
			{"by correlation id", []string{"--correlation-id", corr}, 1, []string{"created token auditor with scopes audit:read"}},
			{"since a duration", []string{"--since", "1h"}, 3, nil},
			{"since a time", []string{"--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 3, nil},
			{"since the future", []string{"--since", "2999-01-01T00:00:00Z"}, 0, nil},
			{"until the past", []string{"--until", "2000-01-01T00:00:00Z"}, 0, nil},
			{"until now", []string{"--since", "1h", "--until", "0s"}, 3, nil},
			{"by actor", []string{"--actor", "cli"}, 3, nil},
			{"by another actor", []string{"--actor", "okta"}, 0, nil},
			{"limit", []string{"--limit", "1"}, 1, []string{"token.revoke"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := b.mustRun(t, append([]string{"audit"}, tt.args...)...)
				lines := 0
				if r.stdout != "" {
					lines = strings.Count(r.stdout, "\n")
				}
				if lines != tt.wantLines {
					t.Errorf("%d lines, want %d:\n%s", lines, tt.wantLines, r.stdout)
				}
				for _, w := range tt.want {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("output does not contain %q:\n%s", w, r.stdout)
					}
				}
				if tt.wantLines == 0 && !strings.Contains(r.stderr, "No audit events") {
					t.Errorf("stderr %q", r.stderr)
				}
			})
		}
	})
}

func TestWriteEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 29, 19, 40, 1, 0, time.UTC)
	events := []store.Event{
		{Time: at, CorrelationID: "abc", Actor: "bootstrap", Action: "user.create", ResourceType: "User",
			ResourceID: "0193", Outcome: "success", Status: 201, Summary: "created user alice@example.com"},
		{Time: at, CorrelationID: "def", Actor: "okta", Action: "user.patch", ResourceType: "User",
			ResourceID: "0194", Outcome: "failure", Status: 400, Summary: "display name \"x\nFAKE LINE\"\t"},
	}
	var buf bytes.Buffer
	if err := writeEvents(&buf, events); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("a summary with a newline broke the one-line-per-event rule:\n%s", buf.String())
	}
	want := []string{"2026-11-29T19:40:01Z", "success 201", "bootstrap", "user.create", "User 0193", "corr=abc", "created user alice@example.com"}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Errorf("line %q does not contain %q", lines[0], w)
		}
	}
	if !strings.Contains(lines[1], `"display name \"x\nFAKE LINE\"\t"`) {
		t.Errorf("control characters not quoted: %q", lines[1])
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"1h", now.Add(-time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"2026-11-28T10:00:00Z", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), false},
		{"2026-11-28T10:00:00+02:00", time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC), false},
		{"-1h", time.Time{}, true},
		{"2026-11-28", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in, now)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// BenchmarkWriteEvents measures printing a large audit listing (the most
// --limit allows), in both forms.
func BenchmarkWriteEvents(b *testing.B) {
	events := make([]store.Event, maxAuditLimit)
	at := time.Date(2026, 11, 29, 19, 40, 1, 0, time.UTC)
	for i := range events {
		events[i] = store.Event{Time: at, CorrelationID: "4f1c0d9e8b7a6f5e4d3c2b1a09f8e7d6", Actor: "okta",
			Action: "user.patch", ResourceType: "User", ResourceID: "01a228cb-d8f9-783a-8aa9-f50d51079b68",
			Outcome: "success", Status: 200, Summary: "replaced name.givenName, active"}
	}
	for _, bb := range []struct {
		name  string
		write func(io.Writer, []store.Event) error
	}{{"text", writeEvents}, {"json", writeEventsJSON}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				if err := bb.write(io.Discard, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
		})
	}
}
