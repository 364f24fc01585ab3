package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

type healthcheckOpts struct {
	URL     string
	Timeout time.Duration
}

func (o *healthcheckOpts) Validate() error {
	var errs []error
	if !isHTTPURL(o.URL) {
		errs = append(errs, fmt.Errorf("--url %q: want an absolute http(s) URL", o.URL))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout must be positive, got %s", o.Timeout))
	}
	return errors.Join(errs...)
}

// healthcheckCmd exists for container HEALTHCHECKs: distroless images have
// no curl.
func (a *app) healthcheckCmd() *cobra.Command {
	var opts healthcheckOpts
	cmd := &cobra.Command{
		Use:    "healthcheck",
		Short:  "Exit 0 when the server's health endpoint answers 2xx, else 1",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.validate(cmd, &opts, nil); err != nil {
				return err
			}
			return healthcheck(cmd.Context(), cmd.OutOrStdout(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.URL, "url", "http://127.0.0.1:8080/healthz", "health endpoint to GET")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

func healthcheck(ctx context.Context, out io.Writer, opts healthcheckOpts) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.URL, nil)
	if err != nil {
		return err
	}
	// Straight to the server: a proxy from the environment has no business here.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("unhealthy: %s answered %s", opts.URL, resp.Status)
	}
	_, err = fmt.Fprintf(out, "healthy: %s answered %s\n", opts.URL, resp.Status)
	return err
}
