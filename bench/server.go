package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one running `onramp serve`, started on a random loopback port.
type proc struct {
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:PORT
	token string
	dir   string // its working directory

	done chan struct{} // closed when the process has exited
	err  error         // from cmd.Wait, valid after done

	log *logTail
}

// logTail reads the server's standard error line by line: it finds the
// "listening" record, counts records by level and keeps the last lines, so
// that millions of access-log lines never pile up in memory or on disk.
type logTail struct {
	mu       sync.Mutex
	addr     string
	lines    int
	problems int      // records above INFO and lines that are not JSON
	last     []string // ring of the last lines
	firstBad []string // the first few problem lines
}

const tailLines = 40

func (l *logTail) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Addr  string `json:"addr"`
		}
		isJSON := json.Unmarshal(sc.Bytes(), &rec) == nil
		l.mu.Lock()
		l.lines++
		if isJSON && rec.Msg == "listening" && l.addr == "" {
			l.addr = rec.Addr
		}
		if !isJSON || (rec.Level != "INFO" && rec.Level != "DEBUG") {
			l.problems++
			if len(l.firstBad) < 5 {
				l.firstBad = append(l.firstBad, truncate(line, 600))
			}
		}
		l.last = append(l.last, truncate(line, 600))
		if len(l.last) > tailLines {
			l.last = l.last[len(l.last)-tailLines:]
		}
		l.mu.Unlock()
	}
}

func (l *logTail) listenAddr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}

// startServer starts bin serve on database with a random bootstrap token
// and returns once /readyz answers 200. extra arguments go to serve, env
// (KEY=VALUE) to its environment.
func startServer(ctx context.Context, bin, database string, extra []string, timeout time.Duration, env ...string) (*proc, error) {
	dir, err := os.MkdirTemp("", "onramp-bench-srv-")
	if err != nil {
		return nil, err
	}
	p := &proc{token: "bench-" + randHex(24), dir: dir, done: make(chan struct{}), log: &logTail{}}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--database", database}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir // a stray default sqlite:onramp.db lands here
	p.cmd.Env = append(append(cleanEnv(), env...), "ONRAMP_BOOTSTRAP_TOKEN="+p.token)
	p.cmd.Stdout = io.Discard
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	setProcAttr(p.cmd)
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	logDone := make(chan struct{})
	go func() { p.log.consume(stderr); close(logDone) }()
	go func() {
		<-logDone // Wait closes the pipe: read everything first
		p.err = p.cmd.Wait()
		close(p.done)
	}()

	deadline := time.Now().Add(timeout)
	for p.log.listenAddr() == "" {
		select {
		case <-p.done:
			return nil, fmt.Errorf("onramp serve exited before listening: %v\n%s", p.err, p.log)
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("no \"listening\" log line within %s\n%s", timeout, p.log)
		}
	}
	addr := p.log.listenAddr()
	if err := checkLoopback(addr); err != nil {
		p.kill()
		return nil, err
	}
	p.base = "http://" + addr
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := c.Get(p.base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("onramp serve exited: %v\n%s", p.err, p.log)
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("/readyz not 200 within %s (last error %v)\n%s", timeout, err, p.log)
		}
	}
}

// checkLoopback refuses any address that is not on the loopback interface:
// the load generator never sends traffic off the machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("server address %q is not loopback; refusing to send load to it", addr)
	}
	return nil
}

// stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
func (p *proc) stop(timeout time.Duration) error {
	defer os.RemoveAll(p.dir)
	select {
	case <-p.done:
		return fmt.Errorf("onramp serve had already exited: %v", p.err)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("onramp serve exited with %v", p.err)
		}
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("onramp serve did not exit within %s of SIGTERM; killed", timeout)
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	os.RemoveAll(p.dir)
}

// memory is what /proc/PID/status says of the server's memory.
type memory struct {
	RSSMB  float64 `json:"rss_mb"` // VmRSS: resident now
	PeakMB float64 `json:"hwm_mb"` // VmHWM: the most ever resident
}

// readMemory reads VmRSS and VmHWM of pid.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return memory{}, err
	}
	return parseStatus(string(b))
}

// parseStatus reads VmRSS and VmHWM (kB) from the text of /proc/PID/status.
func parseStatus(s string) (memory, error) {
	var m memory
	var found int
	for _, line := range strings.Split(s, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc status: cannot read %q", line)
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return m, fmt.Errorf("/proc status: %q: %w", line, err)
		}
		if key == "VmRSS" {
			m.RSSMB = kb / 1024
		} else {
			m.PeakMB = kb / 1024
		}
		found++
	}
	if found != 2 {
		return m, errors.New("/proc status: VmRSS or VmHWM missing")
	}
	return m, nil
}

// cleanEnv is the environment without ONRAMP_* variables, so that the
// developer's own settings never reach the server under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONRAMP_") {
			env = append(env, kv)
		}
	}
	return env
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
