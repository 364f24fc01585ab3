package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/store"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations",
		Long:  "Apply pending database migrations. Safe to run again: applied migrations are skipped.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				// withStore has migrated Onramp's tables; River's remain.
				eng, err := delivery.New(st, delivery.Config{}, delivery.Options{})
				if err != nil {
					return err
				}
				if err := eng.Migrate(cmd.Context()); err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "database %s is migrated to the latest version\n", redactURL(a.database))
				return err
			})
		},
	}
}
