package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp-dev/onramp/lms"
)

// metrics are the engine's Prometheus metrics. Counters and the latency
// histogram are updated as syncs run; the queue gauges are read from
// River's table at each scrape, so every replica reports the same queue.
type metrics struct {
	engine   *Engine
	attempts *prometheus.CounterVec
	dead     *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	jobs     *prometheus.Desc
}

func newMetrics(e *Engine) *metrics {
	return &metrics{
		engine: e,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onramp_delivery_attempts_total",
			Help: "Calls to LMS connectors, by connector, operation and outcome (success, retryable, permanent).",
		}, []string{"connector", "op", "outcome"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onramp_delivery_dead_letters_total",
			Help: "Syncs that became dead letters in this process, by reason (attempts: out of attempts; permanent: no retry could help).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "onramp_hire_to_enrollment_seconds",
			Help:    "Time from the SCIM write that caused a change to the connector confirming it, by connector and operation.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600},
		}, []string{"connector", "op"}),
		jobs: prometheus.NewDesc("onramp_delivery_jobs",
			"Sync jobs by state: available, scheduled and retryable jobs are the queue; discarded and cancelled ones are the dead letters.",
			[]string{"state"}, nil),
	}
}

// attempt counts one connector call and, for a success, its latency.
func (m *metrics) attempt(s send, err error, changedAt time.Time) {
	outcome := "success"
	switch {
	case err == nil:
		if !changedAt.IsZero() {
			m.latency.WithLabelValues(s.key.Connector, string(s.op)).Observe(time.Since(changedAt).Seconds())
		}
	case lms.IsPermanent(err):
		outcome = "permanent"
	default:
		outcome = "retryable"
	}
	m.attempts.WithLabelValues(s.key.Connector, string(s.op), outcome).Inc()
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.attempts.Describe(ch)
	m.dead.Describe(ch)
	m.latency.Describe(ch)
	ch <- m.jobs
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.attempts.Collect(ch)
	m.dead.Collect(ch)
	m.latency.Collect(ch)
	counts, err := m.engine.jobCounts(context.Background())
	if err != nil {
		m.engine.log.Warn("metrics: count sync jobs", "err", err)
		return
	}
	for _, state := range jobStates {
		ch <- prometheus.MustNewConstMetric(m.jobs, prometheus.GaugeValue, float64(counts[state]), state)
	}
}

// jobStates are River's job states, reported even when zero.
var jobStates = []string{"available", "scheduled", "retryable", "running", "pending", "completed", "discarded", "cancelled"}

// jobCounts counts sync jobs by state.
func (e *Engine) jobCounts(ctx context.Context) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := e.store.DB().QueryContext(ctx, `SELECT state, count(*) FROM river_job WHERE kind = 'sync_user' GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		out[state] = n
	}
	return out, rows.Err()
}
