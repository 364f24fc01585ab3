// Package storetest is the conformance suite of package store: one set of
// behaviours, run against every dialect (store/sqlite_test.go,
// store/postgres_test.go), so that SQLite and PostgreSQL answer alike.
//
// It also gives other packages' tests their databases: [OpenSQLite] and
// [OpenPostgres] return migrated stores; [SQLiteURL] and [PostgresURL]
// return URLs for a binary under test to open itself.
//
// [RunMigrate] checks the migration lifecycle (Ready before and after
// Migrate) on a database of either dialect.
//
// A change of behaviour in store belongs here first, as a case that runs on
// both dialects.
package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// Run runs the conformance suite. open returns a new, migrated, empty store
// for each subtest; subtests run in parallel, so each needs its own database.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *store.Store)
	}{
		{"UserCRUD", testUserCRUD},
		{"UserUniqueness", testUserUniqueness},
		{"UserAttributesRoundTrip", testAttributesRoundTrip},
		{"UserInvalidValues", testUserInvalidValues},
		{"UserDerivedColumns", testDerivedColumns},
		{"UpdateUserAtomic", testUpdateUserAtomic},
		{"GroupCRUD", testGroupCRUD},
		{"GroupUniqueness", testGroupUniqueness},
		{"GroupMembership", testGroupMembership},
		{"GroupUnknownMember", testGroupUnknownMember},
		{"ReadGroup", testReadGroup},
		{"UserGroupsComputed", testUserGroups},
		{"DeleteCascades", testDeleteCascades},
		{"Tokens", testTokens},
		{"EnsureToken", testEnsureToken},
		{"Audit", testAudit},
		{"AuditQueries", testAuditQueries},
		{"FilterUsers", testFilterUsers},
		{"FilterGroups", testFilterGroups},
		{"FilterCaseFolding", testFilterCaseFolding},
		{"FilterErrors", testFilterErrors},
		{"Pagination", testPagination},
		{"ConcurrentGroupAdds", testConcurrentGroupAdds},
		{"ConcurrentUserUpdates", testConcurrentUserUpdates},
		{"ConcurrentMixedWrites", testConcurrentMixedWrites},
		{"Preconditions", testPreconditions},
		{"SortUsers", testSortUsers},
		{"SortGroups", testSortGroups},
		{"MembershipBumpsGroupVersion", testMembershipBumpsGroupVersion},
		{"RacingConditionalWrites", testRacingConditionalWrites},
		{"BundleCRUD", testBundleCRUD},
		{"RuleCRUD", testRuleCRUD},
		{"ChangeHook", testChangeHook},
		{"Enrollments", testEnrollments},
		{"SyncLeases", testSyncLeases},
		{"FindUserID", testFindUserID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// event returns an audit event as the SCIM layer would pass it.
func event(action string) store.Event {
	return store.Event{CorrelationID: "corr-" + action, Actor: "tester", Action: action, Status: 200}
}

// attrs is shorthand for a resource's attributes.
type attrs = map[string]any

func createUser(t *testing.T, s *store.Store, a attrs) *store.User {
	t.Helper()
	u := &store.User{Attributes: a}
	if err := s.CreateUser(t.Context(), u, event("user.create")); err != nil {
		t.Fatalf("CreateUser(%v): %v", a["userName"], err)
	}
	return u
}

func createGroup(t *testing.T, s *store.Store, name string, memberIDs ...string) *store.Group {
	t.Helper()
	g := &store.Group{Attributes: attrs{"displayName": name}}
	for _, id := range memberIDs {
		g.Members = append(g.Members, store.Member{Value: id})
	}
	if err := s.CreateGroup(t.Context(), g, event("group.create")); err != nil {
		t.Fatalf("CreateGroup(%q): %v", name, err)
	}
	return g
}

func getUser(t *testing.T, s *store.Store, id string) *store.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

func getGroup(t *testing.T, s *store.Store, id string) *store.Group {
	t.Helper()
	g, err := s.GetGroup(t.Context(), id, store.GroupOptions{WithMembers: true})
	if err != nil {
		t.Fatalf("GetGroup(%s): %v", id, err)
	}
	return g
}

// events returns the audit events of resource id, newest first.
func events(t *testing.T, s *store.Store, q store.AuditQuery) []store.Event {
	t.Helper()
	evs, err := s.ListEvents(t.Context(), q)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", q, err)
	}
	return evs
}

func countEvents(t *testing.T, s *store.Store) int {
	t.Helper()
	return len(events(t, s, store.AuditQuery{Limit: 100000}))
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func wantNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

// memberValues returns the values of members, in order.
func memberValues(members []store.Member) []string {
	out := []string{}
	for _, m := range members {
		out = append(out, m.Value)
	}
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}
