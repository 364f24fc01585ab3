package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// config sizes a run. Every step is bounded by a count and by a deadline.
type config struct {
	users       int           // population for every step after the first
	seqTime     time.Duration // deadline of the sequential-create step
	fillTime    time.Duration // deadline for creating the rest of the population concurrently
	concurrency int           // clients of the concurrent steps
	duration    time.Duration // length of each timed step (GET, filter, list, PATCH)
	maxOps      int           // cap on the operations of one timed step
	bulkUsers   int           // users in the Bulk load
	bulkTime    time.Duration // deadline of the Bulk load
	groupSizes  []int         // members of each group in the member-add step
	chunk       int           // members per PATCH while building a group
	memberAdds  int           // single-member adds timed per group
	groupTime   time.Duration // deadline for building one group and timing its adds
	reqTimeout  time.Duration // per-request timeout
	memberQuery string        // query string of the timed member-add PATCH
}

// stepResult is one row of the report.
type stepResult struct {
	Key     string  `json:"key"`
	Name    string  `json:"name"`
	Clients int     `json:"clients,omitempty"`
	Ops     int     `json:"ops"`
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	// Offered is the rate a paced step offered (delivery phase).
	Offered float64 `json:"offered_per_sec,omitempty"`
	Note    string  `json:"note,omitempty"`
	Skipped string  `json:"skipped,omitempty"`
	// FirstErrors are the first distinct failures, when there were any.
	FirstErrors []string `json:"first_errors,omitempty"`
	Target      *verdict `json:"target,omitempty"`
	// RSSMB is the server's resident memory right after the step.
	RSSMB float64 `json:"rss_mb_after,omitempty"`
}

func fromResult(key, name string, clients int, r result) stepResult {
	s := stepResult{
		Key: key, Name: name, Clients: clients,
		Ops: r.ops, Errors: r.errors, Seconds: r.elapsed.Seconds(), PerSec: r.rate(),
		P50ms: ms(percentile(r.latencies, 50)), P99ms: ms(percentile(r.latencies, 99)),
		FirstErrors: r.firstErrs,
	}
	return s
}

// bench drives one server through every step.
type bench struct {
	cfg      config
	c        *client
	progress func(format string, args ...any)
	rss      func() float64 // the server's resident MB now; nil or 0 when unknown

	ids    []string // ids[i] is population member i's id, "" if its create failed
	pop    []int    // indices of ids that exist
	extras []string // users outside the population, added to groups one at a time
}

// population creates cfg.users users: one client until seqTime passes (the
// sequential figure), then cfg.concurrency clients for the rest.
func (b *bench) population(ctx context.Context) []stepResult {
	n := b.cfg.users
	b.ids = make([]string, n)
	var created atomic.Int64
	create := func(base int) opFunc {
		return func(ctx context.Context, i int, _ *rand.Rand) error {
			id, err := b.c.createUser(ctx, "u", base+i)
			if err == nil {
				b.ids[base+i] = id
				created.Add(1)
			}
			return err
		}
	}
	stop := b.every(15*time.Second, func() { b.progress("  %d of %d users created", created.Load(), n) })
	defer stop()
	b.progress("sequential creates: up to %d users, 1 client, at most %s", n, b.cfg.seqTime)
	seq := run(ctx, runSpec{workers: 1, maxOps: n, duration: b.cfg.seqTime}, create(0))
	out := []stepResult{fromResult("create_seq", "sequential creates (POST /Users)", 1, seq)}
	done := seq.ops
	if done < n && ctx.Err() == nil {
		out[0].Note = fmt.Sprintf("first %d of %d users, one client (%s deadline)", done, n, b.cfg.seqTime)
		b.progress("concurrent creates: the other %d users, %d clients, at most %s", n-done, b.cfg.concurrency, b.cfg.fillTime)
		fill := run(ctx, runSpec{workers: b.cfg.concurrency, maxOps: n - done, duration: b.cfg.fillTime}, create(done))
		s := fromResult("create_fill", "concurrent creates (rest of population)", b.cfg.concurrency, fill)
		s.Note = fmt.Sprintf("users %d..%d, %d clients", done+1, done+fill.ops, b.cfg.concurrency)
		out = append(out, s)
	}
	for i, id := range b.ids {
		if id != "" {
			b.pop = append(b.pop, i)
		}
	}
	if len(b.pop) < n {
		out[len(out)-1].Note += fmt.Sprintf("; population is %d users, not %d", len(b.pop), n)
	}
	return out
}

