package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The delivery phase measures hires through to enrollments: each hire is
// an IdP's POST /Users then PATCH /Groups/{id} adding the new user to
// "Engineering", whose rule wants a bundle of three courses on a webhook
// connector; the webhook goes to the load generator's own receiver
// (receiver.go), a healthy LMS that answers 204 at once. It runs on a fresh
// database of its own, with its own server started with --config.
//
// Runs, each waiting for all its enrollments before the next starts:
//   - one hire at a time, waiting for its enrollments and a pause between:
//     the latency of a hire on an idle server;
//   - hires paced at a fixed offered rate (enrollments/s) by several
//     clients: the sustained rate and the latency at that rate;
//   - hires as fast as the clients go: SCIM hires/s and the most the
//     deliveries keep up with (first to last arrival);
//   - a rule applied with `onramp apply` to a group whose members already
//     exist: a backlog of syncs queued at once, so the arrival rate is
//     delivery's alone, with no SCIM traffic beside it.
//
// Hire-to-enrollment latency is the arrival at the receiver minus the
// moment the PATCH answer reached the client.

// deliveryConfig sizes the delivery phase.
type deliveryConfig struct {
	seqHires   int           // hires one at a time
	seqPause   time.Duration // pause after each of them
	offered    float64       // enrollments/s offered in the paced run; 0 skips it
	pacedHires int           // hires in the paced run
	hires      int           // hires in the as-fast-as-possible run
	clients    int           // concurrent SCIM clients of the paced and fast runs
	backfill   int           // members of the group a rule is applied to at once; 0 skips
	workers    int           // delivery.workers written to the config; 0: the server's default
	poll       time.Duration // delivery.poll_interval; 0: the server's default
	wait       time.Duration // how long after its last hire a run waits for its enrollments
}

// The bundle every hire gets.
var deliveryCourses = []string{"C1", "C2", "C3"}

const (
	hooksConnector = "hooks"
	hooksSecretEnv = "BENCH_HOOKS_SECRET"
	hireGroup      = "Engineering"
	backfillGroup  = "Backfill"
)

// deliveryResult is the detail of the delivery phase, beside its rows.
type deliveryResult struct {
	Database   string         `json:"database"`
	Courses    []string       `json:"courses"`
	Workers    string         `json:"workers"`       // as configured, or "default"
	Poll       string         `json:"poll_interval"` // as configured, or "default"
	Clients    int            `json:"clients"`
	Runs       []deliveryRun  `json:"runs"`
	Receiver   receiverTotals `json:"receiver"`
	ServerJobs map[string]int `json:"server_jobs_by_state,omitempty"` // onramp_delivery_jobs at the end
	ServerSays string         `json:"server_metrics,omitempty"`       // attempts by outcome, server-side latency
	RSSMB      float64        `json:"server_rss_mb,omitempty"`
}

type deliveryRun struct {
	Key            string  `json:"key"`
	Hires          int     `json:"hires"`
	HireErrors     int     `json:"hire_errors"`
	HiresPerSec    float64 `json:"hires_per_sec"`
	OfferedPerSec  float64 `json:"offered_enrollments_per_sec,omitempty"`
	Expected       int     `json:"enrollments_expected"`
	Arrived        int     `json:"enrollments_arrived"`
	Missing        int     `json:"enrollments_missing"`
	SpanSeconds    float64 `json:"first_to_last_arrival_seconds"`
	RatePerSec     float64 `json:"enrollments_per_sec_first_to_last"`
	WholePerSec    float64 `json:"enrollments_per_sec_whole_run"` // from the first hire sent to the last arrival
	P50ms          float64 `json:"latency_p50_ms"`
	P99ms          float64 `json:"latency_p99_ms"`
	MaxMs          float64 `json:"latency_max_ms"`
	BeforeAnswer   int     `json:"arrived_before_patch_answer,omitempty"` // counted as 0 ms
	ApplySeconds   float64 `json:"apply_seconds,omitempty"`
	FirstMissingEg string  `json:"first_missing,omitempty"`
	// OthersCPUPct is the share of the machine's CPU time that processes
	// other than the server, the load generator and its children used
	// during the run (-1: unknown): the noise in the figures.
	OthersCPUPct float64 `json:"others_cpu_pct"`
	// ServerCPUPct and BenchCPUPct are the server's and the load
	// generator's share of the machine's CPU capacity during the run.
	ServerCPUPct float64 `json:"server_cpu_pct"`
	BenchCPUPct  float64 `json:"bench_cpu_pct"`
	// DatabaseCPUPct is a local PostgreSQL server's share (its postmaster
	// and backends), not counted in OthersCPUPct.
	DatabaseCPUPct float64 `json:"database_cpu_pct,omitempty"`
}

