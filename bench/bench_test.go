package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(d, tc.q); got != tc.want {
			t.Errorf("percentile(1..100 ms, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(empty) = %v, want 0", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile(one) = %v, want 7", got)
	}
}

func TestRunStopsAtCount(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	seen := make([]atomic.Bool, 100)
	r := run(t.Context(), runSpec{workers: 8, maxOps: 100, duration: time.Minute}, func(_ context.Context, i int, _ *rand.Rand) error {
		calls.Add(1)
		if seen[i].Swap(true) {
			t.Errorf("operation %d ran twice", i)
		}
		if i%10 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	if calls.Load() != 100 || r.ops != 100 || r.errors != 10 || len(r.latencies) != 90 {
		t.Errorf("calls %d, ops %d, errors %d, latencies %d; want 100, 100, 10, 90", calls.Load(), r.ops, r.errors, len(r.latencies))
	}
	if r.timedOut {
		t.Error("timedOut set on a run that reached its count")
	}
	if len(r.firstErrs) != 1 || r.firstErrs[0] != "boom" {
		t.Errorf("firstErrs = %q, want one \"boom\"", r.firstErrs)
	}
}

func TestRunStopsAtDeadline(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r := run(t.Context(), runSpec{workers: 4, maxOps: 1 << 30, duration: 100 * time.Millisecond}, func(ctx context.Context, _ int, _ *rand.Rand) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("run took %v with a 100ms deadline", el)
	}
	if !r.timedOut || r.ops == 0 || r.errors != 0 {
		t.Errorf("timedOut %v, ops %d, errors %d; want true, > 0, 0", r.timedOut, r.ops, r.errors)
	}
	if rate := r.rate(); rate <= 0 {
		t.Errorf("rate %v, want > 0", rate)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	r := run(ctx, runSpec{workers: 2, maxOps: 1 << 30, duration: time.Hour}, func(ctx context.Context, i int, _ *rand.Rand) error {
		if i == 10 {
			cancel()
		}
		return nil
	})
	if r.ops < 10 || r.ops > 1000 {
		t.Errorf("ops %d after cancel at 10", r.ops)
	}
}

func TestSplitBulk(t *testing.T) {
	t.Parallel()
	ops := make([]json.RawMessage, 10)
	for i := range ops {
		ops[i] = json.RawMessage(strings.Repeat("x", 100))
	}
	for _, tc := range []struct {
		name     string
		maxOps   int
		maxBytes int64
		want     []int
	}{
		{"no limits", 0, 0, []int{10}},
		{"maxOperations", 4, 0, []int{4, 4, 2}},
		{"maxPayloadSize", 0, 200 + 3*101, []int{3, 3, 3, 1}},
		{"both", 2, 200 + 3*101, []int{2, 2, 2, 2, 2}},
		{"one op larger than the limit still goes", 0, 50, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	} {
		got := splitBulk(ops, tc.maxOps, tc.maxBytes)
		var sizes []int
		for _, b := range got {
			sizes = append(sizes, len(b))
		}
		if !equalInts(sizes, tc.want) {
			t.Errorf("%s: batches %v, want %v", tc.name, sizes, tc.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJSONInt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		doc  string
		key  string
		want int
		ok   bool
	}{
		{`{"schemas":[],"totalResults":1,"Resources":[]}`, "totalResults", 1, true},
		{`{"totalResults" : 100000 }`, "totalResults", 100000, true},
		{"{\n  \"itemsPerPage\": 100,\n}", "itemsPerPage", 100, true},
		{`{"totalResults":"1"}`, "totalResults", 0, false},
		{`{"other":1}`, "totalResults", 0, false},
	} {
		got, ok := jsonInt([]byte(tc.doc), tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("jsonInt(%s, %s) = %d, %v; want %d, %v", tc.doc, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	m, err := parseStatus("Name:\tonramp\nVmPeak:\t  900000 kB\nVmHWM:\t   153600 kB\nVmRSS:\t   102400 kB\nThreads:\t9\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSMB != 100 || m.PeakMB != 150 {
		t.Errorf("RSS %v MB, peak %v MB; want 100, 150", m.RSSMB, m.PeakMB)
	}
	if _, err := parseStatus("Name:\tx\nVmRSS:\t1 kB\n"); err == nil {
		t.Error("no error without VmHWM")
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:80": true, "10.0.0.1:80": false, "0.0.0.0:80": false, "example.com:80": false,
	} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	db := &dbResult{
		Name: "sqlite", Population: 100000,
		Steps: []stepResult{
			{Key: "create_seq", PerSec: 1500},
			{Key: "get", PerSec: 16000},
			{Key: "filter", PerSec: 5000},
			{Key: "member_add_1000", Ops: 200, P50ms: 2},
			{Key: "member_add_10000", Ops: 200, P50ms: 2.5},
			{Key: "member_add_100000", Ops: 200, P50ms: 4},
		},
		Memory: &memResult{memory: memory{RSSMB: 120, PeakMB: 160}},
	}
	judge(db)
	want := map[string]string{
		"create_seq":        "missed by 25%",
		"get":               "met",
		"filter":            "missed by 50%",
		"member_add_100000": "missed by 33% (2.00x)",
	}
	for _, s := range db.Steps {
		got := s.Target.String()
		if got != want[s.Key] {
			t.Errorf("%s: verdict %q, want %q", s.Key, got, want[s.Key])
		}
	}
	if got := db.Memory.Target.String(); got != "met" {
		t.Errorf("RSS verdict %q, want met", got)
	}

	small := &dbResult{Name: "sqlite", Population: 5000, Steps: []stepResult{{Key: "get", PerSec: 20000}}}
	judge(small)
	if c := small.Steps[0].Target.Caveat; !strings.Contains(c, "100k") {
		t.Errorf("caveat %q does not say the target is at 100k users", c)
	}
}

func TestPrintTable(t *testing.T) {
	t.Parallel()
	db := &dbResult{Name: "sqlite", Title: "SQLite", Population: 10, Steps: []stepResult{
		{Key: "get", Name: "GET /Users/{id}", Clients: 16, Ops: 100, PerSec: 50, P50ms: 1, P99ms: 2},
		{Key: "bulk", Name: "Bulk load of 10000 users", Skipped: "not supported by this build (/ServiceProviderConfig bulk.supported is false)"},
	}, Memory: &memResult{memory: memory{RSSMB: 40, PeakMB: 50}}}
	judge(db)
	var buf bytes.Buffer
	printTable(&buf, header{CPUs: 2, GOMAXPROCS: 2, GoVersion: "go1.26"}, db)
	out := buf.String()
	for _, want := range []string{"== SQLite ==", "2 CPUs", "share", "GET /Users/{id}", ">= 15,000/s", "missed by 100%", "not supported by this build", "server RSS at end (peak 50 MB)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var skipped bytes.Buffer
	printTable(&skipped, header{}, &dbResult{Title: "PostgreSQL", Skipped: "no server"})
	if !strings.Contains(skipped.String(), "PostgreSQL was skipped") {
		t.Errorf("skipped table: %s", skipped.String())
	}
}

func TestLogTail(t *testing.T) {
	t.Parallel()
	var l logTail
	l.consume(strings.NewReader(`{"level":"INFO","msg":"database ready"}
{"level":"INFO","msg":"listening","addr":"127.0.0.1:4242"}
{"level":"ERROR","msg":"boom"}
not json
`))
	if l.listenAddr() != "127.0.0.1:4242" || l.lines != 4 || l.problems != 2 {
		t.Errorf("addr %q, lines %d, problems %d; want 127.0.0.1:4242, 4, 2", l.listenAddr(), l.lines, l.problems)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	o := options{bin: "/nonexistent/onramp", dbs: "sqlite,mysql", cfg: config{users: 0}}
	err := o.validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"mysql", "make build", "positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := parseSizes("1000, 10_000,100000"); err != nil {
		t.Error(err)
	}
	if _, err := parseSizes("1k"); err == nil {
		t.Error("parseSizes(1k): no error")
	}
}

func TestRedactArgs(t *testing.T) {
	t.Parallel()
	got := redactArgs([]string{"--postgres", "postgres://u:secret@h/db", "--postgres=postgres://u:secret@h/db", "--quick"})
	for _, a := range got {
		if strings.Contains(a, "secret") {
			t.Errorf("redactArgs kept a password: %q", got)
		}
	}
	if got[3] != "--quick" || !strings.HasPrefix(got[2], "--postgres=postgres://u:") {
		t.Errorf("redactArgs = %q", got)
	}
}

// TestBulkAgainstFake checks the Bulk step's request, batching and
// counting against a fake endpoint (the real one may not exist yet).
func TestBulkAgainstFake(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/scim/v2/Bulk" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		var req struct {
			Schemas    []string
			Operations []struct {
				Method, Path, BulkID string
				Data                 map[string]any
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Schemas) != 1 || req.Schemas[0] != bulkReqURN {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		requests.Add(1)
		var ops []map[string]any
		for _, op := range req.Operations {
			status := "201"
			if op.Data["userName"] == userName("bulk", 4) {
				status = "409" // one conflict
			}
			ops = append(ops, map[string]any{"method": op.Method, "bulkId": op.BulkID, "status": status})
		}
		json.NewEncoder(w).Encode(map[string]any{"Operations": ops})
	}))
	defer srv.Close()
	c := newClient(srv.URL, "tok", 1, 10*time.Second)
	defer c.close()
	b := &bench{cfg: config{bulkUsers: 10, bulkTime: 10 * time.Second}, c: c, progress: t.Logf}
	var sp spc
	sp.Bulk.Supported, sp.Bulk.MaxOperations = true, 4
	s := b.bulk(t.Context(), sp)
	if s.Skipped != "" || s.Ops != 10 || s.Errors != 1 || requests.Load() != 3 {
		t.Errorf("ops %d, errors %d, requests %d, skipped %q; want 10, 1, 3, \"\"", s.Ops, s.Errors, requests.Load(), s.Skipped)
	}
	if !strings.Contains(s.Note, "3 requests") {
		t.Errorf("note %q does not say the load took 3 requests", s.Note)
	}

	sp.Bulk.Supported = false
	if s := b.bulk(t.Context(), sp); !strings.Contains(s.Skipped, "not supported by this build") {
		t.Errorf("unsupported Bulk: skipped = %q", s.Skipped)
	}
}
