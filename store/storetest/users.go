package storetest

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onramp-dev/onramp/store"
)

func testUserCRUD(t *testing.T, s *store.Store) {
	ctx := t.Context()
	before := time.Now().UTC().Truncate(time.Second)
	u := createUser(t, s, attrs{"userName": "bjensen", "displayName": "Barbara Jensen", "active": true})

	id, err := uuid.Parse(u.ID)
	if err != nil || id.Version() != 7 {
		t.Fatalf("ID %q: want a UUIDv7 (err %v)", u.ID, err)
	}
	wantEqual(t, "Version", u.Version, int64(1))
	wantTime(t, "LastModified", u.LastModified, u.Created)
	if u.Created.Before(before) || u.Created.After(time.Now()) || u.Created.Nanosecond() != 0 || u.Created.Location() != time.UTC {
		t.Fatalf("Created %v: want now, whole seconds, UTC", u.Created)
	}

	got := getUser(t, s, u.ID)
	wantEqual(t, "ID", got.ID, u.ID)
	wantEqual(t, "Version", got.Version, int64(1))
	wantTime(t, "Created", got.Created, u.Created)
	wantTime(t, "LastModified", got.LastModified, u.LastModified)
	wantEqual(t, "Attributes", got.Attributes, u.Attributes)
	if len(got.Groups) != 0 {
		t.Fatalf("Groups: got %v, want none", got.Groups)
	}

	updated, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.Attributes["displayName"] = "Babs"
		return nil
	}, event("user.patch"))
	wantNoErr(t, "UpdateUser", err)
	wantEqual(t, "updated Version", updated.Version, int64(2))
	wantEqual(t, "updated ID", updated.ID, u.ID)
	wantTime(t, "updated Created", updated.Created, u.Created)
	if updated.LastModified.Before(u.LastModified) {
		t.Fatalf("LastModified went backwards: %v < %v", updated.LastModified, u.LastModified)
	}
	got = getUser(t, s, u.ID)
	wantEqual(t, "displayName after update", got.Attributes["displayName"], any("Babs"))
	wantEqual(t, "Version after update", got.Version, int64(2))

	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID, event("user.delete")))
	_, err = s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteUser again", s.DeleteUser(ctx, u.ID, event("user.delete")), store.ErrNotFound)
	_, err = s.UpdateUser(ctx, u.ID, func(*store.User) error { return nil }, event("user.patch"))
	wantErr(t, "UpdateUser after delete", err, store.ErrNotFound)

	for _, id := range []string{"", "nope", "\x00", "\xff\xfe", uuid.NewString()} {
		_, err := s.GetUser(ctx, id)
		wantErr(t, "GetUser("+id+")", err, store.ErrNotFound)
		wantErr(t, "DeleteUser("+id+")", s.DeleteUser(ctx, id, event("user.delete")), store.ErrNotFound)
	}
}

func testUserUniqueness(t *testing.T, s *store.Store) {
	ctx := t.Context()
	a := createUser(t, s, attrs{"userName": "bjensen"})
	b := createUser(t, s, attrs{"userName": "jsmith"})
	n := countEvents(t, s)

	for _, name := range []string{"bjensen", "BJensen", "BJENSEN"} {
		err := s.CreateUser(ctx, &store.User{Attributes: attrs{"userName": name}}, event("user.create"))
		wantErr(t, "CreateUser("+name+")", err, store.ErrAlreadyExists)
		if !strings.Contains(err.Error(), "userName") || !strings.Contains(err.Error(), name) {
			t.Errorf("error %q should name the attribute and the value", err)
		}
		for _, leak := range []string{"INSERT", "UNIQUE", "users", "constraint", "pq:", "sqlite"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("error %q leaks %q", err, leak)
			}
		}
	}
	// Renaming into a taken name fails the same way and changes nothing.
	_, err := s.UpdateUser(ctx, b.ID, func(u *store.User) error {
		u.Attributes["userName"] = "BJENSEN"
		return nil
	}, event("user.patch"))
	wantErr(t, "rename to a taken userName", err, store.ErrAlreadyExists)
	wantEqual(t, "userName after failed rename", getUser(t, s, b.ID).UserName(), "jsmith")
	wantEqual(t, "audit rows after failures", countEvents(t, s), n)

	// A user may change the case of its own name.
	_, err = s.UpdateUser(ctx, a.ID, func(u *store.User) error {
		u.Attributes["userName"] = "BJensen"
		return nil
	}, event("user.patch"))
	wantNoErr(t, "change the case of one's own userName", err)
	// A freed name is free.
	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, a.ID, event("user.delete")))
	createUser(t, s, attrs{"userName": "bjensen"})

	// Case is ignored for every script, as strings.EqualFold does (Unicode
	// simple case folding), on every dialect alike.
	jorg := createUser(t, s, attrs{"userName": "jörg@x"})
	n = countEvents(t, s)
	for _, name := range []string{"JÖRG@x", "Jörg@X", "jÖrg@x", "jörg@x"} {
		err := s.CreateUser(ctx, &store.User{Attributes: attrs{"userName": name}}, event("user.create"))
		wantErr(t, "CreateUser("+name+") after jörg@x", err, store.ErrAlreadyExists)
		if !strings.Contains(err.Error(), "userName") || !strings.Contains(err.Error(), name) {
			t.Errorf("error %q should name the attribute and the value", err)
		}
	}
	_, err = s.UpdateUser(ctx, b.ID, func(u *store.User) error {
		u.Attributes["userName"] = "JÖRG@X"
		return nil
	}, event("user.patch"))
	wantErr(t, "rename to a taken userName, other case of a non-ASCII letter", err, store.ErrAlreadyExists)
	wantEqual(t, "userName after failed rename", getUser(t, s, b.ID).UserName(), "jsmith")
	wantEqual(t, "audit rows after failures", countEvents(t, s), n)
	_, err = s.UpdateUser(ctx, jorg.ID, func(u *store.User) error {
		u.Attributes["userName"] = "JÖRG@X"
		return nil
	}, event("user.patch"))
	wantNoErr(t, "change the non-ASCII case of one's own userName", err)

	for _, tc := range []struct{ first, taken string }{
		{"émile", "ÉMILE"},
		{"σοφια", "ΣΟΦΙΑ"},        // Greek sigma, small and capital
		{"ςοφια2", "σοφια2"},      // and final
		{"kelvin", "\u212Aelvin"}, // KELVIN SIGN folds with K and k
		{"straße", "STRA\u1E9EE"}, // capital sharp s
	} {
		createUser(t, s, attrs{"userName": tc.first})
		err := s.CreateUser(ctx, &store.User{Attributes: attrs{"userName": tc.taken}}, event("user.create"))
		wantErr(t, "CreateUser("+tc.taken+") after "+tc.first, err, store.ErrAlreadyExists)
	}
	// Another letter is another name: a letter without its diacritic, a
	// transliteration, full case folding (ß is not ss), Turkish İ.
	for _, name := range []string{"jorg@x", "joerg@x", "Emile", "STRASSE", "\u0130d", "id"} {
		createUser(t, s, attrs{"userName": name})
	}
}

