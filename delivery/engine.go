package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/store"
)

// Engine runs syncs. Build it with [New]; a process that only inspects or
// replays dead letters (the CLI) uses it without calling Start.
type Engine struct {
	store      *store.Store
	driver     riverdriver.Driver[*sql.Tx]
	river      *river.Client[*sql.Tx]
	connectors map[string]lms.Connector
	cfg        Config
	log        *slog.Logger
	metrics    *metrics
	hints      *retryHints
	pauses     *pauses
	locks      *userLocks
}

// Options are what an Engine works with besides its Config.
type Options struct {
	// Connectors by name, as bundles name them.
	Connectors map[string]lms.Connector
	Logger     *slog.Logger
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
}

// New builds an engine on st's database. It does not migrate River's
// tables ([Engine.Migrate]) or start working ([Engine.Start]).
func New(st *store.Store, cfg Config, opts Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{store: st, connectors: opts.Connectors, cfg: cfg, log: log, hints: newRetryHints(), pauses: newPauses(),
		locks: newUserLocks(st, cfg.JobTimeout+leaseMargin)}
	switch st.Dialect() {
	case "sqlite":
		e.driver = riversqlite.New(st.DB())
	case "postgres":
		e.driver = riverdatabasesql.New(st.DB())
	default:
		return nil, fmt.Errorf("delivery: no River driver for %s", st.Dialect())
	}
	e.metrics = newMetrics(e)
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(e.metrics); err != nil {
			return nil, fmt.Errorf("delivery: metrics: %w", err)
		}
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &syncWorker{engine: e}); err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &fanoutWorker{engine: e}); err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	client, err := river.NewClient(e.driver, &river.Config{
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:     workers,
		MaxAttempts: cfg.MaxAttempts,
		RetryPolicy: backoff{base: cfg.BackoffBase, max: cfg.BackoffMax},
		// Dead letters stay until an admin replays or purges them.
		DiscardedJobRetentionPeriod: -1,
		CancelledJobRetentionPeriod: -1,
		CompletedJobRetentionPeriod: time.Hour,
		FetchCooldown:               min(cfg.PollInterval, 10*time.Millisecond),
		FetchPollInterval:           cfg.PollInterval,
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.JobTimeout + cfg.RescueAfter,
		// River logs every failed attempt at info; Onramp logs its own
		// summary of each sync, so only River's warnings are kept.
		Logger: slog.New(levelFloor{log.Handler(), slog.LevelWarn}),
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	e.river = client
	return e, nil
}

// Migrate creates or updates River's tables. Like the store's migrations
// it runs at every start and is a no-op when there is nothing to do.
func (e *Engine) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(e.driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("delivery: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("delivery: migrate: %w", err)
	}
	return nil
}

// Start makes the engine work jobs until Stop, and queues a sync for every
// user whose delivery a crash may have interrupted (see recoverSyncs).
func (e *Engine) Start(ctx context.Context) error {
	if err := e.river.Start(ctx); err != nil {
		return fmt.Errorf("delivery: start: %w", err)
	}
	if err := e.recoverSyncs(ctx); err != nil {
		return err
	}
	return nil
}

// Stop waits for running syncs to finish, until ctx is done; then it
// cancels them (they are retried later, by this process or another).
func (e *Engine) Stop(ctx context.Context) error {
	err := e.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = e.river.StopAndCancel(stopCtx)
	}
	if err != nil {
		return fmt.Errorf("delivery: stop: %w", err)
	}
	return nil
}

// Hook is the store's change hook: it inserts, in the writing
// transaction, one sync job per user the change names, or, for a change
// to many users, one fan-out job per thousand. Install it with
// store.SetChangeHook.
func (e *Engine) Hook(ctx context.Context, tx *sql.Tx, c store.Change) error {
	if len(c.UserIDs) < e.cfg.fanoutMin {
		return e.insertSyncs(ctx, tx, c)
	}
	var jobs []river.InsertManyParams
	for ids := c.UserIDs; len(ids) > 0; {
		n := min(len(ids), e.cfg.fanoutMin)
		jobs = append(jobs, river.InsertManyParams{Args: FanoutArgs{
			UserIDs: ids[:n], CorrelationID: c.Event.CorrelationID, ChangedAt: changedAt(c.Event.Time)}})
		ids = ids[n:]
	}
	if _, err := e.river.InsertManyFastTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("insert fan-out jobs: %w", err)
	}
	return nil
}

// insertSyncs inserts one sync job per user of c, in tx.
func (e *Engine) insertSyncs(ctx context.Context, tx *sql.Tx, c store.Change) error {
	args := make([]river.InsertManyParams, len(c.UserIDs))
	for i, id := range c.UserIDs { // at most insertBatch a statement
		args[i] = river.InsertManyParams{Args: SyncArgs{UserID: id, CorrelationID: c.Event.CorrelationID, ChangedAt: changedAt(c.Event.Time)}}
	}
	for len(args) > 0 {
		n := min(len(args), insertBatch)
		if _, err := e.river.InsertManyFastTx(ctx, tx, args[:n]); err != nil {
			return fmt.Errorf("insert sync jobs: %w", err)
		}
		args = args[n:]
	}
	return nil
}

// leaseMargin is how long a user's lease outlives the longest a sync can
// run (JobTimeout), for a sync ending as its context does.
const leaseMargin = 10 * time.Second

// insertBatch bounds the jobs inserted by one statement.
const insertBatch = 1000

func changedAt(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// levelFloor drops records below a level, whatever the handler it wraps
// would keep.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}
func (h levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(n), h.min}
}
