package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// kill -9 in the middle of a batch of 500 hires, while deliveries are in
// flight; a restart on the same database, and the hires that did not get
// an answer sent again. The receiver ends with exactly the desired state:
// every hire in both courses, nothing lost, no change under two ids.
func TestDeliveryKillMidBatch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		// A slowish receiver: deliveries are in flight when the kill comes.
		hooks.Faults.Add(lmstest.Fault{Delay: 10 * time.Millisecond})
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: hires, connector: hooks, courses: [H-1, H-2]}
rules:
  - {name: hires, group: Hires, bundles: [hires]}
`)
		gid := mustCreateGroup(t, inst, "Hires")

		const n, workers = 500, 8
		b := &hireBatch{gid: gid, names: make([]string, n), ids: make([]string, n), done: make([]bool, n)}
		prefix := uniq("h")
		for i := range n {
			b.names[i] = fmt.Sprintf("%s-%03d", prefix, i)
		}

		// Phase 1: hire concurrently; kill the server half way.
		var completed atomic.Int64
		var wg sync.WaitGroup
		work := make(chan int, n)
		for i := range n {
			work <- i
		}
		close(work)
		var killed atomic.Bool
		failures := make(chan error, n)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					if killed.Load() {
						continue
					}
					err := b.hire(t.Context(), inst, i)
					switch {
					case err == nil:
						b.done[i] = true
						completed.Add(1)
					case killed.Load():
						// No answer: the server died under it.
					default:
						failures <- err
					}
				}
			}()
		}
		var atKill struct{ hires, events int }
		waitFor(t, 2*time.Minute, "half the hires made and deliveries under way", func() error {
			h, e := int(completed.Load()), len(hooks.Deliveries())
			if (h >= n/2 && e >= 20) || h == n {
				atKill.hires, atKill.events = h, e
				return nil
			}
			return fmt.Errorf("%d hires made, %d deliveries accepted", h, e)
		})
		killed.Store(true)
		inst.kill(t)
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Errorf("hire before the kill: %v", err)
		}
		t.Logf("killed after %d of %d hires, with %d deliveries accepted", atKill.hires, n, atKill.events)
		if t.Failed() {
			t.FailNow()
		}

		// Phase 2: restart on the same database, finish the batch.
		inst = inst.restart(t)
		redo := make(chan int, n)
		for i := range n {
			if !b.done[i] {
				redo <- i
			}
		}
		close(redo)
		errs := make(chan error, n)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range redo {
					if err := b.hire(t.Context(), inst, i); err != nil {
						errs <- err
						continue
					}
					b.done[i] = true
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("hire after the restart: %v", err)
		}
		if t.Failed() {
			t.FailNow()
		}

		w := want{}
		for _, id := range b.ids {
			w[id] = map[string]string{"H-1": lmstest.StateActive, "H-2": lmstest.StateActive}
		}
		// A job running at the kill is rescued after job_timeout+rescue_after
		// at worst; the restart re-queues users with pending changes sooner.
		waitEnrolled(t, hooks, w, 3*time.Minute)
		inst.waitIdle(t, time.Minute)

		if got := len(hooks.Enrolled()); got != n {
			t.Errorf("receiver holds enrollments for %d users, want %d", got, n)
		}
		if got := len(hooks.Events()); got != 2*n {
			t.Errorf("receiver got %d distinct events, want %d (one per hire and course)", got, 2*n)
		}
		checkNoDoubles(t, hooks)
		t.Logf("%d deliveries, %d distinct, %d repeats", len(hooks.Deliveries()), len(hooks.Events()), hooks.Duplicates())
		if dead := deadLetters(t, inst); len(dead) > 0 {
			t.Errorf("dead letters: %v", dead)
		}
		if got := inst.total(t, "/scim/v2/Users?count=0"); got != n {
			t.Errorf("%d users after the batch, want %d", got, n)
		}
	})
}

// hireBatch is a batch of hires into one group, made by several goroutines.
type hireBatch struct {
	gid   string
	names []string
	ids   []string // by index, once created
	done  []bool   // by index: created and added to the group
}

// hire creates user i (or finds it, when an earlier try created it but
// its answer was lost) and adds it to the group. It may run on any
// goroutine, for a different i on each.
func (b *hireBatch) hire(ctx context.Context, inst *instance, i int) error {
	name := b.names[i]
	r, err := inst.send(ctx, http.MethodPost, "/scim/v2/Users", hireBody(name, "emp-"+name))
	if err != nil {
		return err
	}
	var id string
	switch r.Status {
	case http.StatusCreated:
		var u struct{ ID string }
		if err := json.Unmarshal(r.Body, &u); err != nil || u.ID == "" {
			return fmt.Errorf("%s: no id in %s", r.req, r)
		}
		id = u.ID
	case http.StatusConflict:
		// Created before the kill, answer lost: find it.
		r, err := inst.send(ctx, http.MethodGet, "/scim/v2/Users?"+filterQuery(fmt.Sprintf("userName eq %q", name)), nil)
		if err != nil {
			return err
		}
		var l struct{ Resources []struct{ ID string } }
		if err := json.Unmarshal(r.Body, &l); err != nil || len(l.Resources) != 1 {
			return fmt.Errorf("%s: want one user, got %s", r.req, r)
		}
		id = l.Resources[0].ID
	default:
		return fmt.Errorf("%s: got %s", r.req, r)
	}
	b.ids[i] = id
	r, err = inst.send(ctx, http.MethodPatch, "/scim/v2/Groups/"+b.gid,
		patchBody(op("add", "members", []map[string]any{{"value": id}})))
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
		return fmt.Errorf("%s: got %s", r.req, r)
	}
	return nil
}