// testAttributesRoundTrip: what goes in comes out equal, on every dialect.
func testAttributesRoundTrip(t *testing.T, s *store.Store) {
	in := attrs{
		"userName":    "round.trip@example.com",
		"active":      false,
		"displayName": "Zoë \"Z\" <O'Brien> & co ✓ 日本",
		"nickName":    "",
		"title":       nil,
		"numbers":     []any{0.0, -3.0, 0.1, 1e21, 9007199254740993.0, 1.5e-300, math.MaxFloat64},
		"name":        attrs{"givenName": "Zoë", "familyName": "O'Brien", "empty": attrs{}},
		"emails": []any{
			attrs{"value": "z@example.com", "type": "work", "primary": true},
			attrs{"value": "z@home.example", "type": "home", "primary": false},
		},
		"mixed": []any{"a", 1.0, true, nil, []any{}, attrs{"k": "v"}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": attrs{
			"employeeNumber": "701984",
			"manager":        attrs{"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
		},
		"key.with.dots":     "x",
		"\\back\\slash":     "y\\z",
		"tab\tand\nnewline": "\t\n\r",
	}
	u := createUser(t, s, in)
	got := getUser(t, s, u.ID)
	wantEqual(t, "attributes after a round trip", got.Attributes, in)

	// An empty resource (but for the required userName) comes back as an
	// empty, non-nil map otherwise.
	v := createUser(t, s, attrs{"userName": "minimal"})
	wantEqual(t, "minimal attributes", getUser(t, s, v.ID).Attributes, attrs{"userName": "minimal"})
}

func testUserInvalidValues(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "valid"})
	n := countEvents(t, s)
	bad := map[string]attrs{
		"no userName":         {"displayName": "x"},
		"empty userName":      {"userName": ""},
		"userName not string": {"userName": 42.0},
		"NUL in userName":     {"userName": "a\x00b"},
		"NUL nested":          {"userName": "nul", "name": attrs{"givenName": "a\x00"}},
		"NUL in array":        {"userName": "nul", "emails": []any{attrs{"value": "\x00"}}},
		"bad UTF-8":           {"userName": "bad", "displayName": "\xff"},
		"bad UTF-8 key":       {"userName": "bad", "\xff": "x"},
		"NaN":                 {"userName": "nan", "score": math.NaN()},
		"Inf":                 {"userName": "inf", "score": math.Inf(1)},
	}
	for name, a := range bad {
		err := s.CreateUser(ctx, &store.User{Attributes: a}, event("user.create"))
		wantErr(t, "CreateUser: "+name, err, store.ErrInvalidValue)
		_, err = s.UpdateUser(ctx, u.ID, func(u *store.User) error {
			u.Attributes = a
			return nil
		}, event("user.patch"))
		wantErr(t, "UpdateUser: "+name, err, store.ErrInvalidValue)
	}
	wantEqual(t, "audit rows", countEvents(t, s), n)
	wantEqual(t, "user after refused updates", getUser(t, s, u.ID).Version, int64(1))
}

