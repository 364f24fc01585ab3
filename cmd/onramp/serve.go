package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// bootstrapTokenName is the token that ONRAMP_BOOTSTRAP_TOKEN ensures.
const bootstrapTokenName = "bootstrap"

type serveOpts struct {
	Listen          string
	BaseURL         string
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
}

func (o *serveOpts) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(o.Listen); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:8080", o.Listen))
	}
	if o.BaseURL != "" && !isHTTPURL(o.BaseURL) {
		errs = append(errs, fmt.Errorf("--base-url %q: want an absolute http(s) URL such as https://onramp.example.com", o.BaseURL))
	}
	if o.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-body-bytes must be positive, got %d", o.MaxBodyBytes))
	}
	if o.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout must be positive, got %s", o.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

func (a *app) serveCmd() *cobra.Command {
	var opts serveOpts
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SCIM server",
		Long: `Run the SCIM server. Migrations run first.

With ONRAMP_BOOTSTRAP_TOKEN=SECRET set, a token named "bootstrap" with every
scope is ensured for that secret (for containers and tests); the secret is
never logged. SIGTERM or SIGINT stop accepting connections, let requests in
flight finish (up to --shutdown-timeout), and exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := a.validate(cmd, &opts, map[string]string{
				"listen":         "ONRAMP_LISTEN",
				"base-url":       "ONRAMP_BASE_URL",
				"max-body-bytes": "ONRAMP_MAX_BODY_BYTES",
			})
			if err != nil {
				return err
			}
			return a.serve(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address to listen on; port 0 picks a free one (env ONRAMP_LISTEN)")
	f.StringVar(&opts.BaseURL, "base-url", "", "public URL of this server, used in resource locations; default: taken from each request (env ONRAMP_BASE_URL)")
	f.Int64Var(&opts.MaxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body accepted (env ONRAMP_MAX_BODY_BYTES)")
	f.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish on shutdown")
	return cmd
}

func (a *app) serve(ctx context.Context, opts serveOpts) (err error) {
	// The first SIGTERM or SIGINT starts a graceful shutdown; stop() below
	// restores the default so that a second one ends the process at once.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(reqctx.LogHandler(slog.NewJSONHandler(a.stderr, nil)))
	cfg, err := loadConfig(a.config)
	if err != nil {
		return err
	}

	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}()
	logger.Info("database ready", "database", redactURL(a.database))

	bootstrap := a.getenv("ONRAMP_BOOTSTRAP_TOKEN")
	if bootstrap != "" {
		if err := ensureBootstrapToken(ctx, st, bootstrap); err != nil {
			return err
		}
		logger.Info("bootstrap token ensured", "token", bootstrapTokenName, "scopes", server.AllScopes())
		if len(bootstrap) < 32 {
			logger.Warn("ONRAMP_BOOTSTRAP_TOKEN is short; use a long random secret (openssl rand -hex 32) outside tests")
		}
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	eng, err := a.engine(ctx, st, cfg, logger, metrics)
	if err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
		defer cancel()
		if serr := eng.Stop(sctx); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	logger.Info("delivery started", "connectors", connectorNames(cfg))

	handler, err := a.newHandler(server.Config{
		Store:        st,
		Logger:       logger,
		BaseURL:      opts.BaseURL,
		MaxBodyBytes: opts.MaxBodyBytes,
		Version:      version,
		Delivery:     eng,
		Connectors:   cfg.Connectors,
		Metrics:      metrics,
		RateLimits:   cfg.RateLimits,
		OIDC:         cfg.Auth.OIDC,
	})
	if err != nil {
		return fmt.Errorf("build HTTP handler: %w", err)
	}

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "version", version)
	a.printFirstSteps(logger, baseURLFor(opts.BaseURL, ln.Addr()), bootstrap != "")

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop()
	logger.Info("shutting down", "timeout", opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: requests in flight did not finish within %s: %w", opts.ShutdownTimeout, err)
	}
	logger.Info("stopped")
	return nil
}

// ensureBootstrapToken makes sure the bootstrap token exists for secret,
// with every scope.
func ensureBootstrapToken(ctx context.Context, st *store.Store, secret string) error {
	err := st.EnsureToken(ctx, store.Token{
		Name:   bootstrapTokenName,
		Scopes: server.AllScopes(),
		Hash:   server.HashTokenSecret(secret),
	})
	if err != nil {
		return fmt.Errorf("ensure bootstrap token: %w", err)
	}
	return nil
}

// baseURLFor is the URL a local client reaches the server at: --base-url
// when given, else the listening address, with a wildcard host replaced by
// IPv4 loopback.
func baseURLFor(baseURL string, addr net.Addr) string {
	if baseURL != "" {
		return strings.TrimRight(baseURL, "/")
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // a wildcard listener on "tcp" takes IPv4 too
	}
	return "http://" + net.JoinHostPort(host, port)
}

// printFirstSteps tells a person at a terminal how to get a token and make a
// first request; elsewhere (a container, a test) it is one log record.
func (a *app) printFirstSteps(logger *slog.Logger, baseURL string, bootstrap bool) {
	users := baseURL + "/scim/v2/Users"
	create := a.progName + " token create"
	if a.database != defaultDatabase {
		create += " --database '" + redactURL(a.database) + "'"
	}
	create += " --name me --scopes scim:read,scim:write"
	curl := `curl -H "Authorization: Bearer $TOKEN" ` + users
	if bootstrap {
		curl = `curl -H "Authorization: Bearer $ONRAMP_BOOTSTRAP_TOKEN" ` + users
	}

	if !isTerminal(a.stderr) {
		if bootstrap {
			logger.Info("first steps", "try", curl)
		} else {
			logger.Info("first steps", "create_token", "TOKEN=$("+create+")", "try", curl)
		}
		return
	}
	w := a.stderr
	fmt.Fprintf(w, "\nOnramp is listening on %s\n", baseURL)
	if bootstrap {
		fmt.Fprintf(w, "The bootstrap token (ONRAMP_BOOTSTRAP_TOKEN) has every scope. Try:\n  %s\n\n", curl)
		return
	}
	fmt.Fprintf(w, "Create a token in another terminal (its secret is printed alone, once):\n  TOKEN=$(%s)\n", create)
	fmt.Fprintf(w, "Then try:\n  %s\n\n", curl)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// connectorNames lists the configured connectors as name:type, for the log.
func connectorNames(cfg *fileConfig) []string {
	out := make([]string, len(cfg.Connectors))
	for i, c := range cfg.Connectors {
		out[i] = c.Name + ":" + c.Type
	}
	return out
}
