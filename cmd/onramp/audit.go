package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/onramp-dev/onramp/store"
)

// maxAuditLimit bounds --limit: more than this is a job for --json and a
// narrower query.
const maxAuditLimit = 10000

type auditOpts struct {
	CorrelationID string
	ResourceID    string
	Actor         string
	Action        string
	ResourceType  string
	Outcome       string
	Since         string
	Until         string
	Limit         int
	JSON          bool

	since, until time.Time // Since and Until, parsed by Validate
}

func (o *auditOpts) Validate() error {
	var errs []error
	now := time.Now()
	var err error
	if o.Outcome != "" && o.Outcome != store.OutcomeSuccess && o.Outcome != store.OutcomeFailure {
		errs = append(errs, fmt.Errorf("--outcome %q: want success or failure", o.Outcome))
	}
	if o.since, err = parseTime(o.Since, now); err != nil {
		errs = append(errs, fmt.Errorf("--since %w", err))
	}
	if o.until, err = parseTime(o.Until, now); err != nil {
		errs = append(errs, fmt.Errorf("--until %w", err))
	}
	if !o.since.IsZero() && !o.until.IsZero() && !o.since.Before(o.until) {
		errs = append(errs, fmt.Errorf("--since %s is not before --until %s", o.Since, o.Until))
	}
	if o.Limit < 1 || o.Limit > maxAuditLimit {
		errs = append(errs, fmt.Errorf("--limit must be between 1 and %d, got %d", maxAuditLimit, o.Limit))
	}
	return errors.Join(errs...)
}

// parseTime reads --since and --until: an RFC 3339 time, or a duration
// meaning that long before now. Empty means no bound.
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-11-29T19:40:00Z) or a duration before now (90m, 24h)", s)
}

func (a *app) auditCmd() *cobra.Command {
	var opts auditOpts
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show audit events, newest first",
		Long: `Show audit events, newest first: one line each, or JSON lines with --json.

Every SCIM write, admin change and token change is recorded with its
correlation id, which is also the X-Correlation-ID of the HTTP response.`,
		Example: `  onramp audit --since 1h
  onramp audit --correlation-id 4f1c... --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.validate(cmd, &opts, nil); err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				events, err := st.ListEvents(cmd.Context(), store.AuditQuery{
					CorrelationID: opts.CorrelationID,
					ResourceID:    opts.ResourceID,
					Actor:         opts.Actor,
					Action:        opts.Action,
					ResourceType:  opts.ResourceType,
					Outcome:       opts.Outcome,
					Since:         opts.since,
					Until:         opts.until,
					Limit:         opts.Limit,
				})
				if err != nil {
					return fmt.Errorf("list audit events: %w", err)
				}
				if opts.JSON {
					return writeEventsJSON(cmd.OutOrStdout(), events)
				}
				if len(events) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "No audit events match.")
					return nil
				}
				return writeEvents(cmd.OutOrStdout(), events)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.CorrelationID, "correlation-id", "", "only events with this correlation id")
	f.StringVar(&opts.ResourceID, "resource-id", "", "only events about this resource (a SCIM id, or a token name)")
	f.StringVar(&opts.Actor, "actor", "", "only events by this actor (a token name, an OIDC subject, or cli)")
	f.StringVar(&opts.Action, "action", "", "only events of this action, e.g. user.patch or enrollment.enroll")
	f.StringVar(&opts.ResourceType, "resource-type", "", "only events about this type of resource: User, Group, Bundle, Rule, Token")
	f.StringVar(&opts.Outcome, "outcome", "", "only events with this outcome: success or failure")
	f.StringVar(&opts.Since, "since", "", "only events at or after this time: RFC 3339, or a duration before now such as 1h")
	f.StringVar(&opts.Until, "until", "", "only events before this time: RFC 3339, or a duration before now")
	f.IntVar(&opts.Limit, "limit", 100, "at most this many events")
	f.BoolVar(&opts.JSON, "json", false, "print JSON lines")
	return cmd
}

// writeEvents prints one aligned line per event:
//
//	2026-11-29T19:40:01Z  success 201  bootstrap  user.create  User 0193...  corr=abc...  created user alice@example.com
func writeEvents(w io.Writer, events []store.Event) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range events {
		status := "-"
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s %s\tcorr=%s\t%s\n",
			e.Time.UTC().Format(time.RFC3339),
			printable(e.Outcome), status,
			orDash(printable(e.Actor)),
			printable(e.Action),
			printable(e.ResourceType), orDash(printable(e.ResourceID)),
			orDash(printable(e.CorrelationID)),
			printable(e.Summary))
	}
	return tw.Flush()
}

// eventJSON is the --json form of an event: snake_case, stable.
type eventJSON struct {
	Time          time.Time `json:"time"`
	CorrelationID string    `json:"correlation_id"`
	Actor         string    `json:"actor"`
	Action        string    `json:"action"`
	ResourceType  string    `json:"resource_type"`
	ResourceID    string    `json:"resource_id"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status"`
	Summary       string    `json:"summary"`
}

func writeEventsJSON(w io.Writer, events []store.Event) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		err := enc.Encode(eventJSON{
			Time:          e.Time.UTC(),
			CorrelationID: e.CorrelationID,
			Actor:         e.Actor,
			Action:        e.Action,
			ResourceType:  e.ResourceType,
			ResourceID:    e.ResourceID,
			Outcome:       e.Outcome,
			Status:        e.Status,
			Summary:       e.Summary,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// printable keeps one event on one line: values that came from clients
// (names, summaries) may hold newlines, tabs or escape sequences, which are
// shown quoted instead.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
