package mapping

import (
	"slices"
	"testing"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want OnDeactivate }{
		{"", DeactivateUnenroll},
		{DeactivateUnenroll, DeactivateUnenroll},
		{DeactivateSuspend, DeactivateSuspend},
		{DeactivateKeep, DeactivateKeep},
	}
	for _, tt := range tests {
		if got := (Bundle{OnDeactivate: tt.in}).Policy(); got != tt.want {
			t.Errorf("Policy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	b := bundle("b", "hooks", "", "Z", "A")
	n := b.Normalize()
	if n.OnDeactivate != DeactivateUnenroll {
		t.Errorf("OnDeactivate = %q, want unenroll", n.OnDeactivate)
	}
	if n.Courses[0] != "Z" || n.Courses[1] != "A" {
		t.Errorf("Courses = %v, want the order kept", n.Courses)
	}
	n.Courses[0] = "changed"
	if b.Courses[0] != "Z" {
		t.Error("Normalize shares its Courses with the original")
	}
	if b.OnDeactivate != "" {
		t.Error("Normalize changed the original")
	}
}

func TestBundleEqual(t *testing.T) {
	t.Parallel()
	base := Bundle{Name: "b", Connector: "hooks", Courses: []string{"A", "B"}, Description: "d"}
	tests := []struct {
		name string
		edit func(*Bundle)
		want bool
	}{
		{"same", func(*Bundle) {}, true},
		{"default policy written out", func(b *Bundle) { b.OnDeactivate = DeactivateUnenroll }, true},
		{"other policy", func(b *Bundle) { b.OnDeactivate = DeactivateKeep }, false},
		{"other name", func(b *Bundle) { b.Name = "c" }, false},
		{"other connector", func(b *Bundle) { b.Connector = "moodle" }, false},
		{"other description", func(b *Bundle) { b.Description = "" }, false},
		{"course order", func(b *Bundle) { b.Courses = []string{"B", "A"} }, false},
		{"course added", func(b *Bundle) { b.Courses = append(b.Courses, "C") }, false},
	}
	for _, tt := range tests {
		o := base
		o.Courses = slices.Clone(base.Courses)
		tt.edit(&o)
		if got := base.Equal(o); got != tt.want {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.want)
		}
		if got := o.Equal(base); got != tt.want {
			t.Errorf("%s: Equal is not symmetric", tt.name)
		}
	}
	if !(Bundle{Courses: nil}).Equal(Bundle{Courses: []string{}}) {
		t.Error("nil and empty courses differ")
	}
}

func TestRuleEqual(t *testing.T) {
	t.Parallel()
	base := Rule{Name: "r", Group: "Engineering", Bundles: []string{"a", "b"}}
	tests := []struct {
		name string
		o    Rule
		want bool
	}{
		{"same", Rule{Name: "r", Group: "Engineering", Bundles: []string{"a", "b"}}, true},
		{"other name", Rule{Name: "s", Group: "Engineering", Bundles: []string{"a", "b"}}, false},
		{"group case", Rule{Name: "r", Group: "engineering", Bundles: []string{"a", "b"}}, false},
		{"by id instead", Rule{Name: "r", GroupID: "Engineering", Bundles: []string{"a", "b"}}, false},
		{"bundle order", Rule{Name: "r", Group: "Engineering", Bundles: []string{"b", "a"}}, false},
		{"bundle removed", Rule{Name: "r", Group: "Engineering", Bundles: []string{"a"}}, false},
	}
	for _, tt := range tests {
		if got := base.Equal(tt.o); got != tt.want {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !(Rule{Bundles: nil}).Equal(Rule{Bundles: []string{}}) {
		t.Error("nil and empty bundles differ")
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Rule
		g    Group
		want bool
	}{
		{"displayName, same", Rule{Group: "Engineering"}, eng, true},
		{"displayName, other case", Rule{Group: "eNGINEERING"}, eng, true},
		{"displayName, non-ASCII case", Rule{Group: "ÉQUIPE"}, Group{ID: "1", DisplayName: "équipe"}, true},
		{"displayName, Greek final sigma", Rule{Group: "ΟΔΟΣ"}, Group{ID: "1", DisplayName: "οδος"}, true},
		{"displayName, Kelvin sign folds to k", Rule{Group: "\u212Aey"}, Group{ID: "1", DisplayName: "key"}, true},
		{"displayName, no full folding", Rule{Group: "STRASSE"}, Group{ID: "1", DisplayName: "straße"}, false},
		{"displayName, accent matters", Rule{Group: "equipe"}, Group{ID: "1", DisplayName: "équipe"}, false},
		{"displayName, no trimming", Rule{Group: "Engineering "}, eng, false},
		{"displayName, prefix", Rule{Group: "Engineer"}, eng, false},
		{"displayName is not an id", Rule{Group: "g-eng"}, eng, false},
		{"group id, same", Rule{GroupID: "g-eng"}, eng, true},
		{"group id, other case", Rule{GroupID: "G-ENG"}, eng, false},
		{"group id is not a displayName", Rule{GroupID: "Engineering"}, eng, false},
		{"group id wins over displayName", Rule{GroupID: "g-other", Group: "Engineering"}, eng, false},
		{"empty rule, empty group", Rule{}, Group{}, false},
		{"empty rule, group without displayName", Rule{}, Group{ID: "g-x"}, false},
	}
	for _, tt := range tests {
		if got := tt.r.Matches(tt.g); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