func (b *bench) rssNow() float64 {
	if b.rss == nil {
		return 0
	}
	return b.rss()
}

// every calls f every interval until the returned stop is called.
func (b *bench) every(interval time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// makeExtras creates the users that the member-add step adds one at a time.
func (b *bench) makeExtras(ctx context.Context, n int) error {
	b.extras = make([]string, n)
	r := run(ctx, runSpec{workers: b.cfg.concurrency, maxOps: n, duration: b.cfg.fillTime}, func(ctx context.Context, i int, _ *rand.Rand) error {
		id, err := b.c.createUser(ctx, "extra", i)
		b.extras[i] = id
		return err
	})
	if r.errors > 0 || r.ops < n {
		return fmt.Errorf("creating %d extra users: %d created, %d failed %v", n, r.ok(), r.errors, r.firstErrs)
	}
	return nil
}

// randomUser picks a population member.
func (b *bench) randomUser(rng *rand.Rand) int { return b.pop[rng.IntN(len(b.pop))] }

// timed runs op with cfg.concurrency clients for cfg.duration.
func (b *bench) timed(ctx context.Context, key, name string, op opFunc) stepResult {
	b.progress("%s: %d clients for %s", name, b.cfg.concurrency, b.cfg.duration)
	r := run(ctx, runSpec{workers: b.cfg.concurrency, maxOps: b.cfg.maxOps, duration: b.cfg.duration}, op)
	return fromResult(key, name, b.cfg.concurrency, r)
}

func (b *bench) getByID(ctx context.Context) stepResult {
	return b.timed(ctx, "get", "GET /Users/{id}", func(ctx context.Context, _ int, rng *rand.Rand) error {
		_, err := b.c.do(ctx, http.MethodGet, "/scim/v2/Users/"+b.ids[b.randomUser(rng)], nil, http.StatusOK)
		return err
	})
}

func (b *bench) filterEq(ctx context.Context) stepResult {
	return b.timed(ctx, "filter", `filter userName eq "..."`, func(ctx context.Context, _ int, rng *rand.Rand) error {
		name := userName("u", b.randomUser(rng))
		q := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "`+name+`"`)
		body, err := b.c.do(ctx, http.MethodGet, q, nil, http.StatusOK)
		if err != nil {
			return err
		}
		if n, ok := jsonInt(body, "totalResults"); !ok || n != 1 {
			return fmt.Errorf("filter userName eq: totalResults %d (found %v), want 1", n, ok)
		}
		return nil
	})
}

const pageSize = 100

func (b *bench) listPages(ctx context.Context) stepResult {
	// Only the population exists yet, so every startIndex up to last gets a full page.
	last := max(len(b.pop)-pageSize+1, 1)
	s := b.timed(ctx, "list", "list pages of 100 (random startIndex)", func(ctx context.Context, _ int, rng *rand.Rand) error {
		start := 1 + rng.IntN(last)
		body, err := b.c.do(ctx, http.MethodGet, "/scim/v2/Users?startIndex="+strconv.Itoa(start)+"&count="+strconv.Itoa(pageSize), nil, http.StatusOK)
		if err != nil {
			return err
		}
		if n, ok := jsonInt(body, "itemsPerPage"); !ok || n != min(pageSize, len(b.pop)) {
			return fmt.Errorf("list startIndex=%d: itemsPerPage %d (found %v), want %d", start, n, ok, min(pageSize, len(b.pop)))
		}
		return nil
	})
	return s
}

func (b *bench) patch(ctx context.Context) stepResult {
	s := b.timed(ctx, "patch", "PATCH /Users/{id} (replace displayName or active)", func(ctx context.Context, i int, rng *rand.Rand) error {
		u := b.randomUser(rng)
		var body map[string]any
		if i%2 == 0 {
			body = patchOp("replace", "displayName", fmt.Sprintf("Bench User %d (%d)", u, i))
		} else {
			body = patchOp("replace", "active", i%4 != 1) // mostly true; a quarter deactivate
		}
		raw, _ := json.Marshal(body)
		_, err := b.c.do(ctx, http.MethodPatch, "/scim/v2/Users/"+b.ids[u], raw, 0)
		return err
	})
	return s
}

// bulk loads cfg.bulkUsers new users through POST /Bulk, in one request
// unless the server's advertised limits forbid it.
func (b *bench) bulk(ctx context.Context, sp spc) stepResult {
	s := stepResult{Key: "bulk", Name: fmt.Sprintf("Bulk load of %d users", b.cfg.bulkUsers), Clients: 1}
	if !sp.Bulk.Supported {
		s.Skipped = "not supported by this build (/ServiceProviderConfig bulk.supported is false)"
		return s
	}
	n := b.cfg.bulkUsers
	ops := make([]json.RawMessage, n)
	for i := range n {
		op := map[string]any{"method": "POST", "path": "/Users", "bulkId": "b" + strconv.Itoa(i), "data": userBody("bulk", i)}
		ops[i], _ = json.Marshal(op)
	}
	batches := splitBulk(ops, sp.Bulk.MaxOperations, sp.Bulk.MaxPayloadSize)
	if len(batches) > 1 {
		s.Note = fmt.Sprintf("sent in %d requests: server advertises maxOperations %d, maxPayloadSize %d", len(batches), sp.Bulk.MaxOperations, sp.Bulk.MaxPayloadSize)
	}
	b.progress("bulk: %d users in %d request(s), at most %s", n, len(batches), b.cfg.bulkTime)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.bulkTime)
	defer cancel()
	start := time.Now()
	var lat []time.Duration
	for _, batch := range batches {
		t0 := time.Now()
		created, failed, err := b.c.bulkRequest(ctx, batch)
		lat = append(lat, time.Since(t0))
		s.Ops += created + failed
		s.Errors += failed
		if err != nil {
			s.Errors += len(batch) - created - failed
			s.Ops += len(batch) - created - failed
			s.FirstErrors = append(s.FirstErrors, err.Error())
			break
		}
	}
	el := time.Since(start)
	s.Seconds = el.Seconds()
	if el > 0 {
		s.PerSec = float64(s.Ops-s.Errors) / el.Seconds()
	}
	sortDurations(lat)
	s.P50ms, s.P99ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	if s.Note == "" {
		s.Note = "one request; latency is of the request"
	}
	return s
}

// splitBulk cuts ops into requests that respect maxOps and maxBytes (0 or
// less: no limit). The envelope's size is allowed for.
func splitBulk(ops []json.RawMessage, maxOps int, maxBytes int64) [][]json.RawMessage {
	const envelope = 200
	var out [][]json.RawMessage
	var cur []json.RawMessage
	var size int64 = envelope
	for _, op := range ops {
		full := (maxOps > 0 && len(cur) >= maxOps) || (maxBytes > 0 && size+int64(len(op))+1 > maxBytes)
		if full && len(cur) > 0 {
			out = append(out, cur)
			cur, size = nil, envelope
		}
		cur = append(cur, op)
		size += int64(len(op)) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// bulkRequest sends one BulkRequest of POST /Users operations and counts
// the operations answered 201 and the others.
func (c *client) bulkRequest(ctx context.Context, ops []json.RawMessage) (created, failed int, err error) {
	var buf bytes.Buffer
	buf.WriteString(`{"schemas":["` + bulkReqURN + `"],"failOnErrors":0,"Operations":[`)
	for i, op := range ops {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(op)
	}
	buf.WriteString("]}")
	var res struct {
		Operations []struct {
			Status json.RawMessage `json:"status"`
		} `json:"Operations"`
	}
	body, err := c.do(ctx, http.MethodPost, "/scim/v2/Bulk", buf.Bytes(), http.StatusOK)
	if err != nil {
		return 0, 0, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return 0, 0, fmt.Errorf("POST /Bulk: decode answer: %w", err)
	}
	for _, op := range res.Operations {
		st := string(bytes.Trim(op.Status, `"`))
		if len(st) >= 3 && st[:3] == "201" {
			created++
		} else {
			failed++
		}
	}
	if len(res.Operations) != len(ops) {
		return created, failed, fmt.Errorf("POST /Bulk: %d operations sent, %d answered", len(ops), len(res.Operations))
	}
	return created, failed, nil
}

// memberAdds builds a group of size members (PATCH adds of cfg.chunk
// members each), then times cfg.memberAdds single-member adds, one client.
func (b *bench) memberAdds(ctx context.Context, size int) stepResult {
	s := stepResult{Key: fmt.Sprintf("member_add_%d", size), Name: fmt.Sprintf("add 1 member to group of %s", human(size)), Clients: 1}
	if size > len(b.pop) {
		s.Skipped = fmt.Sprintf("population has %d users, fewer than %d", len(b.pop), size)
		return s
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.groupTime)
	defer cancel()
	var g struct {
		ID string `json:"id"`
	}
	err := b.c.doJSON(ctx, http.MethodPost, "/scim/v2/Groups?excludedAttributes=members",
		map[string]any{"schemas": []string{groupURN}, "displayName": "bench-group-" + strconv.Itoa(size) + "-" + randHex(3)},
		http.StatusCreated, &g)
	if err != nil {
		s.Skipped = "could not create the group: " + err.Error()
		return s
	}
	b.progress("group of %d: adding members, %d per PATCH", size, b.cfg.chunk)
	t0 := time.Now()
	for lo := 0; lo < size; lo += b.cfg.chunk {
		hi := min(lo+b.cfg.chunk, size)
		members := make([]any, 0, hi-lo)
		for _, u := range b.pop[lo:hi] {
			members = append(members, map[string]any{"value": b.ids[u]})
		}
		raw, _ := json.Marshal(patchOp("add", "members", members))
		if _, err := b.c.do(ctx, http.MethodPatch, "/scim/v2/Groups/"+g.ID+"?excludedAttributes=members", raw, 0); err != nil {
			s.Skipped = fmt.Sprintf("building the group failed after %d members: %v", lo, err)
			return s
		}
	}
	build := time.Since(t0)
	b.progress("group of %d: built in %s; timing %d single adds", size, build.Round(time.Millisecond), b.cfg.memberAdds)
	path := "/scim/v2/Groups/" + g.ID
	if b.cfg.memberQuery != "" {
		path += "?" + b.cfg.memberQuery
	}
	remaining := max(time.Until(deadlineOf(ctx))-b.cfg.reqTimeout, time.Second)
	r := run(ctx, runSpec{workers: 1, maxOps: min(b.cfg.memberAdds, len(b.extras)), duration: remaining}, func(ctx context.Context, i int, _ *rand.Rand) error {
		raw, _ := json.Marshal(patchOp("add", "members", []any{map[string]any{"value": b.extras[i]}}))
		_, err := b.c.do(ctx, http.MethodPatch, path, raw, 0)
		return err
	})
	s = fromResultKeep(s, r)
	s.Note = fmt.Sprintf("group built in %.1f s (%d members/s, PATCH adds of %d)", build.Seconds(), int(float64(size)/build.Seconds()), b.cfg.chunk)
	if b.cfg.memberQuery != "" {
		s.Note += "; PATCH ?" + b.cfg.memberQuery
	}
	// Check the group holds what was added, and time one full read of it.
	before := b.rssNow()
	t0 = time.Now()
	body, err := b.c.do(ctx, http.MethodGet, "/scim/v2/Groups/"+g.ID, nil, http.StatusOK)
	read := time.Since(t0)
	if err != nil {
		s.Note += "; GET of the whole group failed: " + err.Error()
		return s
	}
	var full struct {
		Members []struct {
			Value string `json:"value"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &full); err != nil {
		s.Note += "; GET of the whole group: " + err.Error()
		return s
	}
	want := size + r.ok()
	s.Note += fmt.Sprintf("; GET of the whole group: %d members, %.1f MB in %.0f ms", len(full.Members), float64(len(body))/(1<<20), ms(read))
	if after := b.rssNow(); before > 0 && after > 0 {
		s.Note += fmt.Sprintf(" (server RSS %.0f MB before it, %.0f MB after)", before, after)
	}
	if len(full.Members) != want {
		s.Errors++
		s.FirstErrors = append(s.FirstErrors, fmt.Sprintf("the group has %d members, want %d", len(full.Members), want))
	}
	return s
}

func fromResultKeep(s stepResult, r result) stepResult {
	f := fromResult(s.Key, s.Name, s.Clients, r)
	f.Note, f.Skipped = s.Note, s.Skipped
	return f
}

func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d
}

// jsonInt finds `"key": <integer>` in a JSON document without decoding
// it: the load generator shares the CPUs with the server, so it does not
// parse 100-user pages just to check one number. The keys it looks for
// (totalResults, itemsPerPage) occur once, at the top level.
func jsonInt(b []byte, key string) (int, bool) {
	i := bytes.Index(b, []byte(`"`+key+`"`))
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(b[i+len(key)+2:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(rest[:j]))
	return n, err == nil
}

// human writes 1000 as 1k and 100000 as 100k.
func human(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

var errNoPopulation = errors.New("no users were created; nothing to measure")
