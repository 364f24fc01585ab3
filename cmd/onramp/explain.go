package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/store"
)

func (a *app) explainCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain USER",
		Short: "Say why a user has each enrollment, and what became of it",
		Long: `Say, for each course a user is wanted in or was delivered to, the desired
and delivered state, any change in flight, the groups, rules and bundles
that want it, the attempts and the last error. USER is a user's id, userName
or externalId; a deleted user whose enrollments are still on record is
named by id.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withEngine(ctx, func(st *store.Store, eng *delivery.Engine) error {
				id, err := st.FindUserID(ctx, args[0])
				if errors.Is(err, store.ErrNotFound) {
					id, err = args[0], nil // perhaps a deleted user's id
				}
				if err != nil {
					return err
				}
				x, err := eng.Explain(ctx, id)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(a.stdout).Encode(x)
				}
				return a.printExplanation(x)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the explanation as JSON")
	return cmd
}

func (a *app) printExplanation(x *delivery.Explanation) error {
	status := "active"
	switch {
	case !x.Exists:
		status = "deleted"
	case !x.Active:
		status = "deactivated"
	}
	fmt.Fprintf(a.stdout, "user %s (%s)\n", x.UserID, status)
	if len(x.Enrollments) == 0 {
		fmt.Fprintln(a.stdout, "no enrollments wanted or on record")
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONNECTOR\tCOURSE\tWANTED\tDELIVERED\tPENDING\tBECAUSE\tATTEMPTS\tLAST ERROR")
	for _, e := range x.Enrollments {
		var why []string
		for _, r := range e.Because {
			why = append(why, fmt.Sprintf("group %q, rule %s, bundle %s", r.GroupDisplayName, r.Rule, r.Bundle))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", e.Connector, e.Course, orDash(string(e.Desired)),
			orDash(string(e.Delivered)), orDash(string(e.Pending)), orDash(strings.Join(why, "; ")), e.Attempts, oneLine(e.LastError, 80))
	}
	return w.Flush()
}