type receiverTotals struct {
	Received    int            `json:"requests_2xx"`
	Distinct    int            `json:"distinct_webhook_ids"`
	Redelivered int            `json:"redelivered_webhook_ids"`
	DupEnrolls  int            `json:"duplicate_enrollments"`
	Rejected    int            `json:"rejected"`
	Others      map[string]int `json:"other_events,omitempty"`
	Conns       int64          `json:"tcp_connections"`
}

// runDelivery runs the delivery phase on database and adds its rows to db.
// dbPid, when not 0, is the local PostgreSQL server's postmaster, whose CPU
// time (with its backends') is reported apart from other processes'.
func runDelivery(ctx context.Context, o options, bin, database string, dbPid int, db *dbResult) {
	start := time.Now()
	defer func() { db.Seconds += time.Since(start).Seconds() }()
	say := progress(db.Name + " delivery")
	dc := o.delivery
	skip := func(why string) {
		db.Steps = append(db.Steps, stepResult{Key: "delivery", Name: "delivery (hire to enrollment)", Skipped: why})
	}

	secret, key := newWebhookSecret()
	rv, err := startReceiver(key)
	if err != nil {
		skip(err.Error())
		return
	}
	defer rv.close()
	dir, err := os.MkdirTemp("", "onramp-bench-delivery-")
	if err != nil {
		skip(err.Error())
		return
	}
	defer os.RemoveAll(dir)
	cfgPath, rulesPath, backfillPath := filepath.Join(dir, "onramp.yaml"), filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "backfill.yaml")
	if err := os.WriteFile(cfgPath, []byte(serverConfigYAML(rv.url, dc)), 0o600); err != nil {
		skip(err.Error())
		return
	}
	if err := os.WriteFile(rulesPath, []byte(mappingYAML(false)), 0o600); err != nil {
		skip(err.Error())
		return
	}
	if err := os.WriteFile(backfillPath, []byte(mappingYAML(true)), 0o600); err != nil {
		skip(err.Error())
		return
	}
	env := []string{hooksSecretEnv + "=" + secret}

	say("onramp apply -f rules.yaml (bundle eng: %s; rule eng: group %s)", strings.Join(deliveryCourses, ", "), hireGroup)
	if _, err := applyMapping(ctx, bin, database, cfgPath, rulesPath, env); err != nil {
		skip(err.Error())
		return
	}
	say("starting %s serve --config (webhook connector to %s)", bin, rv.url)
	p, err := startServer(ctx, bin, database, append([]string{"--config", cfgPath}, strings.Fields(o.serverArgs)...), 2*time.Minute, env...)
	if err != nil {
		skip("could not start onramp serve --config: " + err.Error())
		return
	}
	defer func() {
		if err := p.stop(45 * time.Second); err != nil {
			db.Notes = append(db.Notes, "delivery: stopping the server: "+err.Error())
		}
	}()
	c := newClient(p.base, p.token, dc.clients+2, o.cfg.reqTimeout)
	defer c.close()
	if db.ServerVersion == "" {
		if v, err := c.do(ctx, http.MethodGet, "/healthz", nil, 200); err == nil {
			var hz struct{ Version string }
			_ = json.Unmarshal(v, &hz)
			db.ServerVersion = hz.Version
		}
	}
	d := &deliveryBench{dc: dc, c: c, rv: rv, say: say}
	if d.group, err = d.createGroup(ctx, hireGroup); err != nil {
		skip(err.Error())
		return
	}
	res := &deliveryResult{
		Database: database, Courses: deliveryCourses, Clients: dc.clients,
		Workers: orDefault(dc.workers > 0, strconv.Itoa(dc.workers)), Poll: orDefault(dc.poll > 0, dc.poll.String()),
	}
	settings := fmt.Sprintf("delivery.workers %s, delivery.poll_interval %s", res.Workers, res.Poll)

	runs := []struct {
		key, name string
		n         int
		do        func(context.Context, string, string, int) ([]stepResult, deliveryRun)
	}{
		{"delivery_seq", "one hire at a time", dc.seqHires, d.oneAtATime},
		{"delivery_paced", fmt.Sprintf("%.0f enrollments/s offered", dc.offered), dc.pacedHires, d.paced},
		{"delivery_burst", "hires as fast as they go", dc.hires, d.burst},
		{"delivery_backfill", "", dc.backfill, d.backfillRun(bin, database, cfgPath, backfillPath, env)},
	}
	for _, r := range runs {
		if r.n <= 0 || (r.key == "delivery_paced" && dc.offered <= 0) || ctx.Err() != nil {
			continue
		}
		cpu0 := sampleCPU(p.cmd.Process.Pid, dbPid)
		steps, run := r.do(ctx, r.key, r.name, r.n)
		cpu1 := sampleCPU(p.cmd.Process.Pid, dbPid)
		run.OthersCPUPct = othersCPU(cpu0, cpu1)
		run.ServerCPUPct, run.BenchCPUPct = cpuPct(cpu0, cpu1, cpu0.srv, cpu1.srv), cpuPct(cpu0, cpu1, cpu0.self, cpu1.self)
		dbCPU := ""
		if dbPid != 0 {
			run.DatabaseCPUPct = cpuPct(cpu0, cpu1, cpu0.db, cpu1.db)
			dbCPU = fmt.Sprintf(", PostgreSQL %.0f%%", run.DatabaseCPUPct)
		}
		for i := range steps {
			steps[i].RSSMB = rssOf(p)
		}
		if run.OthersCPUPct >= 0 {
			steps[len(steps)-1].Note += fmt.Sprintf("; CPU meanwhile: server %.0f%%, load generator %.0f%%%s, other processes %.0f%% of the machine's %d CPUs",
				run.ServerCPUPct, run.BenchCPUPct, dbCPU, run.OthersCPUPct, runtime.NumCPU())
		}
		db.Steps = append(db.Steps, steps...)
		res.Runs = append(res.Runs, run)
	}

	rv.mu.Lock()
	res.Receiver = receiverTotals{
		Received: rv.received, Distinct: len(rv.byID), Redelivered: rv.redelivered, DupEnrolls: rv.dupEnrolls,
		Rejected: rv.rejected, Others: rv.others, Conns: rv.conns.Load(),
	}
	firstDups, firstRejects := rv.firstDups, rv.firstRejects
	rv.mu.Unlock()
	if !d.waitIdle(ctx, 10*time.Second) {
		db.Notes = append(db.Notes, "delivery: the server still had sync jobs queued or running 10 s after the last run")
	}
	res.ServerJobs, res.ServerSays = d.serverMetrics(ctx)
	res.RSSMB = rssOf(p)
	db.Delivery = res

	t := res.Receiver
	db.Steps = append(db.Steps, checkStep(t, firstDups, firstRejects, time.Since(start)))
	db.Notes = append(db.Notes, fmt.Sprintf("delivery: fresh database, %s; bundle of %d courses per hire (%s), webhook connector to a receiver in the load generator (verifies every signature, answers 204 at once); %d SCIM clients",
		settings, len(deliveryCourses), strings.Join(deliveryCourses, ", "), dc.clients))
	if res.ServerSays != "" {
		db.Notes = append(db.Notes, "delivery: server metrics at the end: "+res.ServerSays)
	}
	p.log.mu.Lock()
	if p.log.problems > 0 {
		db.Notes = append(db.Notes, fmt.Sprintf("delivery: the server logged %d warnings, errors or non-JSON lines (of %d); first: %s",
			p.log.problems, p.log.lines, strings.Join(p.log.firstBad, " | ")))
	}
	p.log.mu.Unlock()
}