// testDerivedColumns: the indexed columns follow the attributes on every
// write, as seen through filters on them.
func testDerivedColumns(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "before", "externalId": "e1", "displayName": "D1"})
	match := func(c store.Cond) bool {
		t.Helper()
		p, err := s.ListUsers(ctx, store.ListQuery{Filter: c, Count: 10})
		wantNoErr(t, "ListUsers", err)
		return p.Total == 1
	}
	col := func(column string, v any) store.Cond {
		kind := store.KindString
		if _, ok := v.(bool); ok {
			kind = store.KindBoolean
		}
		return store.Compare{Field: store.Field{Column: column}, Op: store.OpEq, Kind: kind, Value: v, CaseExact: true}
	}
	if !match(col("user_name", "before")) || !match(col("external_id", "e1")) || !match(col("display_name", "D1")) || !match(col("active", true)) {
		t.Fatal("columns do not match the created attributes")
	}
	_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.Attributes = attrs{"userName": "after", "active": false}
		return nil
	}, event("user.put"))
	wantNoErr(t, "UpdateUser", err)
	if match(col("user_name", "before")) || !match(col("user_name", "after")) {
		t.Error("user_name did not follow userName")
	}
	anyCase := func(v string) store.Cond {
		return store.Compare{Field: store.Field{Column: "user_name"}, Op: store.OpEq, Kind: store.KindString, Value: v}
	}
	if match(anyCase("BEFORE")) || !match(anyCase("AFTER")) {
		t.Error("the case-insensitive key did not follow userName")
	}
	if match(store.Present{Field: store.Field{Column: "external_id"}}) || match(store.Present{Field: store.Field{Column: "display_name"}}) {
		t.Error("external_id or display_name kept a removed attribute")
	}
	if match(col("active", true)) || !match(col("active", false)) {
		t.Error("active did not follow the attribute")
	}
	_, err = s.UpdateUser(ctx, u.ID, func(u *store.User) error {
		delete(u.Attributes, "active")
		return nil
	}, event("user.patch"))
	wantNoErr(t, "UpdateUser", err)
	if !match(col("active", true)) {
		t.Error("an absent active attribute must count as active")
	}
}

// errFromFn is a caller's own error type, which must survive UpdateUser.
type errFromFn struct{ reason string }

func (e *errFromFn) Error() string { return "patch refused: " + e.reason }

func testUpdateUserAtomic(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := createUser(t, s, attrs{"userName": "atomic", "title": "Before"})
	n := countEvents(t, s)

	mine := &errFromFn{reason: "bad path"}
	_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.Attributes["title"] = "After"
		u.Attributes["userName"] = "renamed"
		return mine
	}, event("user.patch"))
	if err != mine { //nolint:errorlint // the very error, not a wrapper, is the contract
		t.Fatalf("UpdateUser returned %v (%T), want fn's error unchanged", err, err)
	}
	var target *errFromFn
	if !errors.As(err, &target) {
		t.Fatal("errors.As does not see fn's error")
	}
	// A wrapped sentinel from fn is also returned as is.
	wrapped := errors.Join(errors.New("context"), store.ErrNotFound)
	_, err = s.UpdateUser(ctx, u.ID, func(*store.User) error { return wrapped }, event("user.patch"))
	if err != wrapped { //nolint:errorlint // see above
		t.Fatalf("UpdateUser returned %v, want fn's error unchanged", err)
	}

	// A panic in fn rolls back and leaves the store usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic in fn did not reach the caller")
			}
		}()
		_, _ = s.UpdateUser(ctx, u.ID, func(u *store.User) error {
			u.Attributes["title"] = "Panicked"
			panic("boom")
		}, event("user.patch"))
	}()

	got := getUser(t, s, u.ID)
	wantEqual(t, "attributes after failed update", got.Attributes, attrs{"userName": "atomic", "title": "Before"})
	wantEqual(t, "version after failed update", got.Version, int64(1))
	wantEqual(t, "audit rows after failed update", countEvents(t, s), n)

	// fn sees the stored user, groups included, and cannot change what the
	// store owns.
	g := createGroup(t, s, "Seen", u.ID)
	out, err := s.UpdateUser(ctx, u.ID, func(in *store.User) error {
		if in.ID != u.ID || in.Version != 1 || len(in.Groups) != 1 || in.Groups[0].ID != g.ID {
			t.Errorf("fn got %+v", in)
		}
		in.ID, in.Version, in.Created = "other", 99, time.Time{}
		in.Attributes["title"] = "After"
		return nil
	}, event("user.patch"))
	wantNoErr(t, "UpdateUser", err)
	wantEqual(t, "ID", out.ID, u.ID)
	wantEqual(t, "Version", out.Version, int64(2))
	wantTime(t, "Created", out.Created, u.Created)
	wantEqual(t, "Groups", out.Groups, []store.GroupRef{{ID: g.ID, DisplayName: "Seen"}})
}
