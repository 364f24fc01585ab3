// Package delivery is the durable job engine that turns changes into LMS
// enrollments. It runs on River (riverqueue/river) in the same database as
// the store.
//
// It works like a Kubernetes controller (DESIGN.md, "level-triggered"): a
// write that can change a user's desired enrollments inserts a sync job for
// that user in its own transaction ([Engine.Enqueue], the store's change
// hook). The job reads the user's desired enrollments ([mapping.Desired])
// and what has been delivered (the store's enrollments), and calls the
// connector for the difference only. Duplicate, late or out-of-order jobs
// are harmless: each looks at the state as it is when it runs.
//
// Each change sent to an LMS is recorded as pending, with an id, before it
// is sent, and confirmed after. After a crash between the two, the next
// sync sends it again under the same id, and connectors are idempotent
// (webhook receivers de-duplicate by webhook-id; Moodle and Canvas calls
// look before they write), so nothing is lost and nothing is doubled.
//
// A sync that fails is retried with exponential backoff and jitter,
// honouring Retry-After; after its last attempt, or at once when the
// failure is permanent, it is a dead letter: kept until an admin replays or
// purges it ([Engine.Dead], [Engine.Replay], [Engine.Purge]).
package delivery

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes delivery. The zero value of a field means its default.
type Config struct {
	// MaxAttempts is how many times a sync runs before it is a dead
	// letter (default 20: about an hour of an LMS outage with the default
	// backoff).
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffBase is the wait after the first failure; each next wait
	// doubles, up to BackoffMax (defaults 1s and 5m, so an LMS back from
	// an outage is served again within about five minutes). A jitter of
	// up to a fifth is added, so that syncs failing together do not all
	// come back together.
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// Workers is how many syncs run at once in this process (default 40:
	// a sync mostly waits on the LMS, and on SQLite the benchmark met 500
	// enrollments/s with 20 or 40 and missed it with 10).
	Workers int `yaml:"workers"`
	// PollInterval is how often idle workers look for new jobs (default
	// 50ms). Neither database driver wakes workers on insert, so it bounds
	// the latency from a change to its delivery.
	PollInterval time.Duration `yaml:"poll_interval"`
	// JobTimeout bounds one sync (default 1m). A sync still marked running
	// JobTimeout plus RescueAfter after it started is taken to have died
	// with its process and is run again (default RescueAfter: 1m).
	JobTimeout  time.Duration `yaml:"job_timeout"`
	RescueAfter time.Duration `yaml:"rescue_after"`

	// fanoutMin is the number of users from which a change fans out
	// (fanout.go); tests lower it (export_test.go).
	fanoutMin int
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 20
	}
	if c.Workers == 0 {
		c.Workers = 40
	}
	if c.fanoutMin == 0 {
		c.fanoutMin = insertBatch
	}
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, 5*time.Minute)
	def(&c.PollInterval, 50*time.Millisecond)
	def(&c.JobTimeout, time.Minute)
	def(&c.RescueAfter, time.Minute)
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxAttempts < 0 || c.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("delivery.max_attempts: %d is not between 1 and 100", c.MaxAttempts))
	}
	if c.Workers < 0 || c.Workers > 1000 {
		errs = append(errs, fmt.Errorf("delivery.workers: %d is not between 1 and 1000", c.Workers))
	}
	for name, d := range map[string]time.Duration{
		"backoff_base": c.BackoffBase, "backoff_max": c.BackoffMax, "poll_interval": c.PollInterval,
		"job_timeout": c.JobTimeout, "rescue_after": c.RescueAfter,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("delivery.%s: %s is negative", name, d))
		}
	}
	if c.PollInterval != 0 && c.PollInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("delivery.poll_interval: %s is below 1ms", c.PollInterval))
	}
	return errors.Join(errs...)
}