// checkStep is the receiver's row: every request it answered, and as
// errors every duplicate, redelivery, unexpected event and rejected request.
func checkStep(t receiverTotals, dups, rejects []string, el time.Duration) stepResult {
	others := 0
	var kinds []string
	for k, n := range t.Others {
		others += n
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	s := stepResult{
		Key: "delivery_receiver", Name: "receiver: duplicates, redeliveries, bad signatures",
		Ops: t.Received + t.Rejected, Errors: t.DupEnrolls + t.Redelivered + t.Rejected + others, Seconds: el.Seconds(),
	}
	if el > 0 {
		s.PerSec = float64(s.Ops) / el.Seconds()
	}
	s.Note = fmt.Sprintf("%d requests answered 2xx: %d distinct webhook-ids, %d redelivered ids, %d duplicate enrollments, %d other events, %d rejected; the server opened %d TCP connections to the receiver",
		t.Received, t.Distinct, t.Redelivered, t.DupEnrolls, others, t.Rejected, t.Conns)
	for _, d := range dups {
		s.FirstErrors = append(s.FirstErrors, "duplicate enrollment: "+d)
	}
	for _, r := range rejects {
		s.FirstErrors = append(s.FirstErrors, "rejected: "+r)
	}
	if others > 0 {
		s.FirstErrors = append(s.FirstErrors, "events other than enrollment.created: "+strings.Join(kinds, ", "))
	}
	if t.Redelivered > 0 {
		s.FirstErrors = append(s.FirstErrors, fmt.Sprintf("%d webhook-ids arrived more than once (retries, though the receiver always answered 204)", t.Redelivered))
	}
	return s
}

func orDefault(set bool, v string) string {
	if !set {
		return "default"
	}
	return v
}

func rssOf(p *proc) float64 {
	m, err := readMemory(p.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return m.RSSMB
}

// serverConfigYAML is the server's config file: one webhook connector to
// url, and the delivery settings that were asked for.
func serverConfigYAML(url string, dc deliveryConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "connectors:\n  - {name: %s, type: webhook, url: %q, secret_env: %s}\n", hooksConnector, url, hooksSecretEnv)
	var del []string
	if dc.workers > 0 {
		del = append(del, "workers: "+strconv.Itoa(dc.workers))
	}
	if dc.poll > 0 {
		del = append(del, "poll_interval: "+dc.poll.String())
	}
	if len(del) > 0 {
		fmt.Fprintf(&b, "delivery: {%s}\n", strings.Join(del, ", "))
	}
	return b.String()
}

// mappingYAML is the bundle and rule(s) for onramp apply; with backfill,
// also the rule that gives the bundle to the Backfill group.
func mappingYAML(backfill bool) string {
	s := fmt.Sprintf("bundles:\n  - {name: eng, connector: %s, courses: [%s]}\nrules:\n  - {name: eng, group: %s, bundles: [eng]}\n",
		hooksConnector, strings.Join(deliveryCourses, ", "), hireGroup)
	if backfill {
		s += fmt.Sprintf("  - {name: backfill, group: %s, bundles: [eng]}\n", backfillGroup)
	}
	return s
}

// applyMapping runs onramp apply -f file on database.
func applyMapping(ctx context.Context, bin, database, cfgPath, file string, env []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "apply", "-f", file, "--config", cfgPath, "--database", database)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = filepath.Dir(file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("onramp apply -f %s: %v\n%s", filepath.Base(file), err, truncate(string(out), 2000))
	}
	return string(out), nil
}

