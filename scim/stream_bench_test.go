package scim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// BenchmarkGetLargeGroup GETs a group of 100,000 members through the
// handler, by the library's path (the whole document built in memory, as
// before stream.go) and by the streaming path, into a writer that keeps
// nothing, so that only the server's memory is measured. Besides -benchmem
// it reports the document's size and the peak growth of the heap while
// answering (sampled; a lower bound). Run it with
//
//	go test -run '^$' -bench GetLargeGroup -benchmem ./scim/
//
// and ONRAMP_TEST_POSTGRES_URL set for PostgreSQL too.
func BenchmarkGetLargeGroup(b *testing.B) {
	dbs := []string{"sqlite"}
	if os.Getenv(storetest.PostgresEnv) != "" {
		dbs = append(dbs, "postgres")
	}
	for _, d := range dbs {
		for _, size := range []int{1000, 10000, 100000} {
			b.Run(fmt.Sprintf("db=%s/size=%d", d, size), func(b *testing.B) {
				h, id := largeGroupServer(b, d, size)
				for _, path := range []string{"library", "stream"} {
					b.Run("path="+path, func(b *testing.B) {
						target := "/Groups/" + id
						serve := func(w http.ResponseWriter) {
							r := httptest.NewRequest(http.MethodGet, target, nil)
							if path == "library" {
								h.viaLibrary(w, r, h.baseURL(r))
							} else {
								h.ServeHTTP(w, r)
							}
						}
						var peak uint64
						var n int
						for b.Loop() {
							b.StopTimer()
							runtime.GC() // so that each answer starts from the same heap
							w := &discardWriter{header: http.Header{}}
							b.StartTimer()
							p := measurePeak(func() { serve(w) })
							peak = max(peak, p)
							if w.status != http.StatusOK {
								b.Fatalf("status %d", w.status)
							}
							n = w.n
						}
						b.ReportMetric(float64(n), "doc-bytes")
						b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
					})
				}
			})
		}
	}
}

// largeGroupServer is a Handler on a new database holding a group of size
// members, and the group's id.
func largeGroupServer(b *testing.B, dbName string, size int) (*Handler, string) {
	b.Helper()
	open := storetest.OpenSQLiteURL
	if dbName == "postgres" {
		open = storetest.OpenPostgresURL
	}
	s, url := open(b)
	ids := storetest.SeedUsers(b, url, "member", size)
	g := &store.Group{Attributes: map[string]any{"displayName": "Everyone", "externalId": "all"}}
	for _, id := range ids {
		g.Members = append(g.Members, store.Member{Value: id})
	}
	if err := s.CreateGroup(b.Context(), g, store.Event{Action: "group.create"}); err != nil {
		b.Fatal(err)
	}
	return NewHandler(Config{Store: s, BaseURL: "https://onramp.test/scim/v2"}), g.ID
}

// measurePeak runs f and returns how far the heap's objects grew above
// where they were before it, sampled every 100µs.
func measurePeak(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var (
		peak uint64
		wg   sync.WaitGroup
	)
	done := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			if v := read(); v > peak {
				peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	if v := read(); v > peak {
		peak = v
	}
	if peak < base {
		return 0
	}
	return peak - base
}

// discardWriter is a ResponseWriter that counts what it is given and keeps
// nothing.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) Flush() {}
