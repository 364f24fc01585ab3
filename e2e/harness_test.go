// Package e2e tests the real onramp binary over HTTP and its CLI, on SQLite
// and on PostgreSQL.
//
// TestMain builds the binary once; every instance runs a copy of it in its
// own temporary directory, so a test never touches the work tree. Tests wait
// by polling with a deadline (waitFor), never by sleeping, and never assert
// on wall-clock time.
//
// PostgreSQL comes from ONRAMP_TEST_POSTGRES_URL (see store/storetest);
// without it the postgres subtests skip, except in CI (CI=true), where they fail.
package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store/storetest"
)

// builtBinary is the onramp binary TestMain built; instances run copies of it.
var builtBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (the tests build and start the real binary)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "onramp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	builtBinary, err = buildBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary builds ./cmd/onramp of this module into dir.
func buildBinary(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the module")
	}
	bin := filepath.Join(dir, "onramp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/onramp")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/onramp: %w\n%s", err, out)
	}
	return bin, nil
}

// copyBinary puts the built binary into a fresh temporary directory of t:
// a hard link where possible, else a copy.
func copyBinary(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "onramp")
	if os.Link(builtBinary, dst) == nil {
		return dst
	}
	src, err := os.Open(builtBinary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// startCmd starts a copy of the prepared cmd and returns it, retrying while
// the kernel reports the binary busy: a child forked by another test while
// the binary was being copied briefly holds it open for writing
// (golang.org/issue/22315).
func startCmd(t *testing.T, prepared *exec.Cmd) *exec.Cmd {
	t.Helper()
	var cmd *exec.Cmd
	waitFor(t, startTimeout, "starting "+prepared.Path, func() error {
		cmd = exec.Command(prepared.Path, prepared.Args[1:]...)
		cmd.Dir, cmd.Env = prepared.Dir, prepared.Env
		cmd.Stdout, cmd.Stderr = prepared.Stdout, prepared.Stderr
		setProcAttr(cmd)
		err := cmd.Start()
		if errors.Is(err, syscall.ETXTBSY) {
			return err
		}
		if err != nil {
			return stopError{err}
		}
		return nil
	})
	return cmd
}

// forEachDB runs fn as the parallel subtests "sqlite" and "postgres", each
// with a fresh, empty database URL.
func forEachDB(t *testing.T, fn func(t *testing.T, db string)) {
	t.Helper()
	dbs := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", storetest.SQLiteURL},
		{"postgres", storetest.PostgresURL},
	}
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.url(t))
		})
	}
}

// Generous bounds: the point is to fail instead of hanging, not to measure.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 45 * time.Second
)

// instance is one running `onramp serve`.
type instance struct {
	db     string // database URL
	token  string // bootstrap secret: every scope
	base   string // http://127.0.0.1:PORT
	bin    string // this instance's copy of the binary
	client *http.Client

	opts   serveOptions // how it was started, for restart
	cmd    *exec.Cmd
	stderr *logBuffer
	stdout *logBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // from cmd.Wait, valid after done
	killed bool          // ended by kill: no clean exit expected

	termOnce, stopOnce sync.Once
}

// serveOptions are the settings of an instance beyond its database.
type serveOptions struct {
	token  string   // bootstrap secret; "" picks a random one
	config string   // --config FILE for serve and for cli; "" for none
	args   []string // more flags for serve
	env    []string // more KEY=VALUE environment for serve
}

// startOnramp starts `onramp serve` on db with a random bootstrap token and
// returns once /readyz answers 200. Cleanup stops it with SIGTERM and
// checks that it exits 0.
func startOnramp(t *testing.T, db string) *instance {
	t.Helper()
	return startOnrampWithToken(t, db, "e2e-bootstrap-"+randHex(16))
}

// startOnrampWithToken is startOnramp with a chosen bootstrap secret, for
// servers that share a database (each start makes its secret the bootstrap
// token's).
func startOnrampWithToken(t *testing.T, db, token string) *instance {
	t.Helper()
	return startOnrampWith(t, db, serveOptions{token: token})
}

