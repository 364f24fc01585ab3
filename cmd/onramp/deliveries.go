package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

func (a *app) deliveriesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "Inspect, replay and purge dead letters",
		Long: `A sync that fails on every attempt, or fails in a way no retry can cure (an
unknown course, a rejected credential, 410 Gone), becomes a dead letter. Dead
letters are kept until replayed or purged.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.deliveriesListCmd(), a.deliveriesReplayCmd(), a.deliveriesPurgeCmd())
	return cmd
}

// withEngine runs fn with the store and a delivery engine that inspects
// the queue and works no jobs.
func (a *app) withEngine(ctx context.Context, fn func(*store.Store, *delivery.Engine) error) error {
	cfg, err := loadConfig(a.config)
	if err != nil {
		return err
	}
	return a.withStore(ctx, func(st *store.Store) error {
		eng, err := a.queue(ctx, st, cfg)
		if err != nil {
			return err
		}
		return fn(st, eng)
	})
}

type deliveriesListOpts struct {
	Dead  bool
	JSON  bool
	Limit int
}

func (o *deliveriesListOpts) Validate() error {
	var errs []error
	if !o.Dead {
		errs = append(errs, errors.New("--dead is required: dead letters are what can be listed"))
	}
	if o.Limit < 1 || o.Limit > 1000 {
		errs = append(errs, fmt.Errorf("--limit %d: want 1 to 1000", o.Limit))
	}
	return errors.Join(errs...)
}

func (a *app) deliveriesListCmd() *cobra.Command {
	var opts deliveriesListOpts
	cmd := &cobra.Command{
		Use:   "list --dead [--json] [--limit N]",
		Short: "List dead letters, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.validate(cmd, &opts, nil); err != nil {
				return err
			}
			return a.withEngine(cmd.Context(), func(_ *store.Store, eng *delivery.Engine) error {
				dead, err := eng.Dead(cmd.Context(), 0, opts.Limit)
				if err != nil {
					return err
				}
				if opts.JSON {
					return printJSONLines(a, dead)
				}
				return a.printDead(dead)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Dead, "dead", false, "list dead letters")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON object per line")
	f.IntVar(&opts.Limit, "limit", 100, "most dead letters to list")
	return cmd
}

func printJSONLines(a *app, dead []delivery.DeadLetter) error {
	enc := json.NewEncoder(a.stdout)
	for _, d := range dead {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) printDead(dead []delivery.DeadLetter) error {
	if len(dead) == 0 {
		fmt.Fprintln(a.stdout, "no dead letters")
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tFAILED\tREASON\tATTEMPTS\tCORRELATION ID\tLAST ERROR")
	for _, d := range dead {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.UserID, d.Failed.UTC().Format(time.RFC3339),
			d.Reason, d.Attempts, d.CorrelationID, oneLine(d.LastError, 120))
	}
	return w.Flush()
}

// oneLine keeps the first line of s, cut to n bytes.
func oneLine(s string, n int) string {
	for i, r := range s {
		if r == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

type deliveriesReplayOpts struct {
	AllDead bool
	ids     []int64
}

func (a *app) deliveriesReplayCmd() *cobra.Command {
	var opts deliveriesReplayOpts
	cmd := &cobra.Command{
		Use:   "replay ID... | --all-dead",
		Short: "Run dead letters again, with all their attempts",
		Long: `Run dead letters again: each becomes a new sync of its user, with all its
attempts, and leaves the dead letters. A sync looks at the user as they are
now, so replaying never repeats what has been delivered since.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args, opts.AllDead)
			if err != nil {
				return usageError{cmd, err}
			}
			ctx := cmd.Context()
			ev := store.Event{CorrelationID: reqctx.NewCorrelationID(), Actor: cliActor}
			return a.withEngine(ctx, func(_ *store.Store, eng *delivery.Engine) error {
				if opts.AllDead {
					n, err := eng.ReplayAll(ctx, ev)
					fmt.Fprintf(a.stdout, "replayed %d dead letters\n", n)
					return err
				}
				for _, id := range ids {
					d, err := eng.Replay(ctx, id, ev)
					if err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "replayed %d (user %s)\n", d.ID, d.UserID)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&opts.AllDead, "all-dead", false, "replay every dead letter")
	return cmd
}

func (a *app) deliveriesPurgeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "purge ID...",
		Short: "Delete dead letters without running them",
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args, false)
			if err != nil {
				return usageError{cmd, err}
			}
			ctx := cmd.Context()
			ev := store.Event{CorrelationID: reqctx.NewCorrelationID(), Actor: cliActor}
			return a.withEngine(ctx, func(_ *store.Store, eng *delivery.Engine) error {
				for _, id := range ids {
					d, err := eng.Purge(ctx, id, ev)
					if err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "purged %d (user %s)\n", d.ID, d.UserID)
				}
				return nil
			})
		},
	}
}

// parseIDs reads dead letter ids: some, or none with --all-dead.
func parseIDs(args []string, all bool) ([]int64, error) {
	switch {
	case all && len(args) > 0:
		return nil, errors.New("give ids or --all-dead, not both")
	case all:
		return nil, nil
	case len(args) == 0:
		return nil, errors.New("give at least one dead letter id")
	}
	ids := make([]int64, len(args))
	for i, s := range args {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%q is not a dead letter id", s)
		}
		ids[i] = id
	}
	return ids, nil
}