// deliveryBench drives one server through the delivery runs.
type deliveryBench struct {
	dc    deliveryConfig
	c     *client
	rv    *receiver
	say   func(string, ...any)
	group string // Engineering's id
}

func (d *deliveryBench) createGroup(ctx context.Context, name string) (string, error) {
	var g struct {
		ID string `json:"id"`
	}
	err := d.c.doJSON(ctx, http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name}, http.StatusCreated, &g)
	if err != nil {
		return "", fmt.Errorf("create group %s: %w", name, err)
	}
	return g.ID, nil
}

// hire creates user prefix/i and adds it to Engineering, as Okta does: it
// returns the user's id and when the PATCH answer arrived.
func (d *deliveryBench) hire(ctx context.Context, prefix string, i int) (string, time.Time, error) {
	id, err := d.c.createUser(ctx, prefix, i)
	if err != nil {
		return "", time.Time{}, err
	}
	raw, _ := json.Marshal(patchOp("add", "members", []any{map[string]any{"value": id}}))
	if _, err := d.c.do(ctx, http.MethodPatch, "/scim/v2/Groups/"+d.group, raw, 0); err != nil {
		return id, time.Time{}, err
	}
	return id, time.Now(), nil
}

// hires is what one run's hires did.
type hires struct {
	mu      sync.Mutex
	patched map[string]time.Time // user id -> PATCH answered
	lat     []time.Duration      // of each hire: POST and PATCH
	start   time.Time            // first hire sent
	end     time.Time            // last hire answered
	run     result               // errors
}

func newHires() *hires { return &hires{patched: map[string]time.Time{}} }

func (h *hires) record(id string, t0, done time.Time) {
	h.mu.Lock()
	h.patched[id] = done
	h.lat = append(h.lat, done.Sub(t0))
	h.mu.Unlock()
}

// drive runs n hires with clients workers. With perSec > 0, hire i is
// sent no earlier than start + i/perSec; after each hire, then (if not nil)
// runs and may return an error.
func (d *deliveryBench) drive(ctx context.Context, prefix string, n, clients int, perSec float64, then func(ctx context.Context, id string) error) *hires {
	h := newHires()
	start := time.Now()
	h.start = start
	h.run = run(ctx, runSpec{workers: clients, maxOps: n, duration: d.dc.wait + time.Duration(float64(n)/max(perSec, 1)*float64(time.Second))},
		func(ctx context.Context, i int, _ *rand.Rand) error {
			if perSec > 0 {
				at := start.Add(time.Duration(float64(i) / perSec * float64(time.Second)))
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Until(at)):
				}
			}
			t0 := time.Now()
			id, done, err := d.hire(ctx, prefix, i)
			if err != nil {
				return err
			}
			h.record(id, t0, done)
			if then != nil {
				return then(ctx, id)
			}
			return nil
		})
	h.end = time.Now()
	return h
}

// waitFor waits until every course of every user has arrived, or until
// deadline; it returns how many are missing.
func (d *deliveryBench) waitFor(ctx context.Context, users []string, deadline time.Time) int {
	pending := users
	for {
		// Taken before the scan: an enrollment arriving during it closes
		// this channel, so none is missed.
		_, wake := d.rv.arrivals("", nil)
		var still []string
		missing := 0
		for _, u := range pending {
			arr, _ := d.rv.arrivals(u, deliveryCourses)
			n := 0
			for _, a := range arr {
				if a.IsZero() {
					n++
				}
			}
			if n > 0 {
				still = append(still, u)
				missing += n
			}
		}
		pending = still
		if missing == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			return missing
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(min(time.Until(deadline), time.Second)):
		}
		if len(pending) > 50 {
			time.Sleep(5 * time.Millisecond) // a large run: rescan at most every few ms
		}
	}
}

