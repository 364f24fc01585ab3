package mapping

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what an admin may configure. Names are used in URLs, YAML keys,
// log fields and webhook payloads, so they are kept to a small, portable
// alphabet; course ids are whatever the LMS calls a course, so they are only
// kept printable and bounded.
const (
	MaxNameLen        = 63
	MaxCourseLen      = 255
	MaxDescriptionLen = 1024
)

// FieldError is one problem with one field of a [Bundle] or [Rule]. Validate
// joins every problem it finds with [errors.Join], so an admin sees them all
// in one response rather than fixing them one round trip at a time; use
// [FieldErrors] to take them apart again.
type FieldError struct {
	// Field is the JSON/YAML name of the field, with an index for an item
	// of a list: "connector", "courses[2]".
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldErrors returns every [FieldError] inside err, in order, looking
// through wrapping and [errors.Join].
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if fe, ok := err.(*FieldError); ok {
		return []*FieldError{fe}
	}
	var out []*FieldError
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
	case interface{ Unwrap() error }:
		out = FieldErrors(u.Unwrap())
	}
	return out
}

type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p problems) err() error { return errors.Join(p...) }

// Validate reports every problem with b at once, or nil.
func (b Bundle) Validate() error {
	var p problems
	p.name("name", b.Name)
	p.name("connector", b.Connector)
	p.list("courses", "course", b.Courses, func(field, v string) { p.id(field, v, MaxCourseLen) })
	p.text("description", b.Description, MaxDescriptionLen)
	switch b.OnDeactivate {
	case "", DeactivateUnenroll, DeactivateSuspend, DeactivateKeep:
	default:
		p.add("on_deactivate", "%q is not one of unenroll, suspend, keep", string(b.OnDeactivate))
	}
	return p.err()
}

// Validate reports every problem with r at once, or nil. A bundle a rule
// names need not exist yet: rules and bundles may be applied in any order,
// and a missing bundle simply contributes nothing.
func (r Rule) Validate() error {
	var p problems
	p.name("name", r.Name)
	switch {
	case r.Group == "" && r.GroupID == "":
		p.add("group", "one of group (a displayName) or group_id is required")
	case r.Group != "" && r.GroupID != "":
		p.add("group", "set only one of group and group_id, not both")
	case r.Group != "":
		p.id("group", r.Group, 0)
	default:
		p.id("group_id", r.GroupID, 0)
	}
	p.list("bundles", "bundle", r.Bundles, p.name)
	return p.err()
}

// list checks that a list is non-empty, each item with check, and that no
// item appears twice: a duplicate is almost always a copy-and-paste slip.
func (p *problems) list(field, noun string, items []string, check func(field, v string)) {
	if len(items) == 0 {
		p.add(field, "at least one %s is required", noun)
		return
	}
	seen := make(map[string]int, len(items))
	for i, v := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if j, dup := seen[v]; dup {
			p.add(f, "%q is listed twice (also %s[%d])", v, field, j)
			continue
		}
		seen[v] = i
		check(f, v)
	}
}

func (p *problems) name(field, v string) {
	switch {
	case v == "":
		p.add(field, "required")
	case !validName(v):
		p.add(field, "%q is not a valid name: use 1-%d lower-case letters, digits, '-' and '_', starting with a letter or digit", v, MaxNameLen)
	}
}

func validName(v string) bool {
	if len(v) == 0 || len(v) > MaxNameLen || v[0] == '-' || v[0] == '_' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// id checks an identifier chosen outside Onramp (a course id, a group): it
// must be non-blank and printable, and at most max bytes when max > 0.
func (p *problems) id(field, v string, max int) {
	if strings.TrimSpace(v) == "" {
		p.add(field, "must not be empty or blank")
		return
	}
	p.text(field, v, max)
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		p.add(field, "%q contains a control character", v)
	}
}

// text checks free text; a description may span lines, so control
// characters are allowed here.
func (p *problems) text(field, v string, max int) {
	if !utf8.ValidString(v) {
		p.add(field, "is not valid UTF-8")
	}
	if max > 0 && len(v) > max {
		p.add(field, "is %d bytes long; the limit is %d", len(v), max)
	}
}
