// Command bench is Onramp's load generator (issue #3, item 9). It starts the
// real onramp binary on loopback, once per database (SQLite in a temporary
// file, PostgreSQL in a fresh database), drives it over HTTP and prints one
// table per database, and writes the same figures as JSON.
//
//	go run ./bench [--quick] [--users N] [--db sqlite,postgres] [--postgres URL] [--json FILE]
//	go run ./bench --phases delivery [--hires N] [--delivery-workers N] [--poll-interval D]
//
// Two phases per database: scim (the SCIM steps) and delivery (hires
// through to enrollments at a webhook receiver in this process, on a fresh
// database of its own; see delivery.go).
//
// Every step is bounded by a count and by a deadline; the server only ever
// listens on 127.0.0.1. scripts/bench.sh (make bench) builds the binaries and
// finds a PostgreSQL server.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver, to create and drop the benchmark's database
)

// header describes where the figures were taken.
type header struct {
	Started    time.Time `json:"started"`
	CPUs       int       `json:"cpus"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	Binary     string    `json:"binary"`
	Args       []string  `json:"args"`
	Quick      bool      `json:"quick"`
	Users      int       `json:"users"`
	Phases     string    `json:"phases"`
	Note       string    `json:"note"`
}

// dbResult is every figure for one database.
type dbResult struct {
	Name          string          `json:"name"` // sqlite or postgres
	Title         string          `json:"title"`
	Detail        string          `json:"detail,omitempty"`
	Skipped       string          `json:"skipped,omitempty"`
	ServerVersion string          `json:"server_version,omitempty"`
	Features      string          `json:"features,omitempty"`
	Population    int             `json:"population"`
	Steps         []stepResult    `json:"steps,omitempty"`
	Memory        *memResult      `json:"memory,omitempty"`
	Delivery      *deliveryResult `json:"delivery,omitempty"`
	Seconds       float64         `json:"seconds"`
	Notes         []string        `json:"notes,omitempty"`
}

type memResult struct {
	memory
	Target *verdict `json:"target,omitempty"`
}

type report struct {
	Header    header     `json:"header"`
	Databases []dbResult `json:"databases"`
}

type options struct {
	bin, dbs, pgURL, pgSkip, jsonPath, tmpdir string
	quick                                     bool
	serverArgs                                string
	cfg                                       config
	groupSizes                                string
	phases                                    string
	delivery                                  deliveryConfig
}

// phase reports whether the run includes phase (scim, delivery).
func (o *options) phase(name string) bool {
	for _, p := range strings.Split(o.phases, ",") {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	var o options
	fs := flag.NewFlagSet("onramp-bench", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "bin/onramp", "the onramp binary to start (make build)")
	fs.StringVar(&o.dbs, "db", "sqlite,postgres", "databases to run, in order")
	fs.StringVar(&o.pgURL, "postgres", "", "PostgreSQL server URL; a fresh database is created on it and dropped after (default $ONRAMP_TEST_POSTGRES_URL)")
	fs.StringVar(&o.pgSkip, "postgres-skip-reason", "", "why no PostgreSQL server is available (printed when --postgres is empty)")
	fs.StringVar(&o.jsonPath, "json", "bin/bench-results.json", "write the figures as JSON to this file")
	fs.StringVar(&o.tmpdir, "tmpdir", "", "directory for the SQLite database file (default: the system temporary directory); its file system matters, fsync is per commit")
	fs.BoolVar(&o.quick, "quick", false, "small sizes for a quick check: 5,000 users, 5 s steps, groups of 1k and 5k, 2,000-user Bulk")
	fs.IntVar(&o.cfg.users, "users", 100000, "population: users created before the other steps")
	fs.DurationVar(&o.cfg.seqTime, "seq-time", 60*time.Second, "deadline of the sequential-create step; the rest of the population is created with --concurrency clients")
	fs.DurationVar(&o.cfg.fillTime, "fill-time", 20*time.Minute, "deadline for creating the rest of the population")
	fs.IntVar(&o.cfg.concurrency, "concurrency", 16, "clients of the concurrent steps")
	fs.DurationVar(&o.cfg.duration, "duration", 10*time.Second, "length of each timed step (GET, filter, list, PATCH)")
	fs.IntVar(&o.cfg.maxOps, "max-ops", 2_000_000, "cap on the operations of one timed step")
	fs.IntVar(&o.cfg.bulkUsers, "bulk", 10000, "users in the Bulk load")
	fs.DurationVar(&o.cfg.bulkTime, "bulk-time", 5*time.Minute, "deadline of the Bulk load")
	fs.StringVar(&o.groupSizes, "groups", "1000,10000,100000", "group sizes for the member-add step")
	fs.IntVar(&o.cfg.chunk, "chunk", 1000, "members per PATCH while building a group")
	fs.IntVar(&o.cfg.memberAdds, "member-adds", 200, "single-member adds timed per group")
	fs.DurationVar(&o.cfg.groupTime, "group-time", 10*time.Minute, "deadline for building one group and timing its adds")
	fs.DurationVar(&o.cfg.reqTimeout, "request-timeout", 60*time.Second, "per-request timeout")
	fs.StringVar(&o.cfg.memberQuery, "member-add-query", "excludedAttributes=members", "query string of the timed member-add PATCH (empty: plain PATCH, whose answer may carry every member)")
	fs.StringVar(&o.serverArgs, "server-args", "", "extra arguments for onramp serve, space-separated")
	fs.StringVar(&o.phases, "phases", "scim,delivery", "phases to run on each database: scim (the SCIM steps), delivery (hires through to webhook enrollments, on a fresh database)")
	fs.IntVar(&o.delivery.seqHires, "seq-hires", 100, "delivery: hires one at a time, each waiting for its enrollments")
	fs.DurationVar(&o.delivery.seqPause, "seq-pause", 100*time.Millisecond, "delivery: pause after each one-at-a-time hire")
	fs.Float64Var(&o.delivery.offered, "offered-rate", 500, "delivery: enrollments/s offered in the paced run (3 per hire; the target is 500); 0 skips it")
	fs.IntVar(&o.delivery.pacedHires, "paced-hires", 2000, "delivery: hires in the paced run")
	fs.IntVar(&o.delivery.hires, "hires", 2000, "delivery: hires in the as-fast-as-possible run")
	fs.IntVar(&o.delivery.clients, "hire-clients", 16, "delivery: concurrent SCIM clients of the paced and fast runs")
	fs.IntVar(&o.delivery.backfill, "backfill", 2000, "delivery: members of a group given the bundle at once by onramp apply; 0 skips")
	fs.IntVar(&o.delivery.workers, "delivery-workers", 0, "delivery: delivery.workers in the server's config (0: leave the server's default)")
	fs.DurationVar(&o.delivery.poll, "poll-interval", 0, "delivery: delivery.poll_interval in the server's config (0: leave the server's default)")
	fs.DurationVar(&o.delivery.wait, "delivery-wait", 2*time.Minute, "delivery: how long a run waits after its last hire for its enrollments")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "onramp-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["postgres"] {
		o.pgURL = os.Getenv("ONRAMP_TEST_POSTGRES_URL")
	}
	if o.quick {
		quickDefault(set, "users", &o.cfg.users, 5000)
		quickDefault(set, "bulk", &o.cfg.bulkUsers, 2000)
		quickDefault(set, "member-adds", &o.cfg.memberAdds, 100)
		if !set["duration"] {
			o.cfg.duration = 5 * time.Second
		}
		if !set["groups"] {
			o.groupSizes = "1000,5000"
		}
		quickDefault(set, "seq-hires", &o.delivery.seqHires, 30)
		quickDefault(set, "paced-hires", &o.delivery.pacedHires, 600)
		quickDefault(set, "hires", &o.delivery.hires, 500)
		quickDefault(set, "backfill", &o.delivery.backfill, 500)
	}
	var err error
	if o.cfg.groupSizes, err = parseSizes(o.groupSizes); err != nil {
		fmt.Fprintln(os.Stderr, "onramp-bench: --groups:", err)
		return 2
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "onramp-bench:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	bin, _ := filepath.Abs(o.bin)
	h := header{
		Started: time.Now().UTC(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Binary: o.bin, Args: redactArgs(args), Quick: o.quick, Users: o.cfg.users, Phases: o.phases,
		Note: "load generator and server run on the same machine and share its CPUs; figures from a busy machine are noisy",
	}
	fmt.Printf("Onramp load test, %s\n", h.Started.Format(time.RFC3339))
	fmt.Printf("host: %d CPUs (GOMAXPROCS %d), %s %s/%s; load generator and server share the CPUs; loopback only\n",
		h.CPUs, h.GOMAXPROCS, h.GoVersion, h.OS, h.Arch)
	if o.phase("scim") {
		fmt.Printf("sizes: %d users, %d clients, %s per timed step, groups %s, Bulk %d users%s\n",
			o.cfg.users, o.cfg.concurrency, o.cfg.duration, o.groupSizes, o.cfg.bulkUsers, map[bool]string{true: " (--quick)"}[o.quick])
	}
	if o.phase("delivery") {
		dc := o.delivery
		fmt.Printf("delivery: %d hires one at a time, %d paced at %.0f enrollments/s, %d as fast as %d clients go, backfill of %d; workers %s, poll interval %s\n",
			dc.seqHires, dc.pacedHires, dc.offered, dc.hires, dc.clients, dc.backfill,
			orDefault(dc.workers > 0, strconv.Itoa(dc.workers)), orDefault(dc.poll > 0, dc.poll.String()))
	}

	rep := report{Header: h}
	failed := false
	for _, name := range strings.Split(o.dbs, ",") {
		name = strings.TrimSpace(name)
		if ctx.Err() != nil {
			break
		}
		var db dbResult
		switch name {
		case "sqlite":
			db = runSQLite(ctx, o, bin)
		case "postgres":
			db = runPostgres(ctx, o, bin)
		}
		if db.Name == "sqlite" && db.Skipped == "" {
			judge(&db)
		}
		if db.Skipped != "" && name == "sqlite" {
			failed = true
		}
		if db.Skipped != "" && name == "postgres" && o.pgURL != "" {
			failed = true // a server was given and the run failed: not a skip to shrug off
		}
		printTable(os.Stdout, h, &db)
		rep.Databases = append(rep.Databases, db)
		if err := writeJSON(o.jsonPath, rep); err != nil { // after each database, so an interrupted run keeps what it measured
			fmt.Fprintln(os.Stderr, "onramp-bench:", err)
			failed = true
		}
	}
	abs, _ := filepath.Abs(o.jsonPath)
	fmt.Printf("\nJSON: %s\n", abs)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "onramp-bench: interrupted")
		return 130
	}
	if failed {
		return 1
	}
	return 0
}

func quickDefault(set map[string]bool, name string, p *int, v int) {
	if !set[name] {
		*p = v
	}
}

func (o *options) validate() error {
	var errs []error
	c := o.cfg
	if c.users < 1 || c.concurrency < 1 || c.chunk < 1 || c.memberAdds < 0 || c.bulkUsers < 0 || c.maxOps < 1 {
		errs = append(errs, errors.New("--users, --concurrency, --chunk and --max-ops must be positive; --member-adds and --bulk not negative"))
	}
	for _, p := range strings.Split(o.phases, ",") {
		if n := strings.TrimSpace(p); n != "scim" && n != "delivery" {
			errs = append(errs, fmt.Errorf("--phases: unknown phase %q (want scim, delivery)", n))
		}
	}
	d := o.delivery
	if d.seqHires < 0 || d.pacedHires < 0 || d.hires < 0 || d.backfill < 0 || d.clients < 1 || d.workers < 0 || d.offered < 0 ||
		d.seqPause < 0 || d.poll < 0 || d.wait <= 0 {
		errs = append(errs, errors.New("--hire-clients and --delivery-wait must be positive; the other delivery sizes not negative"))
	}
	for _, d := range []time.Duration{c.seqTime, c.fillTime, c.duration, c.bulkTime, c.groupTime, c.reqTimeout} {
		if d <= 0 {
			errs = append(errs, errors.New("every duration must be positive"))
			break
		}
	}
	for _, name := range strings.Split(o.dbs, ",") {
		if n := strings.TrimSpace(name); n != "sqlite" && n != "postgres" {
			errs = append(errs, fmt.Errorf("--db: unknown database %q (want sqlite, postgres)", n))
		}
	}
	if _, err := os.Stat(o.bin); err != nil {
		errs = append(errs, fmt.Errorf("--bin %s: %w (build it with: make build)", o.bin, err))
	}
	return errors.Join(errs...)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive size", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes")
	}
	return out, nil
}

func writeJSON(path string, rep report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep ">= 2,000/s" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func progress(db string) func(string, ...any) {
	start := time.Now()
	return func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%s %6.1fs] %s\n", db, time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
}

func runSQLite(ctx context.Context, o options, bin string) dbResult {
	db := dbResult{Name: "sqlite", Title: "SQLite"}
	dir, err := os.MkdirTemp(o.tmpdir, "onramp-bench-sqlite-")
	if err != nil {
		db.Skipped = "temporary directory: " + err.Error()
		return db
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "onramp.db")
	fs := fsType(dir)
	db.Detail = fmt.Sprintf("sqlite:%s (file system %s; WAL, synchronous=FULL: an fsync per commit)", path, fs)
	switch dpath := filepath.Join(dir, "delivery.db"); {
	case o.phase("scim") && o.phase("delivery"):
		db.Detail = fmt.Sprintf("sqlite:%s (scim) and sqlite:%s (delivery) (file system %s; WAL, synchronous=FULL: an fsync per commit)", path, dpath, fs)
	case o.phase("delivery"):
		db.Detail = fmt.Sprintf("sqlite:%s (file system %s; WAL, synchronous=FULL: an fsync per commit)", dpath, fs)
	}
	if fs == "tmpfs" || fs == "ramfs" {
		db.Notes = append(db.Notes, "the database is on "+fs+", where fsync costs nothing: write figures are not durable; use --tmpdir on a disk")
	}
	if o.phase("scim") {
		drive(ctx, o, bin, "sqlite:"+path, &db)
		if size := fileSizes(path, path+"-wal"); size > 0 {
			db.Notes = append(db.Notes, fmt.Sprintf("database file and WAL at the end: %.0f MB", float64(size)/(1<<20)))
		}
	}
	if o.phase("delivery") && db.Skipped == "" && ctx.Err() == nil {
		runDelivery(ctx, o, bin, "sqlite:"+filepath.Join(dir, "delivery.db"), 0, &db)
	}
	return db
}

func runPostgres(ctx context.Context, o options, bin string) dbResult {
	db := dbResult{Name: "postgres", Title: "PostgreSQL"}
	if o.pgURL == "" {
		db.Skipped = "no server (set ONRAMP_TEST_POSTGRES_URL or --postgres, or install PostgreSQL so scripts/bench.sh can start one)"
		if o.pgSkip != "" {
			db.Skipped = o.pgSkip
		}
		return db
	}
	u, err := url.Parse(o.pgURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		db.Skipped = fmt.Sprintf("--postgres %q: not a postgres:// URL", redact(o.pgURL))
		return db
	}
	if err := checkLoopback(u.Host); err != nil && u.Hostname() != "localhost" {
		db.Notes = append(db.Notes, "PostgreSQL is not on loopback ("+u.Host+"): network latency is in the figures")
	}
	admin, err := sql.Open("postgres", o.pgURL)
	if err != nil {
		db.Skipped = err.Error()
		return db
	}
	defer admin.Close()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var version, fsync, syncCommit string
	err = admin.QueryRowContext(actx, `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&version, &fsync, &syncCommit)
	if err != nil {
		db.Skipped = "cannot connect to " + redact(o.pgURL) + ": " + err.Error()
		return db
	}
	pgPid := postmasterPid(actx, admin) // 0 unless the server runs on this machine
	// One fresh database per phase, dropped when the run ends.
	var names []string
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, name := range names {
			if _, err := admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "onramp-bench: drop database %s: %v\n", name, err)
			}
		}
	}()
	urls := map[string]string{}
	var described []string
	for _, ph := range []string{"scim", "delivery"} {
		if !o.phase(ph) {
			continue
		}
		name := "onramp_bench_" + randHex(6)
		if _, err := admin.ExecContext(actx, "CREATE DATABASE "+name); err != nil { // name is ours: hex
			db.Skipped = "create database: " + err.Error()
			return db
		}
		names = append(names, name)
		pu := *u
		pu.Path = "/" + name
		urls[ph] = pu.String()
		described = append(described, name+" ("+ph+")")
	}
	db.Detail = fmt.Sprintf("PostgreSQL %s, fresh database %s on %s (fsync=%s, synchronous_commit=%s)", version, strings.Join(described, " and "), u.Host, fsync, syncCommit)
	if fsync != "on" || syncCommit == "off" {
		db.Notes = append(db.Notes, "this PostgreSQL does not make commits durable (fsync or synchronous_commit off): write figures are optimistic")
	}
	if dbURL, ok := urls["scim"]; ok {
		drive(ctx, o, bin, dbURL, &db)
	}
	if dbURL, ok := urls["delivery"]; ok && db.Skipped == "" && ctx.Err() == nil {
		runDelivery(ctx, o, bin, dbURL, pgPid, &db)
	}
	// How many connections the server opened: a pool that closes and reopens
	// connections under load shows here as sessions in the order of requests.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	for i, name := range names {
		var sessions sql.NullInt64
		if err := admin.QueryRowContext(sctx, `SELECT sessions FROM pg_stat_database WHERE datname = $1`, name).Scan(&sessions); err != nil || !sessions.Valid {
			continue
		}
		if strings.HasSuffix(described[i], "(delivery)") {
			db.Notes = append(db.Notes, fmt.Sprintf("delivery: the server and onramp apply opened %d PostgreSQL sessions", sessions.Int64))
			continue
		}
		requests := 0
		for _, s := range db.Steps {
			if !strings.HasPrefix(s.Key, "delivery") {
				requests += s.Ops
			}
		}
		db.Notes = append(db.Notes, fmt.Sprintf("the server opened %d PostgreSQL sessions during the run (about %d requests were timed)", sessions.Int64, requests))
	}
	return db
}