// startOnrampWith is startOnramp with more settings: a config file, extra
// flags and environment.
func startOnrampWith(t *testing.T, db string, opts serveOptions) *instance {
	t.Helper()
	if opts.token == "" {
		opts.token = "e2e-bootstrap-" + randHex(16)
	}
	inst := &instance{
		db:     db,
		token:  opts.token,
		opts:   opts,
		bin:    copyBinary(t),
		stderr: newLogBuffer(),
		stdout: newLogBuffer(),
		done:   make(chan struct{}),
		// The timeout catches a hung server, not a slow one: under the
		// race detector, with other tests' servers on the same two
		// cores, a Bulk of 10,000 users has taken over 30 seconds.
		client: &http.Client{Timeout: 2 * time.Minute},
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--database", db}
	if opts.config != "" {
		args = append(args, "--config", opts.config)
	}
	cmd := exec.Command(inst.bin, append(args, opts.args...)...)
	cmd.Dir = filepath.Dir(inst.bin) // a stray default sqlite:onramp.db lands here, not in the tree
	cmd.Env = append(append(cleanEnv(), "ONRAMP_BOOTSTRAP_TOKEN="+inst.token), opts.env...)
	cmd.Stderr = inst.stderr
	cmd.Stdout = inst.stdout
	cmd = startCmd(t, cmd)
	inst.cmd = cmd
	go func() {
		inst.err = cmd.Wait()
		close(inst.done)
	}()
	t.Cleanup(func() {
		inst.stop(t)
		if t.Failed() {
			t.Logf("onramp serve on %s, its warnings and errors:\n%s\nand its last lines:\n%s",
				db, inst.stderr.problems(), tail(inst.stderr.String(), 3000))
		}
	})

	var addr string
	waitFor(t, startTimeout, "the \"listening\" log line", func() error {
		select {
		case <-inst.done:
			return stopError{fmt.Errorf("onramp serve exited before listening: %v\nstderr:\n%s", inst.err, inst.stderr.String())}
		default:
		}
		addr = inst.stderr.listenAddr()
		if addr == "" {
			return errors.New("not yet")
		}
		return nil
	})
	inst.base = "http://" + addr
	waitFor(t, startTimeout, "GET /readyz 200", func() error {
		select {
		case <-inst.done:
			return stopError{fmt.Errorf("onramp serve exited: %v\nstderr:\n%s", inst.err, inst.stderr.String())}
		default:
		}
		resp, err := inst.client.Get(inst.base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return inst
}

// stop sends SIGTERM, waits for the process to exit and checks that it
// exited 0. Calling it again does nothing.
func (inst *instance) stop(t *testing.T) {
	t.Helper()
	inst.stopOnce.Do(func() {
		inst.client.CloseIdleConnections()
		inst.terminate(t)
		select {
		case <-inst.done:
		case <-time.After(stopTimeout):
			_ = inst.cmd.Process.Kill()
			<-inst.done
			t.Errorf("onramp serve did not exit within %s of SIGTERM; killed", stopTimeout)
			return
		}
		if inst.err != nil && !inst.killed {
			t.Errorf("onramp serve exited with %v, want exit status 0\nstderr tail:\n%s", inst.err, tail(inst.stderr.String(), 4000))
		}
	})
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would, and
// waits for it to exit. Its cleanup then expects no clean exit.
func (inst *instance) kill(t *testing.T) {
	t.Helper()
	inst.killed = true
	inst.termOnce.Do(func() {}) // no SIGTERM after this
	if err := inst.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGKILL: %v", err)
	}
	select {
	case <-inst.done:
	case <-time.After(stopTimeout):
		t.Fatalf("onramp serve did not exit within %s of SIGKILL", stopTimeout)
	}
	inst.client.CloseIdleConnections()
}

// restart starts a new instance on the same database with the same
// settings (token, config, flags, environment); the old one must have
// exited (stop or kill).
func (inst *instance) restart(t *testing.T) *instance {
	t.Helper()
	select {
	case <-inst.done:
	default:
		t.Fatalf("restart: the previous onramp serve on %s is still running", inst.db)
	}
	return startOnrampWith(t, inst.db, inst.opts)
}

// terminate sends SIGTERM once: a second one would end the server at once,
// without its graceful shutdown.
func (inst *instance) terminate(t *testing.T) {
	t.Helper()
	inst.signal(t, syscall.SIGTERM)
}

// signal sends sig, unless a stop signal was sent already.
func (inst *instance) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	inst.termOnce.Do(func() {
		select {
		case <-inst.done:
			return
		default:
		}
		if err := inst.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("%v: %v", sig, err)
		}
	})
}

// cleanEnv is the environment without ONRAMP_* variables, so that the
// developer's own settings never leak into a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONRAMP_") {
			env = append(env, kv)
		}
	}
	return env
}

// cli runs `onramp ARGS... --database <the instance's database>`, with
// the instance's --config when it has one.
func (inst *instance) cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	args = append(slices.Clone(args), "--database", inst.db)
	if inst.opts.config != "" {
		args = append(args, "--config", inst.opts.config)
	}
	return runCLI(t, inst.bin, args...)
}

// cliResult is what a CLI command printed and how it exited.
type cliResult struct {
	Stdout, Stderr string
	Err            error
}

// mustCLI is cli, failing the test when the command fails.
func (inst *instance) mustCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	res := inst.cli(t, args...)
	if res.Err != nil {
		t.Fatalf("onramp %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.Err, res.Stdout, res.Stderr)
	}
	return res
}

// runCLI runs the binary bin with args and waits for it to exit.
func runCLI(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	cmd = startCmd(t, cmd)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("onramp %s did not finish within %s", strings.Join(args, " "), startTimeout)
	}
	return cliResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// stopError ends waitFor at once: retrying cannot help.
type stopError struct{ error }

// waitFor calls f until it returns nil, at growing intervals, and fails the
// test when timeout passes first or f returns a stopError.
func waitFor(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := 5 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return
		}
		var se stopError
		if errors.As(err, &se) {
			t.Fatalf("waiting for %s: %v", what, se.error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
		interval = min(interval*2, 250*time.Millisecond)
	}
}

// logBuffer collects a process's output; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLogBuffer() *logBuffer { return &logBuffer{} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns every complete line of the buffer that is a JSON object.
func (b *logBuffer) records() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// problems returns the lines that are not JSON records at level INFO.
func (b *logBuffer) problems() string {
	var out []string
	for _, line := range strings.Split(b.String(), "\n") {
		var rec struct{ Level string }
		if line == "" || (json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "INFO") {
			continue
		}
		out = append(out, line)
	}
	return tail(strings.Join(out, "\n"), 6000)
}

// listenAddr is the "addr" of the first log record with msg "listening".
func (b *logBuffer) listenAddr() string {
	for _, rec := range b.records() {
		if rec["msg"] != "listening" {
			continue
		}
		for _, key := range []string{"addr", "address", "listen"} {
			if s, ok := rec[key].(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uniq returns prefix followed by a short random suffix: names that never
// collide between tests sharing a server.
func uniq(prefix string) string { return prefix + "-" + randHex(4) }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
