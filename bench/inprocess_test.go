package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// inProcess serves Onramp's real handler from this process on loopback,
// over a fresh SQLite file (or ONRAMP_BENCH_DATABASE), so that the steps
// can be tested quickly and the server profiled with go test -cpuprofile:
//
//	go test ./bench -run '^$' -bench InProcess -cpuprofile cpu.out
//	go tool pprof -top bench.test cpu.out
//
// Set ONRAMP_BENCH_ACCESS_LOG=1 to keep the JSON access log the binary
// writes (to io.Discard), which the real server pays for on every request.
func inProcess(tb testing.TB) *client {
	tb.Helper()
	ctx := context.Background()
	dbURL := os.Getenv("ONRAMP_BENCH_DATABASE")
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(tb.TempDir(), "onramp.db")
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	secret := "bench-" + randHex(16)
	if err := st.EnsureToken(ctx, store.Token{Name: "bootstrap", Scopes: server.AllScopes(), Hash: server.HashTokenSecret(secret)}); err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("ONRAMP_BENCH_ACCESS_LOG") != "" {
		logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	h, err := server.New(server.Config{Store: st, Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	c := newClient(srv.URL, secret, 16, 30*time.Second)
	tb.Cleanup(c.close)
	return c
}

// TestStepsInProcess runs every step, tiny, against the real handler.
func TestStepsInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and creates users")
	}
	c := inProcess(t)
	cfg := config{
		users: 60, seqTime: 10 * time.Second, fillTime: 10 * time.Second, concurrency: 4,
		duration: 200 * time.Millisecond, maxOps: 1000, bulkUsers: 20, bulkTime: 10 * time.Second,
		groupSizes: []int{10, 50}, chunk: 7, memberAdds: 5, groupTime: 10 * time.Second,
		reqTimeout: 10 * time.Second, memberQuery: "excludedAttributes=members",
	}
	b := &bench{cfg: cfg, c: c, progress: t.Logf}
	ctx := t.Context()
	steps := b.population(ctx)
	if len(b.pop) != cfg.users {
		t.Fatalf("population %d, want %d: %+v", len(b.pop), cfg.users, steps)
	}
	for _, f := range []func(context.Context) stepResult{b.getByID, b.filterEq, b.listPages, b.patch} {
		steps = append(steps, f(ctx))
	}
	if err := b.makeExtras(ctx, cfg.memberAdds); err != nil {
		t.Fatal(err)
	}
	for _, size := range cfg.groupSizes {
		steps = append(steps, b.memberAdds(ctx, size))
	}
	sp, err := c.serviceProviderConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	steps = append(steps, b.bulk(ctx, sp))
	for _, s := range steps {
		if s.Skipped != "" {
			if s.Key == "bulk" && !sp.Bulk.Supported {
				continue
			}
			t.Errorf("%s: skipped: %s", s.Name, s.Skipped)
			continue
		}
		if s.Ops == 0 || s.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors %v", s.Name, s.Ops, s.Errors, s.FirstErrors)
		}
	}
}

// benchPopulation creates n users for a benchmark.
func benchPopulation(b *testing.B, c *client, n int) *bench {
	b.Helper()
	bb := &bench{cfg: config{users: n, seqTime: time.Minute, fillTime: 5 * time.Minute, concurrency: 8}, c: c, progress: func(string, ...any) {}}
	bb.population(context.Background())
	if len(bb.pop) != n {
		b.Fatalf("population %d, want %d", len(bb.pop), n)
	}
	return bb
}

// BenchmarkInProcess measures the server's handler from this process: the
// profile then shows where the server spends its time per request.
func BenchmarkInProcess(b *testing.B) {
	c := inProcess(b)
	bb := benchPopulation(b, c, 2000)
	ctx := context.Background()
	b.Run("GetUser", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if _, err := c.do(ctx, http.MethodGet, "/scim/v2/Users/"+bb.ids[bb.randomUser(rng)], nil, http.StatusOK); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("FilterUserName", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				q := "/scim/v2/Users?filter=" + url.QueryEscape(fmt.Sprintf("userName eq %q", userName("u", bb.randomUser(rng))))
				if _, err := c.do(ctx, http.MethodGet, q, nil, http.StatusOK); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("CreateUserSequential", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := c.createUser(ctx, "seq", i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Healthz", func(b *testing.B) { // the HTTP floor: no auth, no database
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.do(ctx, http.MethodGet, "/healthz", nil, http.StatusOK); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
