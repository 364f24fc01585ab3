package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

// mappingFile is what `onramp apply -f` reads: the same bundles and rules
// as the admin API, in YAML.
type mappingFile struct {
	Bundles []mapping.Bundle `yaml:"bundles"`
	Rules   []mapping.Rule   `yaml:"rules"`
}

type applyOpts struct {
	File   string
	Prune  bool
	DryRun bool
}

func (o *applyOpts) Validate() error {
	if o.File == "" {
		return errors.New("-f FILE is required (use - for standard input)")
	}
	return nil
}

func (a *app) applyCmd() *cobra.Command {
	var opts applyOpts
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--prune] [--dry-run]",
		Short: "Create or update bundles and rules from a YAML file",
		Long: `Create or update the bundles and rules a YAML file declares, and print each
change. Applying the same file again changes nothing. With --prune, bundles
and rules that are not in the file are deleted. With --dry-run, nothing is
written: the changes are only printed.

Each change queues a sync of exactly the users whose enrollments it can
alter; a running server delivers them. Connectors are checked against the
config file (--config).`,
		Example: "  onramp apply -f bundles.yaml --dry-run\n  onramp apply -f bundles.yaml --prune",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.validate(cmd, &opts, nil); err != nil {
				return err
			}
			return a.apply(cmd.Context(), cmd.InOrStdin(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.File, "file", "f", "", "the YAML file of bundles and rules, or - for standard input")
	f.BoolVar(&opts.Prune, "prune", false, "delete bundles and rules that the file does not declare")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would change and write nothing")
	return cmd
}

func (a *app) apply(ctx context.Context, stdin io.Reader, opts applyOpts) error {
	cfg, err := loadConfig(a.config)
	if err != nil {
		return err
	}
	file, err := readMappingFile(opts.File, stdin, cfg.Connectors)
	if err != nil {
		return err
	}
	return a.withStore(ctx, func(st *store.Store) error {
		if _, err := a.queue(ctx, st, cfg); err != nil {
			return err
		}
		changes, err := planApply(ctx, st, file, opts.Prune)
		if err != nil {
			return err
		}
		ev := store.Event{CorrelationID: reqctx.NewCorrelationID(), Actor: cliActor}
		for _, c := range changes {
			if !opts.DryRun {
				if err := c.do(ctx, st, ev); err != nil {
					return fmt.Errorf("%s: %w", c.describe(), err)
				}
			}
			fmt.Fprintln(a.stdout, c.describe())
		}
		a.applySummary(changes, opts.DryRun, ev.CorrelationID)
		return nil
	})
}

func (a *app) applySummary(changes []applyChange, dryRun bool, correlationID string) {
	switch {
	case len(changes) == 0:
		fmt.Fprintln(a.stdout, "no changes")
	case dryRun:
		fmt.Fprintf(a.stdout, "dry run: %d changes, none made\n", len(changes))
	default:
		fmt.Fprintf(a.stdout, "%d changes made (correlation id %s)\n", len(changes), correlationID)
	}
}

// readMappingFile decodes and checks a mapping file: every problem at once.
func readMappingFile(path string, stdin io.Reader, connectors []lms.Spec) (*mappingFile, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f mappingFile
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.check(connectors); err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	return &f, nil
}

// check validates every bundle and rule, names used twice, and connectors
// the config file does not have.
func (f *mappingFile) check(connectors []lms.Spec) error {
	var errs []error
	names := map[string]bool{}
	for _, c := range connectors {
		names[c.Name] = true
	}
	seen := map[string]bool{}
	for i, b := range f.Bundles {
		if err := b.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("bundles[%d] %q: %w", i, b.Name, err))
		}
		if b.Connector != "" && !names[b.Connector] {
			errs = append(errs, fmt.Errorf("bundles[%d] %q: connector %q is not in the config file", i, b.Name, b.Connector))
		}
		if seen[b.Name] {
			errs = append(errs, fmt.Errorf("bundles[%d]: the name %q is used twice", i, b.Name))
		}
		seen[b.Name] = true
	}
	seen = map[string]bool{}
	for i, r := range f.Rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d] %q: %w", i, r.Name, err))
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("rules[%d]: the name %q is used twice", i, r.Name))
		}
		seen[r.Name] = true
	}
	return errors.Join(errs...)
}

