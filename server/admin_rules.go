package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// ruleKind serves rules, /admin/v1/rules. A rule may name bundles that do
// not exist yet: bundles and rules may be written in any order.
type ruleKind struct {
	st *store.Store
}

func (ruleKind) noun() string { return "rule" }

func (k ruleKind) get(ctx context.Context, name string) (*stored[mapping.Rule], error) {
	r, err := k.st.GetRule(ctx, name)
	if err != nil {
		return nil, err
	}
	return storedRule(r), nil
}

func (k ruleKind) list(ctx context.Context) ([]stored[mapping.Rule], error) {
	rs, err := k.st.ListRules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]stored[mapping.Rule], 0, len(rs))
	for _, r := range rs {
		out = append(out, *storedRule(r))
	}
	return out, nil
}

func (k ruleKind) put(ctx context.Context, r mapping.Rule, ev store.Event, pre store.Precondition) (*stored[mapping.Rule], error) {
	s, _, err := k.st.PutRule(ctx, r, ev, pre)
	if err != nil {
		return nil, err
	}
	return storedRule(s), nil
}

func (k ruleKind) del(ctx context.Context, name string, ev store.Event, pre store.Precondition) error {
	return k.st.DeleteRule(ctx, name, ev, pre)
}

func storedRule(r *store.Rule) *stored[mapping.Rule] {
	return &stored[mapping.Rule]{def: r.Rule, version: r.Version, created: r.Created, lastModified: r.LastModified}
}

func (ruleKind) name(r mapping.Rule) string { return r.Name }

func (ruleKind) withName(r mapping.Rule, name string) mapping.Rule {
	r.Name = name
	return r
}

func (ruleKind) prepare(r mapping.Rule) (mapping.Rule, []fieldProblem) {
	return r, fieldProblems(r.Validate())
}

func (ruleKind) describe(r mapping.Rule) string {
	group := fmt.Sprintf("group %q", r.Group)
	if r.GroupID != "" {
		group = fmt.Sprintf("group id %q", r.GroupID)
	}
	noun := "bundles"
	if len(r.Bundles) == 1 {
		noun = "bundle"
	}
	return fmt.Sprintf("%s to %s %s", group, noun, strings.Join(r.Bundles, ", "))
}

func (ruleKind) changed(old, r mapping.Rule) []string {
	var fields []string
	if old.Group != r.Group {
		fields = append(fields, "group")
	}
	if old.GroupID != r.GroupID {
		fields = append(fields, "group_id")
	}
	if !slices.Equal(old.Bundles, r.Bundles) {
		fields = append(fields, "bundles")
	}
	return fields
}
