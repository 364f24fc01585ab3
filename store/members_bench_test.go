package store_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// BenchmarkGroupAddMember times adding one member to groups of growing
// size, through UpdateGroup as a SCIM PATCH without a response body uses
// it: the cost must not depend on the size of the group. Run it with
//
//	go test -run '^$' -bench GroupMember ./store/
//
// (and ONRAMP_TEST_POSTGRES_URL set for PostgreSQL).
func BenchmarkGroupAddMember(b *testing.B) {
	benchmarkMemberChange(b, func(u string) store.MemberChanges { return store.MemberChanges{Add: []string{u}} })
}

// BenchmarkGroupRemoveMember is BenchmarkGroupAddMember for removals: each
// iteration removes one member, which is put back outside the timer.
func BenchmarkGroupRemoveMember(b *testing.B) {
	benchmarkMemberChange(b, func(u string) store.MemberChanges { return store.MemberChanges{Remove: []string{u}} })
}

func benchmarkMemberChange(b *testing.B, change func(userID string) store.MemberChanges) {
	for _, db := range benchDatabases(b) {
		for _, size := range []int{10, 1000, 100000} {
			b.Run(fmt.Sprintf("db=%s/size=%d", db.name, size), func(b *testing.B) {
				s := db.open(b)
				ctx := b.Context()
				g := &store.Group{Attributes: map[string]any{"displayName": "big"}}
				if err := s.CreateGroup(ctx, g, store.Event{Action: "group.create"}); err != nil {
					b.Fatal(err)
				}
				members, err := s.SeedUsers(ctx, "member", size)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.SeedMembers(ctx, g.ID, members); err != nil {
					b.Fatal(err)
				}
				// Users to add: spare ones (none of them a member yet);
				// to remove: members, put back after each removal.
				spare, err := s.SeedUsers(ctx, "spare", 2000)
				if err != nil {
					b.Fatal(err)
				}
				removal := change("x").Remove != nil
				i := 0
				for b.Loop() {
					var u string
					if removal {
						u = members[i%len(members)]
					} else {
						if i == len(spare) {
							b.StopTimer()
							if spare, err = s.SeedUsers(ctx, fmt.Sprintf("spare%d", i), 2000); err != nil {
								b.Fatal(err)
							}
							i = 0
							b.StartTimer()
						}
						u = spare[i]
					}
					i++
					_, err := s.UpdateGroup(ctx, g.ID, func(*store.Group) (store.MemberChanges, error) {
						return change(u), nil
					}, store.Event{Action: "group.patch"}, store.GroupOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if removal {
						b.StopTimer()
						if err := s.SeedMembers(ctx, g.ID, []string{u}); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				}
			})
		}
	}
}

type benchDB struct {
	name string
	open func(t *testing.B) *store.Store
}

// benchDatabases is SQLite, and PostgreSQL when ONRAMP_TEST_POSTGRES_URL is set.
func benchDatabases(b *testing.B) []benchDB {
	dbs := []benchDB{{"sqlite", func(b *testing.B) *store.Store { s, _ := storetest.OpenSQLiteURL(b); return s }}}
	if os.Getenv(storetest.PostgresEnv) != "" {
		dbs = append(dbs, benchDB{"postgres", func(b *testing.B) *store.Store { s, _ := storetest.OpenPostgresURL(b); return s }})
	}
	return dbs
}
