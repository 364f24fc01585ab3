package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// problem is one expected FieldError: its field and a piece of its message.
type problem struct{ field, msg string }

func checkProblems(t *testing.T, err error, want []problem) {
	t.Helper()
	got := FieldErrors(err)
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate = nil, want %v", want)
	}
	if len(got) != len(want) {
		t.Fatalf("Validate reported %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i, w := range want {
		if got[i].Field != w.field || !strings.Contains(got[i].Msg, w.msg) {
			t.Errorf("problem %d = %q, want field %q with %q", i, got[i], w.field, w.msg)
		}
	}
}

func TestBundleValidate(t *testing.T) {
	t.Parallel()
	valid := func(edit func(*Bundle)) Bundle {
		b := Bundle{Name: "eng-onboarding", Connector: "hooks", Courses: []string{"SEC-101", "GIT-201"}}
		edit(&b)
		return b
	}
	badName := "is not a valid name"
	tests := []struct {
		name string
		b    Bundle
		want []problem
	}{
		{"valid", valid(func(*Bundle) {}), nil},
		{"valid, every field", valid(func(b *Bundle) {
			b.Description = "Engineering onboarding\nsecond line"
			b.OnDeactivate = DeactivateSuspend
		}), nil},
		{"valid policies", valid(func(b *Bundle) { b.OnDeactivate = DeactivateKeep }), nil},
		{"valid policy unenroll", valid(func(b *Bundle) { b.OnDeactivate = DeactivateUnenroll }), nil},
		{"one-character name", valid(func(b *Bundle) { b.Name = "a" }), nil},
		{"63-character name", valid(func(b *Bundle) { b.Name = strings.Repeat("a", 63) }), nil},
		{"name starting with a digit, with '_'", valid(func(b *Bundle) { b.Name = "2024_q1-hires" }), nil},
		{"non-ASCII course id", valid(func(b *Bundle) { b.Courses = []string{"Sécurité 101"} }), nil},
		{"255-byte course id", valid(func(b *Bundle) { b.Courses = []string{strings.Repeat("x", 255)} }), nil},
		{"1024-byte description", valid(func(b *Bundle) { b.Description = strings.Repeat("d", 1024) }), nil},

		{"name missing", valid(func(b *Bundle) { b.Name = "" }), []problem{{"name", "required"}}},
		{"name too long", valid(func(b *Bundle) { b.Name = strings.Repeat("a", 64) }), []problem{{"name", badName}}},
		{"name upper case", valid(func(b *Bundle) { b.Name = "Eng" }), []problem{{"name", badName}}},
		{"name with a space", valid(func(b *Bundle) { b.Name = "eng onboarding" }), []problem{{"name", badName}}},
		{"name with a dot", valid(func(b *Bundle) { b.Name = "eng.onboarding" }), []problem{{"name", badName}}},
		{"name with a slash", valid(func(b *Bundle) { b.Name = "eng/x" }), []problem{{"name", badName}}},
		{"name non-ASCII", valid(func(b *Bundle) { b.Name = "équipe" }), []problem{{"name", badName}}},
		{"name starting with '-'", valid(func(b *Bundle) { b.Name = "-eng" }), []problem{{"name", badName}}},
		{"name starting with '_'", valid(func(b *Bundle) { b.Name = "_eng" }), []problem{{"name", badName}}},

		{"connector missing", valid(func(b *Bundle) { b.Connector = "" }), []problem{{"connector", "required"}}},
		{"connector invalid", valid(func(b *Bundle) { b.Connector = "Hooks" }), []problem{{"connector", badName}}},

		{"courses missing", valid(func(b *Bundle) { b.Courses = nil }), []problem{{"courses", "at least one course"}}},
		{"courses empty list", valid(func(b *Bundle) { b.Courses = []string{} }), []problem{{"courses", "at least one course"}}},
		{"course empty", valid(func(b *Bundle) { b.Courses = []string{"SEC-101", ""} }), []problem{{"courses[1]", "must not be empty"}}},
		{"course blank", valid(func(b *Bundle) { b.Courses = []string{"  "} }), []problem{{"courses[0]", "blank"}}},
		{"course with a newline", valid(func(b *Bundle) { b.Courses = []string{"SEC\n101"} }), []problem{{"courses[0]", "control character"}}},
		{"course with NUL", valid(func(b *Bundle) { b.Courses = []string{"SEC\x00"} }), []problem{{"courses[0]", "control character"}}},
		{"course with DEL", valid(func(b *Bundle) { b.Courses = []string{"SEC\x7f"} }), []problem{{"courses[0]", "control character"}}},
		{"course with a C1 control", valid(func(b *Bundle) { b.Courses = []string{"SEC\u0085"} }), []problem{{"courses[0]", "control character"}}},
		{"course not UTF-8", valid(func(b *Bundle) { b.Courses = []string{"SEC\xff"} }), []problem{{"courses[0]", "UTF-8"}}},
		{"course too long", valid(func(b *Bundle) { b.Courses = []string{strings.Repeat("x", 256)} }), []problem{{"courses[0]", "256 bytes long; the limit is 255"}}},
		{"course too long in bytes, not characters", valid(func(b *Bundle) { b.Courses = []string{strings.Repeat("é", 128)} }), []problem{{"courses[0]", "the limit is 255"}}},
		{"course twice", valid(func(b *Bundle) { b.Courses = []string{"A", "B", "A"} }), []problem{{"courses[2]", `"A" is listed twice (also courses[0])`}}},
		{"course ids are case-sensitive", valid(func(b *Bundle) { b.Courses = []string{"a", "A"} }), nil},

		{"description too long", valid(func(b *Bundle) { b.Description = strings.Repeat("d", 1025) }), []problem{{"description", "1025 bytes long; the limit is 1024"}}},
		{"description not UTF-8", valid(func(b *Bundle) { b.Description = "\xc3" }), []problem{{"description", "UTF-8"}}},

		{"policy unknown", valid(func(b *Bundle) { b.OnDeactivate = "delete" }), []problem{{"on_deactivate", `"delete" is not one of unenroll, suspend, keep`}}},
		{"policy wrong case", valid(func(b *Bundle) { b.OnDeactivate = "Keep" }), []problem{{"on_deactivate", "not one of"}}},

		{"everything wrong at once", Bundle{
			Name:         "Bad Name",
			Courses:      []string{"", "X", "X"},
			Description:  strings.Repeat("d", 2000),
			OnDeactivate: "archive",
		}, []problem{
			{"name", badName},
			{"connector", "required"},
			{"courses[0]", "empty"},
			{"courses[2]", "twice"},
			{"description", "limit"},
			{"on_deactivate", "not one of"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, tt.b.Validate(), tt.want)
		})
	}
}

