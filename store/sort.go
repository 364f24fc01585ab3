package store

import "fmt"

// Sort orders a list (RFC 7644 §3.4.2.3). Ties, and resources that lack
// the value, are ordered by id ascending, so pages are stable.
//
// Resources that lack the value (absent, JSON null, or a value of another
// type than Kind) come after every value in ascending order and before
// them in descending order: RFC 7644 does not say where they go, so the
// store follows LDAP's server-side sort (RFC 2891 §2.2), which treats a
// missing value as larger than any value, and descending is the reverse of
// ascending.
type Sort struct {
	// Field is what to sort by, as in [Compare]: a column or a JSON path
	// from the resource's root.
	Field Field
	// Element, when not nil, makes Field.Path a multi-valued attribute and
	// Element the path inside its elements of the value to sort by. The
	// element is the one with "primary": true, else the first (RFC 7644
	// §3.4.2.3). An empty, non-nil Element sorts by the element itself.
	Element []string
	// Kind is the type of the value; values of another type count as missing.
	Kind Kind
	// CaseExact false orders strings ignoring case: through the folded key
	// column for the userName of users and the displayName of groups (for
	// every script, as in filters), else with SQL lower() (ASCII letters
	// only, alike on both dialects). Order is by code point (byte order of
	// UTF-8) on both dialects; no locale applies.
	CaseExact bool
	// Desc sorts in descending order.
	Desc bool
}

// renderOrder writes the ORDER BY clause of a list over table (aliased r).
func renderOrder(d dialect, table string, s *Sort) (*sqlBuf, error) {
	b := &sqlBuf{}
	b.sql(" ORDER BY ")
	if s == nil {
		b.sql("r.id")
		return b, nil
	}
	r := &renderer{d: d, table: table, b: b}
	if err := r.sortKey(*s); err != nil {
		return nil, err
	}
	if s.Desc {
		b.sql(" DESC NULLS FIRST, r.id")
	} else {
		b.sql(" ASC NULLS LAST, r.id")
	}
	return b, nil
}

// sortKey writes the expression s sorts by.
func (r *renderer) sortKey(s Sort) error {
	if s.Kind == KindDateTime && s.Field.Column == "" {
		// dateTime values in the document are text in whatever form the
		// client sent; only the timestamp columns sort as instants.
		return fmt.Errorf("sort: a dateTime in the document cannot be sorted by")
	}
	if s.Element != nil {
		return r.elementSortKey(s)
	}
	if s.Field.Column != "" {
		return r.columnSortKey(s)
	}
	x, err := r.field(s.Field, s.Kind, nil)
	if err != nil {
		return fmt.Errorf("sort: %w", err)
	}
	r.foldedUnless(s, x.write)
	return nil
}

// columnSortKey sorts by a column, through its key column when it has one
// and the order ignores case.
func (r *renderer) columnSortKey(s Sort) error {
	x, err := r.field(s.Field, s.Kind, nil)
	if err != nil {
		return fmt.Errorf("sort: %w", err)
	}
	if s.Kind == KindString && !s.CaseExact && x.key != "" {
		r.b.sql(x.key)
		return nil
	}
	r.foldedUnless(s, x.write)
	return nil
}

// elementSortKey sorts by a value inside the primary, else first, element
// of a multi-valued attribute.
func (r *renderer) elementSortKey(s Sort) error {
	if s.Field.Column != "" {
		return fmt.Errorf("sort: column %q is not multi-valued", s.Field.Column)
	}
	ref, err := r.jsonRef(s.Field.Path, nil)
	if err != nil {
		return fmt.Errorf("sort: %w", err)
	}
	for _, seg := range s.Element {
		if err := checkSegment(seg); err != nil {
			return fmt.Errorf("sort: %w", err)
		}
	}
	t := jsonTypeOf(s.Kind)
	r.d.jsonPrimaryElem(r.b, ref, "s0", func(elem jsonRef) {
		r.foldedUnless(s, func() { r.d.jsonScalar(r.b, elem.child(s.Element), t) })
	})
	return nil
}

// foldedUnless writes the value, under lower() when s orders strings
// ignoring case.
func (r *renderer) foldedUnless(s Sort, write func()) {
	if s.Kind != KindString || s.CaseExact {
		write()
		return
	}
	r.b.sql("lower(")
	write()
	r.b.sql(")")
}

// jsonTypeOf is the JSON type a value of kind k is read as.
func jsonTypeOf(k Kind) jsonType {
	switch k {
	case KindNumber:
		return jsonNumber
	case KindBoolean:
		return jsonBoolean
	}
	return jsonString
}
