package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// cliActor is the audit actor of changes made with this CLI.
const cliActor = "cli"

// tokenNamePattern keeps token names printable and short: they appear as
// the actor of every audit event the token's requests cause.
var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func validTokenName(name string) error {
	if !tokenNamePattern.MatchString(name) {
		return fmt.Errorf("token name %q: use 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit", name)
	}
	return nil
}

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API bearer tokens",
		Long: `Create, list and revoke API bearer tokens. Only a hash of each secret is
stored: a secret is shown once, when its token is created.

Scopes: ` + strings.Join(server.AllScopes(), ", "),
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

type tokenCreateOpts struct {
	Name   string
	Scopes string

	scopes []string // Scopes, parsed by Validate
}

func (o *tokenCreateOpts) Validate() error {
	var errs []error
	if err := validTokenName(o.Name); err != nil {
		errs = append(errs, fmt.Errorf("--name: %w", err))
	}
	scopes, err := server.ParseScopes(o.Scopes)
	if err != nil {
		errs = append(errs, fmt.Errorf("--scopes: %w", err))
	}
	o.scopes = scopes
	return errors.Join(errs...)
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var opts tokenCreateOpts
	cmd := &cobra.Command{
		Use:   "create --name NAME --scopes SCOPE[,SCOPE...]",
		Short: "Create a token and print its secret",
		Long: `Create a token and print its secret, alone on the last line of standard
output, so that TOKEN=$(onramp token create ...) captures it. The secret
cannot be shown again.`,
		Example: "  TOKEN=$(onramp token create --name okta --scopes scim:read,scim:write)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.validate(cmd, &opts, nil); err != nil {
				return err
			}
			return a.tokenCreate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "token name, unique; it is the actor in audit events (required)")
	cmd.Flags().StringVar(&opts.Scopes, "scopes", "", "comma-separated scopes (required): "+strings.Join(server.AllScopes(), ","))
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("scopes")
	return cmd
}

func (a *app) tokenCreate(ctx context.Context, out, errOut io.Writer, opts tokenCreateOpts) error {
	secret := server.NewTokenSecret()
	return a.withStore(ctx, func(st *store.Store) error {
		err := st.CreateToken(ctx, store.Token{
			Name:   opts.Name,
			Scopes: opts.scopes,
			Hash:   server.HashTokenSecret(secret),
		}, cliEvent("token.create", opts.Name,
			fmt.Sprintf("created token %s with scopes %s", opts.Name, strings.Join(opts.scopes, ","))))
		if errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("a token named %q already exists: choose another name, or revoke it first", opts.Name)
		}
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		fmt.Fprintf(errOut, "Created token %q with scopes %s. Its secret follows; it cannot be shown again.\n",
			opts.Name, strings.Join(opts.scopes, ","))
		_, err = fmt.Fprintln(out, secret)
		return err
	})
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				tokens, err := st.ListTokens(cmd.Context())
				if err != nil {
					return fmt.Errorf("list tokens: %w", err)
				}
				if len(tokens) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "No tokens. Create one with: %s token create --name NAME --scopes %s\n",
						a.progName, strings.Join(server.AllScopes(), ","))
					return nil
				}
				return writeTokens(cmd.OutOrStdout(), tokens)
			})
		},
	}
}

// writeTokens prints a table of tokens. Hashes are never shown.
func writeTokens(w io.Writer, tokens []store.Token) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPES\tCREATED\tLAST USED")
	for _, t := range tokens {
		lastUsed := "never"
		if !t.LastUsed.IsZero() {
			lastUsed = t.LastUsed.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, ","), t.Created.UTC().Format(time.RFC3339), lastUsed)
	}
	return tw.Flush()
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: requests bearing it are refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				err := st.RevokeToken(cmd.Context(), name, cliEvent("token.revoke", name, "revoked token "+name))
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no token named %q (see: %s token list)", name, a.progName)
				}
				if err != nil {
					return fmt.Errorf("revoke token: %w", err)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s\n", name)
				return err
			})
		},
	}
}

// cliEvent is the audit event of a token change made with this CLI.
func cliEvent(action, tokenName, summary string) store.Event {
	return store.Event{
		Time:          time.Now().UTC(),
		CorrelationID: reqctx.NewCorrelationID(),
		Actor:         cliActor,
		Action:        action,
		ResourceType:  "Token",
		ResourceID:    tokenName,
		Outcome:       store.OutcomeSuccess,
		Summary:       summary,
	}
}
