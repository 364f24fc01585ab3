package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

func (a *app) reconcileCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reconcile",
		Short: "Queue a sync of every user with enrollments, wanted or recorded",
		Long: `Queue a sync of every user who is in a group some rule matches or has an
enrollment on record. A running server works the syncs: each sends whatever
differs between what the rules want and what Onramp has delivered, and
nothing else. Use it after a connector's configuration changed or a backup
was restored. It compares against Onramp's record, not against what the LMS
itself reports.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withEngine(ctx, func(_ *store.Store, eng *delivery.Engine) error {
				ev := store.Event{CorrelationID: reqctx.NewCorrelationID(), Actor: cliActor}
				n, err := eng.Reconcile(ctx, ev)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "queued a sync of %d users (correlation id %s)\n", n, ev.CorrelationID)
				return nil
			})
		},
	}
}
