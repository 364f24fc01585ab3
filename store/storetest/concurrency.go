package storetest

import (
	"errors"
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

// testConcurrentMixedWrites: membership changes, user deletes, renames and
// a group delete racing each other neither deadlock nor fail, except with
// the errors their races make true (the user or group is gone), and leave
// no membership of a deleted user or group.
func testConcurrentMixedWrites(t *testing.T, s *store.Store) {
	ctx := t.Context()
	var users []string
	for i := range writers {
		users = append(users, createUser(t, s, attrs{"userName": fmt.Sprintf("m%02d", i)}).ID)
	}
	groups := []string{
		createGroup(t, s, "A", users...).ID,
		createGroup(t, s, "B", users[:writers/2]...).ID,
		createGroup(t, s, "C", users[writers/2:]...).ID,
	}
	errs := make(chan error, 4*writers)
	var wg sync.WaitGroup
	for i := range writers {
		g := groups[i%len(groups)]
		wg.Go(func() { // swap the membership of a group around
			add := []string{users[(i+1)%writers], users[(i+5)%writers]}
			_, err := s.UpdateGroup(ctx, g, func(*store.Group) (store.MemberChanges, error) {
				return store.MemberChanges{Replace: i%2 == 0, Remove: []string{users[i]}, Add: add}, nil
			}, event("group.patch"), store.GroupOptions{WithMembers: true})
			errs <- err
		})
		wg.Go(func() { // rename a user
			_, err := s.UpdateUser(ctx, users[(i+3)%writers], func(u *store.User) error {
				u.Attributes["displayName"] = fmt.Sprintf("renamed %d", i)
				return nil
			}, event("user.patch"))
			errs <- err
		})
		if i%3 == 0 {
			wg.Go(func() { errs <- s.DeleteUser(ctx, users[i], event("user.delete")) })
		}
	}
	wg.Go(func() { errs <- s.DeleteGroup(ctx, groups[2], event("group.delete")) })
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrUnknownMember) {
			t.Errorf("concurrent write: %v", err)
		}
	}

	_, err := s.GetGroup(ctx, groups[2], store.GroupOptions{})
	wantErr(t, "deleted group", err, store.ErrNotFound)
	for _, g := range groups[:2] {
		for _, m := range getGroup(t, s, g).Members {
			if _, err := s.GetUser(ctx, m.Value); err != nil {
				t.Errorf("group %s has member %s: %v", g, m.Value, err)
			}
		}
	}
	p, err := s.ListUsers(ctx, store.ListQuery{Count: writers})
	wantNoErr(t, "ListUsers", err)
	for _, u := range p.Resources {
		for _, ref := range u.Groups {
			if ref.ID == groups[2] {
				t.Errorf("user %s is still in the deleted group", u.UserName())
			}
		}
	}
}