// measure turns a run's hires and arrivals into its figures; latencies are
// from since[user] (the PATCH answer, or the end of an apply) to arrival.
func (d *deliveryBench) measure(key string, since map[string]time.Time, runStart time.Time) deliveryRun {
	r := deliveryRun{Key: key, Expected: len(since) * len(deliveryCourses)}
	var lat []time.Duration
	var first, last time.Time
	ids := make([]string, 0, len(since))
	for id := range since {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		arr, _ := d.rv.arrivals(id, deliveryCourses)
		for i, a := range arr {
			if a.IsZero() {
				r.Missing++
				if r.FirstMissingEg == "" {
					r.FirstMissingEg = "user " + id + " course " + deliveryCourses[i]
				}
				continue
			}
			r.Arrived++
			l := a.Sub(since[id])
			if l < 0 {
				r.BeforeAnswer++
				l = 0
			}
			lat = append(lat, l)
			if first.IsZero() || a.Before(first) {
				first = a
			}
			if a.After(last) {
				last = a
			}
		}
	}
	sortDurations(lat)
	r.P50ms, r.P99ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	if len(lat) > 0 {
		r.MaxMs = ms(lat[len(lat)-1])
	}
	if span := last.Sub(first); r.Arrived > 1 && span > 0 {
		r.SpanSeconds = span.Seconds()
		r.RatePerSec = float64(r.Arrived-1) / span.Seconds() // intervals between arrivals
	}
	if whole := last.Sub(runStart); r.Arrived > 0 && whole > 0 {
		r.WholePerSec = float64(r.Arrived) / whole.Seconds()
	}
	return r
}

// hireSteps turns one run into its two rows: the SCIM side (hires) and the
// receiver's side (enrollments).
func hireSteps(key, name string, clients int, h *hires, r deliveryRun) []stepResult {
	lat := append([]time.Duration(nil), h.lat...)
	sortDurations(lat)
	el := h.end.Sub(h.start)
	hs := stepResult{
		Key: key + "_hires", Name: "hires, " + name + " (POST /Users + PATCH /Groups add)", Clients: clients,
		Ops: h.run.ops, Errors: h.run.errors, Seconds: el.Seconds(),
		P50ms: ms(percentile(lat, 50)), P99ms: ms(percentile(lat, 99)), FirstErrors: h.run.firstErrs,
	}
	if el > 0 {
		hs.PerSec = float64(len(lat)) / el.Seconds()
	}
	es := enrollStep(key, "enrollments, "+name+" (hire to arrival)", clients, r)
	return []stepResult{hs, es}
}

// enrollStep is a run's row at the receiver: per sec is from the first
// arrival to the last; p50/p99 are hire-to-enrollment latency.
func enrollStep(key, name string, clients int, r deliveryRun) stepResult {
	s := stepResult{
		Key: key + "_enroll", Name: name, Clients: clients,
		Ops: r.Expected, Errors: r.Missing, Seconds: r.SpanSeconds, PerSec: r.RatePerSec,
		P50ms: r.P50ms, P99ms: r.P99ms,
	}
	s.Note = fmt.Sprintf("%d of %d enrollments arrived; latency max %.0f ms; %.0f enrollments/s from the first hire sent to the last arrival",
		r.Arrived, r.Expected, r.MaxMs, r.WholePerSec)
	if r.BeforeAnswer > 0 {
		s.Note += fmt.Sprintf("; %d arrived before the PATCH answer reached the client (counted as 0 ms)", r.BeforeAnswer)
	}
	if r.Missing > 0 {
		s.FirstErrors = append(s.FirstErrors, fmt.Sprintf("%d enrollments never arrived (e.g. %s)", r.Missing, r.FirstMissingEg))
	}
	return s
}

