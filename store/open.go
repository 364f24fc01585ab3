package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/onramp-dev/onramp/migrations"
)

// Store is Onramp's database. It is safe for concurrent use; all its
// fields are set by [Open] and never change, except the change hook
// ([Store.SetChangeHook]).
type Store struct {
	db    *sqlx.DB
	d     dialect
	goose *goose.Provider
	now   func() time.Time
	// writers, when not nil, admits one write transaction at a time in this
	// process (SQLite): writers queue here, honouring their context,
	// rather than poll the database lock under busy_timeout.
	writers chan struct{}
	// stmts are the store's prepared statements; pool is db with them,
	// for the helpers' queries outside a transaction.
	stmts *stmtCache
	pool  *storeDB
	// hook is told which users a write may have changed (hook.go).
	hook hookBox
}

// versionTable is goose's bookkeeping table.
const versionTable = "goose_db_version"

// Open connects to databaseURL, configures the connection pool for the
// database and checks that the database answers. It does not migrate: call
// [Store.Migrate].
//
// Accepted forms:
//   - "sqlite:PATH", a file (relative to the working directory unless
//     absolute), created when missing; opened in WAL mode with
//     synchronous=FULL, foreign keys on and a 5s busy timeout.
//   - "postgres://..." or "postgresql://...", a lib/pq connection URL.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	var (
		db  *sqlx.DB
		d   dialect
		err error
	)
	switch {
	case strings.HasPrefix(databaseURL, "sqlite:"):
		db, d, err = openSQLite(strings.TrimPrefix(databaseURL, "sqlite:"))
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		db, d, err = openPostgres(databaseURL)
	default:
		return nil, errors.New(`store: open: unsupported database URL: want "sqlite:PATH" or "postgres://..." (or "postgresql://...")`)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s, err := newStore(ctx, db, d)
	if err != nil {
		_ = db.Close() // report why the store is unusable, not the close
		return nil, fmt.Errorf("store: open %s: %w", d.name(), err)
	}
	return s, nil
}

func newStore(ctx context.Context, db *sqlx.DB, d dialect) (*Store, error) {
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	fsys, err := migrations.FS(d.name())
	if err != nil {
		return nil, err
	}
	opts, err := d.gooseOptions()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(d.goose(), db.DB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	stmts := newStmtCache(db)
	s := &Store{db: db, d: d, goose: p, now: time.Now, stmts: stmts, pool: &storeDB{DB: db, stmts: stmts}}
	if d.singleWriter() {
		s.writers = make(chan struct{}, 1)
	}
	return s, nil
}

// Close closes the prepared statements and the database connections.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// Dialect names the database: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name() }

// Migrate applies every embedded migration the database lacks. On
// PostgreSQL it holds an advisory lock, so replicas starting together
// migrate one at a time.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.goose.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// Ready reports whether the database answers and its schema is at the latest
// migration: what /readyz checks. It writes nothing.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: not ready: database unreachable: %w", err)
	}
	ok, err := s.d.tableExists(ctx, s.db, versionTable)
	if err != nil {
		return fmt.Errorf("store: not ready: %w", err)
	}
	if !ok {
		return errors.New("store: not ready: database not migrated")
	}
	pending, err := s.goose.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("store: not ready: migrations: %w", err)
	}
	if pending {
		return errors.New("store: not ready: migrations pending")
	}
	return nil
}

// resourceTime is the current time as stored on resources: whole seconds, UTC.
func (s *Store) resourceTime() time.Time { return truncate(s.now()) }

// DB returns the store's connection pool, for the delivery engine's job
// queue (River): it keeps its own tables in the same database, so that a
// write and the job it causes commit in one transaction.
func (s *Store) DB() *sql.DB { return s.db.DB }
