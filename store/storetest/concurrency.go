package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// writers is how many goroutines race in the concurrency cases.
const writers = 16

// testConcurrentGroupAdds: PATCH-adds of distinct members to one group, all
// at once, all land.
func testConcurrentGroupAdds(t *testing.T, s *store.Store) {
	ctx := t.Context()
	var ids []string
	for i := range writers {
		ids = append(ids, createUser(t, s, attrs{"userName": fmt.Sprintf("user%02d", i)}).ID)
	}
	g := createGroup(t, s, "Crowd")

	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			_, err := s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) {
				return store.MemberChanges{Add: []string{id}}, nil
			}, event("group.patch"), store.GroupOptions{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		wantNoErr(t, "concurrent UpdateGroup", err)
	}
	got := getGroup(t, s, g.ID)
	wantEqual(t, "members", memberValues(got.Members), sorted(ids))
	wantEqual(t, "version", got.Version, int64(1+writers))
	wantEqual(t, "audit rows", len(events(t, s, store.AuditQuery{ResourceID: g.ID})), 1+writers)
}

// testConcurrentUserUpdates: read-modify-write updates of one user, all at
// once, lose nothing.
func testConcurrentUserUpdates(t *testing.T, s *store.Store) {
	ctx := t.Context()
	const rounds = 3
	u := createUser(t, s, attrs{"userName": "counter", "count": 0.0})

	errs := make(chan error, writers*rounds)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error {
					n, _ := u.Attributes["count"].(float64)
					u.Attributes["count"] = n + 1
					return nil
				}, event("user.patch"))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		wantNoErr(t, "concurrent UpdateUser", err)
	}
	got := getUser(t, s, u.ID)
	wantEqual(t, "count", got.Attributes["count"], any(float64(writers*rounds)))
	wantEqual(t, "version", got.Version, int64(1+writers*rounds))
}