// applyChange is one write apply makes.
type applyChange struct {
	verb, kind, name string // "create"/"update"/"delete", "bundle"/"rule"
	do               func(ctx context.Context, st *store.Store, ev store.Event) error
}

func (c applyChange) describe() string { return c.verb + " " + c.kind + " " + c.name }

// planApply compares the file with the database. Bundles are written
// before the rules that may name them, and rules deleted before bundles.
func planApply(ctx context.Context, st *store.Store, f *mappingFile, prune bool) ([]applyChange, error) {
	bundles, err := st.ListBundles(ctx)
	if err != nil {
		return nil, err
	}
	rules, err := st.ListRules(ctx)
	if err != nil {
		return nil, err
	}
	storedB := map[string]mapping.Bundle{}
	for _, b := range bundles {
		storedB[b.Name] = b.Bundle
	}
	storedR := map[string]mapping.Rule{}
	for _, r := range rules {
		storedR[r.Name] = r.Rule
	}
	var out []applyChange
	for _, b := range f.Bundles {
		b = b.Normalize()
		old, ok := storedB[b.Name]
		if ok && old.Equal(b) {
			continue
		}
		out = append(out, applyChange{verb: verb(ok), kind: "bundle", name: b.Name,
			do: func(ctx context.Context, st *store.Store, ev store.Event) error {
				ev.Action = "bundle." + verb(ok)
				ev.Summary = fmt.Sprintf("%sd bundle %q with onramp apply: %d courses in connector %q, on_deactivate %s", verb(ok), b.Name, len(b.Courses), b.Connector, b.Policy())
				_, _, err := st.PutBundle(ctx, b, ev)
				return err
			}})
	}
	for _, r := range f.Rules {
		old, ok := storedR[r.Name]
		if ok && old.Equal(r) {
			continue
		}
		out = append(out, applyChange{verb: verb(ok), kind: "rule", name: r.Name,
			do: func(ctx context.Context, st *store.Store, ev store.Event) error {
				ev.Action = "rule." + verb(ok)
				ev.Summary = fmt.Sprintf("%sd rule %q with onramp apply: group %s to bundles %v", verb(ok), r.Name, ruleGroup(r), r.Bundles)
				_, _, err := st.PutRule(ctx, r, ev)
				return err
			}})
	}
	if prune {
		out = append(out, prunes(f, storedB, storedR)...)
	}
	return out, nil
}

// prunes deletes what the file does not declare: rules first.
func prunes(f *mappingFile, storedB map[string]mapping.Bundle, storedR map[string]mapping.Rule) []applyChange {
	var out []applyChange
	for _, name := range sortedKeys(storedR) {
		if slices.ContainsFunc(f.Rules, func(r mapping.Rule) bool { return r.Name == name }) {
			continue
		}
		out = append(out, applyChange{verb: "delete", kind: "rule", name: name,
			do: func(ctx context.Context, st *store.Store, ev store.Event) error {
				ev.Action, ev.Summary = "rule.delete", fmt.Sprintf("deleted rule %q with onramp apply --prune", name)
				return st.DeleteRule(ctx, name, ev)
			}})
	}
	for _, name := range sortedKeys(storedB) {
		if slices.ContainsFunc(f.Bundles, func(b mapping.Bundle) bool { return b.Name == name }) {
			continue
		}
		out = append(out, applyChange{verb: "delete", kind: "bundle", name: name,
			do: func(ctx context.Context, st *store.Store, ev store.Event) error {
				ev.Action, ev.Summary = "bundle.delete", fmt.Sprintf("deleted bundle %q with onramp apply --prune", name)
				return st.DeleteBundle(ctx, name, ev)
			}})
	}
	return out
}

func verb(exists bool) string {
	if exists {
		return "update"
	}
	return "create"
}

func ruleGroup(r mapping.Rule) string {
	if r.GroupID != "" {
		return "id " + r.GroupID
	}
	return fmt.Sprintf("%q", r.Group)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
