package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

const defaultDatabase = "sqlite:onramp.db"

// app holds what the commands share: where they write, where settings come
// from, and the seams tests replace.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// progName is how the user invoked us, for the hints we print.
	progName string
	// newHandler builds the HTTP handler that serve runs.
	newHandler func(server.Config) (http.Handler, error)

	database string // --database, after ONRAMP_DATABASE_URL is applied
	config   string // --config, after ONRAMP_CONFIG is applied
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{
		stdout:     stdout,
		stderr:     stderr,
		getenv:     os.Getenv,
		progName:   progName(),
		newHandler: server.New,
	}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.stderr, "%s: %v\n", root.Name(), err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", ue.cmd.CommandPath())
		}
		return 1
	}
	return 0
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "onramp",
		Short: "Onramp: SCIM 2.0 provisioning from hiring to learning",
		Long: `Onramp is a SCIM 2.0 provisioning server: identity providers push users and
groups, and Onramp turns their changes into LMS enrollments.

Settings come from flags, then ONRAMP_* environment variables, then defaults.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Applies ONRAMP_DATABASE_URL for every subcommand.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd, a.getenv, map[string]string{"database": "ONRAMP_DATABASE_URL", "config": "ONRAMP_CONFIG"})
		},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{cmd, err} })
	root.PersistentFlags().StringVar(&a.database, "database", defaultDatabase,
		"database URL: sqlite:PATH or postgres://... (env ONRAMP_DATABASE_URL)")
	root.PersistentFlags().StringVar(&a.config, "config", "",
		"config file with the LMS connectors (env ONRAMP_CONFIG); default: one log connector named demo")

	root.AddCommand(
		a.serveCmd(),
		a.migrateCmd(),
		a.tokenCmd(),
		a.auditCmd(),
		a.applyCmd(),
		a.deliveriesCmd(),
		a.reconcileCmd(),
		a.explainCmd(),
		a.versionCmd(),
		a.healthcheckCmd(),
	)
	return root
}

// usageError is a mistake on the command line: the message gets a pointer to --help.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// applyEnv gives each flag that was not set on the command line the value of
// its environment variable, when that is set: flags win over the
// environment, the environment over defaults. Values are parsed by the
// flag's own type, so a bad value fails as it would on the command line.
func applyEnv(cmd *cobra.Command, getenv func(string) string, envByFlag map[string]string) error {
	for name, env := range envByFlag {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			return fmt.Errorf("internal: no flag --%s for %s", name, env)
		}
		v := getenv(env)
		if f.Changed || v == "" {
			continue
		}
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("environment variable %s: %w", env, err)
		}
	}
	return nil
}

// validator is implemented by every command's options.
type validator interface{ Validate() error }

// validate applies envByFlag and then checks opts.
func (a *app) validate(cmd *cobra.Command, opts validator, envByFlag map[string]string) error {
	if err := applyEnv(cmd, a.getenv, envByFlag); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return usageError{cmd, err}
	}
	return nil
}

// openStore opens and migrates the database named by --database. Migrating
// is idempotent, and it means a token created on a fresh database works.
func (a *app) openStore(ctx context.Context) (*store.Store, error) {
	st, err := store.Open(ctx, a.database)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactURL(a.database), err)
	}
	if err := st.Migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate database %s: %w", redactURL(a.database), err), st.Close())
	}
	return st, nil
}

// withStore runs fn on the opened, migrated database and closes it after.
func (a *app) withStore(ctx context.Context, fn func(*store.Store) error) (err error) {
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}()
	return fn(st)
}

// redactURL hides a password in a database URL, for logs and messages.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw // sqlite:PATH has no credentials
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable database URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// isHTTPURL reports whether s is an absolute http or https URL without a
// query or fragment.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == ""
}

// progName is how to name this binary in hints: the path it was started
// by when that was a path (./bin/onramp), else "onramp".
func progName() string {
	if len(os.Args) > 0 && strings.ContainsRune(os.Args[0], filepath.Separator) {
		return os.Args[0]
	}
	return "onramp"
}