// drive starts the server on database and runs every step against it.
func drive(ctx context.Context, o options, bin, database string, db *dbResult) {
	start := time.Now()
	defer func() { db.Seconds = time.Since(start).Seconds() }()
	say := progress(db.Name)
	say("starting %s", bin)
	p, err := startServer(ctx, bin, database, strings.Fields(o.serverArgs), 2*time.Minute)
	if err != nil {
		db.Skipped = "could not start onramp serve: " + err.Error()
		return
	}
	defer func() {
		if err := p.stop(45 * time.Second); err != nil {
			db.Notes = append(db.Notes, "stopping the server: "+err.Error())
		}
	}()
	cfg := o.cfg
	c := newClient(p.base, p.token, cfg.concurrency, cfg.reqTimeout)
	defer c.close()
	if v, err := c.do(ctx, "GET", "/healthz", nil, 200); err == nil {
		var hz struct{ Version string }
		_ = json.Unmarshal(v, &hz)
		db.ServerVersion = hz.Version
	}
	sp, err := c.serviceProviderConfig(ctx)
	if err != nil {
		db.Skipped = "GET /ServiceProviderConfig: " + err.Error()
		return
	}
	db.Features = fmt.Sprintf("bulk=%v etag=%v sort=%v", sp.Bulk.Supported, sp.Etag.Supported, sp.Sort.Supported)
	pid := p.cmd.Process.Pid
	b := &bench{cfg: cfg, c: c, progress: say, rss: func() float64 {
		m, err := readMemory(pid)
		if err != nil {
			return 0
		}
		return m.RSSMB
	}}

	add := func(steps ...stepResult) {
		if m, err := readMemory(pid); err == nil {
			for i := range steps {
				steps[i].RSSMB = m.RSSMB
			}
		}
		db.Steps = append(db.Steps, steps...)
	}
	add(b.population(ctx)...)
	db.Population = len(b.pop)
	if len(b.pop) == 0 {
		db.Notes = append(db.Notes, errNoPopulation.Error())
		return
	}
	for _, step := range []func(context.Context) stepResult{b.getByID, b.filterEq, b.listPages, b.patch} {
		if ctx.Err() != nil {
			return
		}
		add(step(ctx))
	}
	if cfg.memberAdds > 0 {
		if err := b.makeExtras(ctx, cfg.memberAdds); err != nil {
			db.Notes = append(db.Notes, "member adds skipped: "+err.Error())
		} else {
			for _, size := range cfg.groupSizes {
				if ctx.Err() != nil {
					return
				}
				add(b.memberAdds(ctx, size))
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	if cfg.bulkUsers > 0 {
		add(b.bulk(ctx, sp))
	}
	if m, err := readMemory(pid); err == nil {
		db.Memory = &memResult{memory: m}
	} else {
		db.Notes = append(db.Notes, "server memory: "+err.Error())
	}
	p.log.mu.Lock()
	if p.log.problems > 0 {
		db.Notes = append(db.Notes, fmt.Sprintf("the server logged %d warnings, errors or non-JSON lines (of %d); first: %s",
			p.log.problems, p.log.lines, strings.Join(p.log.firstBad, " | ")))
	}
	p.log.mu.Unlock()
}

// postmasterPid is the process id of the PostgreSQL server behind admin
// when it runs on this machine (the parent of this session's backend), or 0.
func postmasterPid(ctx context.Context, admin *sql.DB) int {
	var backend int
	if err := admin.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(backend), "stat"))
	i := bytes.LastIndexByte(b, ')')
	if err != nil || i < 0 {
		return 0 // not local, or no /proc
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || !strings.HasPrefix(string(b), strconv.Itoa(backend)+" (postgres") {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// fsType names the file system that holds dir, from /proc/mounts.
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	dir, _ = filepath.EvalSymlinks(dir)
	best, typ := "", "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mnt := f[1]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) >= len(best) {
			best, typ = mnt, f[2]
		}
	}
	return typ
}

func fileSizes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// redactArgs hides passwords in the URLs of args.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.Contains(a, "://") {
			if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") {
				out[i] = k + "=" + redact(v)
			} else {
				out[i] = redact(a)
			}
		}
	}
	return out
}

// redact hides a password in a database URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
