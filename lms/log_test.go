package lms_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/reqctx"
)

func TestLogWritesOneJSONLine(t *testing.T) {
	t.Parallel()
	var out hookLogBuffer
	// The handler the server uses, which adds a context's correlation id:
	// the line must still carry the key once, with the delivery's id.
	logger := slog.New(reqctx.LogHandler(slog.NewJSONHandler(&out, nil)))
	conn, err := lms.New(lms.Spec{Name: "demo", Type: "log"}, lms.Deps{Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d := hookDelivery(lms.OpSuspend)
	ctx := reqctx.WithCorrelationID(t.Context(), "job-context-id")
	if err := conn.Deliver(ctx, d); err != nil {
		t.Fatalf("Deliver: %v", err)
	}

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(lines), out.String())
	}
	if n := strings.Count(lines[0], `"correlation_id"`); n != 1 {
		t.Errorf("correlation_id appears %d times, want once: %s", n, lines[0])
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, lines[0])
	}
	want := map[string]string{
		"level":          "INFO",
		"msg":            "lms delivery",
		"connector":      "demo",
		"op":             "suspend",
		"delivery_id":    d.ID,
		"correlation_id": d.CorrelationID,
		"user_id":        d.User.ID,
		"user_name":      d.User.UserName,
		"external_id":    d.User.ExternalID,
		"course":         d.Course,
		"bundle":         d.Bundle,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
	if _, ok := got["email"]; ok {
		t.Errorf("log line carries the email address: %s", lines[0])
	}
}

func TestLogWithoutLogger(t *testing.T) {
	t.Parallel()
	conn, err := lms.New(lms.Spec{Name: "quiet", Type: "log"}, lms.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Deliver(t.Context(), hookDelivery(lms.OpEnroll)); err != nil {
		t.Errorf("Deliver: %v", err)
	}
}