func TestRuleValidate(t *testing.T) {
	t.Parallel()
	valid := func(edit func(*Rule)) Rule {
		r := Rule{Name: "engineers", Group: "Engineering", Bundles: []string{"eng-onboarding"}}
		edit(&r)
		return r
	}
	tests := []struct {
		name string
		r    Rule
		want []problem
	}{
		{"valid by group", valid(func(*Rule) {}), nil},
		{"valid by group_id", valid(func(r *Rule) { r.Group, r.GroupID = "", "2819c223-7f76-453a-919d-413861904646" }), nil},
		{"valid, non-ASCII group", valid(func(r *Rule) { r.Group = "Équipe R&D" }), nil},
		{"valid, bundles not yet created", valid(func(r *Rule) { r.Bundles = []string{"later", "much-later"} }), nil},

		{"name missing", valid(func(r *Rule) { r.Name = "" }), []problem{{"name", "required"}}},
		{"name invalid", valid(func(r *Rule) { r.Name = "Engineers!" }), []problem{{"name", "not a valid name"}}},
		{"neither group nor group_id", valid(func(r *Rule) { r.Group = "" }), []problem{{"group", "one of group"}}},
		{"both group and group_id", valid(func(r *Rule) { r.GroupID = "g-eng" }), []problem{{"group", "only one of group and group_id"}}},
		{"group blank", valid(func(r *Rule) { r.Group = " " }), []problem{{"group", "blank"}}},
		{"group with a control character", valid(func(r *Rule) { r.Group = "Eng\tineering" }), []problem{{"group", "control character"}}},
		{"group not UTF-8", valid(func(r *Rule) { r.Group = "\xff" }), []problem{{"group", "UTF-8"}}},
		{"group_id with a control character", valid(func(r *Rule) { r.Group, r.GroupID = "", "g\r" }), []problem{{"group_id", "control character"}}},
		{"bundles missing", valid(func(r *Rule) { r.Bundles = nil }), []problem{{"bundles", "at least one bundle"}}},
		{"bundle name empty", valid(func(r *Rule) { r.Bundles = []string{"a", ""} }), []problem{{"bundles[1]", "required"}}},
		{"bundle name invalid", valid(func(r *Rule) { r.Bundles = []string{"Eng Onboarding"} }), []problem{{"bundles[0]", "not a valid name"}}},
		{"bundle twice", valid(func(r *Rule) { r.Bundles = []string{"a", "a"} }), []problem{{"bundles[1]", `"a" is listed twice (also bundles[0])`}}},

		{"everything wrong at once", Rule{Name: "", Group: "x", GroupID: "y", Bundles: []string{"B", "B"}}, []problem{
			{"name", "required"},
			{"group", "only one"},
			{"bundles[0]", "not a valid name"},
			{"bundles[1]", "twice"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkProblems(t, tt.r.Validate(), tt.want)
		})
	}
}

// TestValidateErrorText pins what an admin reads: one line per problem,
// each naming its field.
func TestValidateErrorText(t *testing.T) {
	t.Parallel()
	err := Bundle{Name: "eng", Courses: []string{"A", "A"}, OnDeactivate: "x"}.Validate()
	want := `connector: required
courses[1]: "A" is listed twice (also courses[0])
on_deactivate: "x" is not one of unenroll, suspend, keep`
	if err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	a, b := &FieldError{"name", "required"}, &FieldError{"courses", "at least one course is required"}
	tests := []struct {
		name string
		err  error
		want []*FieldError
	}{
		{"nil", nil, nil},
		{"one", a, []*FieldError{a}},
		{"joined", errors.Join(a, b), []*FieldError{a, b}},
		{"wrapped join", fmt.Errorf("bundle %q: %w", "x", errors.Join(a, b)), []*FieldError{a, b}},
		{"other errors are skipped", errors.Join(errors.New("boom"), b), []*FieldError{b}},
	}
	for _, tt := range tests {
		if got := FieldErrors(tt.err); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: FieldErrors = %v, want %v", tt.name, got, tt.want)
		}
	}
	var fe *FieldError
	if err := (Rule{}).Validate(); !errors.As(err, &fe) || fe.Field != "name" {
		t.Errorf("errors.As(Rule{}.Validate()) = %v", fe)
	}
}
