package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// bundleKind serves bundles, /admin/v1/bundles. A bundle must name a
// configured connector; it is shown and stored with its on_deactivate
// policy written out.
type bundleKind struct {
	st         *store.Store
	connectors []lms.Spec
}

func (bundleKind) noun() string { return "bundle" }

func (k bundleKind) get(ctx context.Context, name string) (*stored[mapping.Bundle], error) {
	b, err := k.st.GetBundle(ctx, name)
	if err != nil {
		return nil, err
	}
	return storedBundle(b), nil
}

func (k bundleKind) list(ctx context.Context) ([]stored[mapping.Bundle], error) {
	bs, err := k.st.ListBundles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]stored[mapping.Bundle], 0, len(bs))
	for _, b := range bs {
		out = append(out, *storedBundle(b))
	}
	return out, nil
}

func (k bundleKind) put(ctx context.Context, b mapping.Bundle, ev store.Event, pre store.Precondition) (*stored[mapping.Bundle], error) {
	s, _, err := k.st.PutBundle(ctx, b, ev, pre)
	if err != nil {
		return nil, err
	}
	return storedBundle(s), nil
}

func (k bundleKind) del(ctx context.Context, name string, ev store.Event, pre store.Precondition) error {
	return k.st.DeleteBundle(ctx, name, ev, pre)
}

func storedBundle(b *store.Bundle) *stored[mapping.Bundle] {
	return &stored[mapping.Bundle]{def: b.Bundle.Normalize(), version: b.Version, created: b.Created, lastModified: b.LastModified}
}

func (bundleKind) name(b mapping.Bundle) string { return b.Name }

func (bundleKind) withName(b mapping.Bundle, name string) mapping.Bundle {
	b.Name = name
	return b
}

// prepare normalises b, so that a bundle sent without on_deactivate and
// one sent with "unenroll" are the same, and checks it, its connector
// included.
func (k bundleKind) prepare(b mapping.Bundle) (mapping.Bundle, []fieldProblem) {
	b = b.Normalize()
	problems := fieldProblems(b.Validate())
	connectorOK := !slices.ContainsFunc(problems, func(p fieldProblem) bool { return p.Field == "connector" })
	if connectorOK && !k.configured(b.Connector) {
		problems = append(problems, fieldProblem{Field: "connector", Detail: k.unknownConnector(b.Connector)})
	}
	return b, problems
}

func (k bundleKind) configured(name string) bool {
	return slices.ContainsFunc(k.connectors, func(s lms.Spec) bool { return s.Name == name })
}

func (k bundleKind) unknownConnector(name string) string {
	if len(k.connectors) == 0 {
		return fmt.Sprintf("%q is not a configured connector, and none is configured; add it to the config file", name)
	}
	names := make([]string, 0, len(k.connectors))
	for _, s := range k.connectors {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return fmt.Sprintf("%q is not a configured connector; configured: %s", name, strings.Join(names, ", "))
}

func (bundleKind) describe(b mapping.Bundle) string {
	return fmt.Sprintf("%s in connector %q, on_deactivate %s", plural(len(b.Courses), "course"), b.Connector, b.Policy())
}

func (bundleKind) changed(old, b mapping.Bundle) []string {
	var fields []string
	add := func(field string, differ bool) {
		if differ {
			fields = append(fields, field)
		}
	}
	add("connector", old.Connector != b.Connector)
	add("courses", !slices.Equal(old.Courses, b.Courses))
	add("description", old.Description != b.Description)
	add("on_deactivate", old.Policy() != b.Policy())
	return fields
}