// oneAtATime: each hire waits for its own enrollments, then a pause.
func (d *deliveryBench) oneAtATime(ctx context.Context, key, name string, n int) ([]stepResult, deliveryRun) {
	d.say("%s: %d hires, each waiting for its %d enrollments, then %s", name, n, len(deliveryCourses), d.dc.seqPause)
	h := d.drive(ctx, "seq", n, 1, 0, func(ctx context.Context, id string) error {
		if missing := d.waitFor(ctx, []string{id}, time.Now().Add(d.dc.wait)); missing > 0 {
			return fmt.Errorf("user %s: %d of %d enrollments did not arrive within %s", id, missing, len(deliveryCourses), d.dc.wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(d.dc.seqPause):
		}
		return nil
	})
	r := d.measure(key, h.patched, h.start)
	r.Hires, r.HireErrors = h.run.ops, h.run.errors
	steps := hireSteps(key, name, 1, h, r)
	steps[0].Note = fmt.Sprintf("each hire waits for its enrollments, then %s: the SCIM rate here is not a capacity", d.dc.seqPause)
	steps[1].Note += "; no other load: the latency of one hire on an idle server"
	r.HiresPerSec = steps[0].PerSec
	return steps, r
}

// paced sends hires at the offered enrollment rate.
func (d *deliveryBench) paced(ctx context.Context, key, name string, n int) ([]stepResult, deliveryRun) {
	perSec := d.dc.offered / float64(len(deliveryCourses))
	d.say("%s: %d hires at %.0f hires/s, %d clients", name, n, perSec, d.dc.clients)
	h := d.drive(ctx, "paced", n, d.dc.clients, perSec, nil)
	d.waitAll(ctx, h)
	r := d.measure(key, h.patched, h.start)
	r.Hires, r.HireErrors, r.OfferedPerSec = h.run.ops, h.run.errors, d.dc.offered
	steps := hireSteps(key, name, d.dc.clients, h, r)
	steps[0].Offered, steps[1].Offered = perSec, d.dc.offered
	steps[0].Note = fmt.Sprintf("offered %.1f hires/s (%.0f enrollments/s)", perSec, d.dc.offered)
	if got := steps[0].PerSec; got < 0.95*perSec {
		steps[0].Note += fmt.Sprintf("; the clients fell behind: %.1f hires/s sent", got)
	}
	steps[1].Note += keptUp(steps[0].PerSec, r)
	r.HiresPerSec = steps[0].PerSec
	return steps, r
}

// burst sends hires as fast as the clients go.
func (d *deliveryBench) burst(ctx context.Context, key, name string, n int) ([]stepResult, deliveryRun) {
	d.say("%s: %d hires, %d clients", name, n, d.dc.clients)
	h := d.drive(ctx, "burst", n, d.dc.clients, 0, nil)
	d.waitAll(ctx, h)
	r := d.measure(key, h.patched, h.start)
	r.Hires, r.HireErrors = h.run.ops, h.run.errors
	steps := hireSteps(key, name, d.dc.clients, h, r)
	steps[1].Note += keptUp(steps[0].PerSec, r)
	r.HiresPerSec = steps[0].PerSec
	return steps, r
}

// keptUp says whether deliveries kept up with hires sent at hiresPerSec.
func keptUp(hiresPerSec float64, r deliveryRun) string {
	wanted := hiresPerSec * float64(len(deliveryCourses))
	if r.RatePerSec < 0.9*wanted {
		return fmt.Sprintf("; deliveries fell behind the hires (%.0f enrollments/s wanted), so latency here is mostly time queued", wanted)
	}
	return fmt.Sprintf("; deliveries kept up with the hires (%.0f enrollments/s wanted): the rate is the hires', not delivery's most", wanted)
}

// waitAll waits for the enrollments of every hire of h.
func (d *deliveryBench) waitAll(ctx context.Context, h *hires) {
	users := make([]string, 0, len(h.patched))
	for id := range h.patched {
		users = append(users, id)
	}
	d.say("  %d hires sent in %.1f s; waiting up to %s for %d enrollments", len(users), h.end.Sub(h.start).Seconds(), d.dc.wait, len(users)*len(deliveryCourses))
	t0 := time.Now()
	missing := d.waitFor(ctx, users, time.Now().Add(d.dc.wait))
	d.say("  waited %.1f s; %d missing", time.Since(t0).Seconds(), missing)
}

// backfillRun returns the backfill run: n users in group Backfill, which
// no rule names yet; once their syncs are done, onramp apply adds the rule
// that gives Backfill the bundle, and every member's sync is queued at once.
func (d *deliveryBench) backfillRun(bin, database, cfgPath, file string, env []string) func(context.Context, string, string, int) ([]stepResult, deliveryRun) {
	return func(ctx context.Context, key, _ string, n int) ([]stepResult, deliveryRun) {
		name := fmt.Sprintf("rule applied to %d existing members (backlog)", n)
		s := stepResult{Key: key + "_enroll", Name: "enrollments, " + name, Clients: 1}
		r := deliveryRun{Key: key}
		d.say("backfill: creating %d users in group %s", n, backfillGroup)
		gid, err := d.createGroup(ctx, backfillGroup)
		if err != nil {
			s.Skipped = err.Error()
			return []stepResult{s}, r
		}
		ids := make([]string, n)
		cr := run(ctx, runSpec{workers: d.dc.clients, maxOps: n, duration: 10 * time.Minute}, func(ctx context.Context, i int, _ *rand.Rand) error {
			id, err := d.c.createUser(ctx, "backfill", i)
			ids[i] = id
			return err
		})
		if cr.errors > 0 || cr.ops < n {
			s.Skipped = fmt.Sprintf("creating %d users: %d created, %d failed %v", n, cr.ok(), cr.errors, cr.firstErrs)
			return []stepResult{s}, r
		}
		for lo := 0; lo < n; lo += 1000 {
			var members []any
			for _, id := range ids[lo:min(lo+1000, n)] {
				members = append(members, map[string]any{"value": id})
			}
			raw, _ := json.Marshal(patchOp("add", "members", members))
			if _, err := d.c.do(ctx, http.MethodPatch, "/scim/v2/Groups/"+gid+"?excludedAttributes=members", raw, 0); err != nil {
				s.Skipped = "adding the members: " + err.Error()
				return []stepResult{s}, r
			}
		}
		// Let the syncs those writes queued (which deliver nothing) finish,
		// so the backlog below is the rule's alone.
		idle := d.waitIdle(ctx, time.Minute)
		d.say("backfill: onramp apply -f backfill.yaml (rule backfill: group %s)", backfillGroup)
		t0 := time.Now()
		if _, err := applyMapping(ctx, bin, database, cfgPath, file, env); err != nil {
			s.Skipped = err.Error()
			return []stepResult{s}, r
		}
		applied := time.Now()
		since := make(map[string]time.Time, n)
		for _, id := range ids {
			since[id] = applied
		}
		d.say("  apply took %.2f s; waiting up to %s for %d enrollments", applied.Sub(t0).Seconds(), d.dc.wait, n*len(deliveryCourses))
		missing := d.waitFor(ctx, ids, applied.Add(d.dc.wait))
		d.say("  waited %.1f s; %d missing", time.Since(applied).Seconds(), missing)
		r = d.measure(key, since, t0)
		r.Hires, r.ApplySeconds = n, applied.Sub(t0).Seconds()
		es := enrollStep(key, "enrollments, "+name, 0, r)
		es.Note = strings.Replace(es.Note, "from the first hire sent", "from the start of onramp apply", 1)
		es.Note += fmt.Sprintf("; latency from the end of onramp apply (%.2f s, a separate process writing to the database); no SCIM traffic meanwhile", r.ApplySeconds)
		if !idle {
			es.Note += "; the queue was not idle when apply started"
		}
		return []stepResult{es}, r
	}
}

// waitIdle waits until the server reports no sync job available or
// running (its /metrics), for at most limit.
func (d *deliveryBench) waitIdle(ctx context.Context, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		jobs, _ := d.serverMetrics(ctx)
		if jobs != nil && jobs["available"]+jobs["running"]+jobs["retryable"]+jobs["scheduled"] == 0 {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// serverMetrics reads the server's /metrics: sync jobs by state, and a
// summary of connector attempts and the server's own latency histogram.
func (d *deliveryBench) serverMetrics(ctx context.Context) (map[string]int, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := d.c.do(ctx, http.MethodGet, "/metrics", nil, http.StatusOK)
	if err != nil {
		return nil, ""
	}
	return parseMetrics(body)
}

// parseMetrics reads onramp_delivery_jobs{state}, the sum of
// onramp_delivery_attempts_total by outcome, and the count and sum of
// onramp_hire_to_enrollment_seconds from Prometheus text.
func parseMetrics(body []byte) (map[string]int, string) {
	jobs := map[string]int{}
	outcomes := map[string]float64{}
	var hCount, hSum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		switch name {
		case "onramp_delivery_jobs":
			jobs[label(labels, "state")] = int(v)
		case "onramp_delivery_attempts_total":
			outcomes[label(labels, "outcome")] += v
		case "onramp_hire_to_enrollment_seconds_count":
			hCount += v
		case "onramp_hire_to_enrollment_seconds_sum":
			hSum += v
		}
	}
	var parts []string
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, outcomes[k]))
	}
	s := ""
	if len(parts) > 0 {
		s = "connector attempts: " + strings.Join(parts, ", ")
	}
	if hCount > 0 {
		s += fmt.Sprintf("; onramp_hire_to_enrollment_seconds: %.0f observations, mean %.0f ms (from the commit of the change)", hCount, hSum/hCount*1000)
	}
	var st []string
	for _, k := range jobStates {
		if n := jobs[k]; n > 0 {
			st = append(st, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(st) > 0 {
		s += "; sync jobs: " + strings.Join(st, ", ")
	}
	if len(jobs) == 0 {
		jobs = nil
	}
	return jobs, s
}

var jobStates = []string{"available", "running", "scheduled", "retryable", "pending", "completed", "discarded", "cancelled"}

// label reads name="value" from a Prometheus label set (without braces).
func label(labels, name string) string {
	for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// judgeDelivery attaches the delivery targets (SQLite): hire-to-enrollment
// p99 under 500 ms, and at least 500 enrollments/s sustained. The paced
// run meets both when it was offered at least 500/s, kept up with it (a
// measured rate within 3% of the offered one: first and last arrivals
// jitter) and its p99 is under 500 ms.
func judgeDelivery(s *stepResult) {
	switch s.Key {
	case "delivery_seq_enroll":
		s.Target = atMost(s.P99ms, targetDeliveryP99, "p99 < 500 ms")
	case "delivery_paced_enroll":
		enough := s.Offered >= targetDeliveryRate
		keptUp := s.PerSec >= 0.97*s.Offered
		lat := atMost(s.P99ms, targetDeliveryP99, "")
		s.Target = &verdict{Target: "500/s sustained, p99 < 500 ms", Met: enough && keptUp && lat.Met && s.Errors == 0}
		var why []string
		if !enough {
			why = append(why, fmt.Sprintf("only %.0f/s offered", s.Offered))
		}
		if !keptUp {
			why = append(why, fmt.Sprintf("%.0f/s delivered of %.0f/s offered", s.PerSec, s.Offered))
		}
		if !lat.Met {
			why = append(why, fmt.Sprintf("p99 %.0f ms", s.P99ms))
		}
		if s.Errors > 0 {
			why = append(why, fmt.Sprintf("%d missing", s.Errors))
		}
		if s.Target.Met {
			why = append(why, fmt.Sprintf("kept up with %.0f/s offered", s.Offered))
		} else {
			s.Target.MissedByPct = max(lat.MissedByPct, float64(s.Errors)/float64(max(s.Ops, 1))*100)
			if s.PerSec < targetDeliveryRate {
				s.Target.MissedByPct = max(s.Target.MissedByPct, (targetDeliveryRate-s.PerSec)/targetDeliveryRate*100)
			}
		}
		s.Target.Caveat = strings.Join(why, ", ")
	case "delivery_burst_enroll", "delivery_backfill_enroll":
		s.Target = atLeast(s.PerSec, targetDeliveryRate, ">= 500/s")
	}
	if s.Target != nil && s.Errors > 0 && s.Key != "delivery_paced_enroll" {
		// A figure over enrollments that did not all arrive meets nothing.
		s.Target.Met = false
		s.Target.MissedByPct = max(s.Target.MissedByPct, float64(s.Errors)/float64(max(s.Ops, 1))*100)
		s.Target.Caveat = strings.TrimPrefix(s.Target.Caveat+fmt.Sprintf("; %d enrollments missing", s.Errors), "; ")
	}
}

const (
	targetDeliveryP99  = 500.0 // ms
	targetDeliveryRate = 500.0 // enrollments/s
)

// cpuSample is the machine's busy CPU time and that of this run's own
// processes, in clock ticks, from /proc.
type cpuSample struct {
	at            time.Time
	busy, own     float64 // own = self + srv + db
	self, srv, db float64
	ok            bool
}

// sampleCPU reads /proc/stat and the CPU time of this process (with the
// children it has waited for: onramp apply), of the server pid and, when
// dbPid is not 0, of that process and its children (a PostgreSQL postmaster
// and its backends; backends that exited are in the postmaster's children
// time).
func sampleCPU(pid, dbPid int) cpuSample {
	c := cpuSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return c
	}
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, _ := strconv.ParseFloat(f[i], 64)
		c.busy += v
	}
	self, err1 := procCPU("self", true)
	srv, err2 := procCPU(strconv.Itoa(pid), false)
	c.self, c.srv, c.ok = self, srv, err1 == nil && err2 == nil
	if dbPid != 0 {
		db, err := procCPU(strconv.Itoa(dbPid), true)
		c.db, c.ok = db+childrenCPU(dbPid), c.ok && err == nil
	}
	c.own = c.self + c.srv + c.db
	return c
}

// childrenCPU is the CPU time of the live children of ppid.
func childrenCPU(ppid int) float64 {
	dirs, _ := os.ReadDir("/proc")
	var t float64
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || f[1] != strconv.Itoa(ppid) { // f[1] is field 4, ppid
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		t += u + s
	}
	return t
}

// procCPU is utime+stime of /proc/PID/stat (and cutime+cstime with
// children), in clock ticks.
func procCPU(pid string, children bool) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, state
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	n := 2
	if children {
		n = 4
	}
	var t float64
	for _, s := range f[11 : 11+n] { // utime stime [cutime cstime]
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, err
		}
		t += v
	}
	return t, nil
}

// cpuPct is the percentage of the machine's CPU capacity that ticks a to b
// are, over the time between samples s0 and s1.
func cpuPct(s0, s1 cpuSample, a, b float64) float64 {
	el := s1.at.Sub(s0.at).Seconds()
	if !s0.ok || !s1.ok || el <= 0 {
		return -1
	}
	return (b - a) / 100 / (el * float64(runtime.NumCPU())) * 100
}

// othersCPU is the percentage of the machine's CPU capacity used between a
// and b by processes other than this run's, or -1 when unknown.
func othersCPU(a, b cpuSample) float64 {
	const ticks = 100 // USER_HZ on Linux
	el := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || el <= 0 {
		return -1
	}
	other := (b.busy - a.busy) - (b.own - a.own)
	return max(other, 0) / ticks / (el * float64(runtime.NumCPU())) * 100
}
