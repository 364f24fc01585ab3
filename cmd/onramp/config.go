package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// fileConfig is the config file (--config, ONRAMP_CONFIG): the LMS
// connectors and delivery tuning. Secrets are never in it: connectors name
// the environment variables that hold them.
type fileConfig struct {
	Connectors []lms.Spec        `yaml:"connectors"`
	Delivery   delivery.Config   `yaml:"delivery"`
	RateLimits server.RateLimits `yaml:"rate_limits"`
	Auth       struct {
		OIDC *server.OIDC `yaml:"oidc"`
	} `yaml:"auth"`
}

// defaultConnector is the connector used when no config file is given:
// deliveries go to the log, so the whole flow can be watched with no LMS.
var defaultConnector = lms.Spec{Name: "demo", Type: "log"}

// loadConfig reads the config file at path; "" gives the defaults.
func loadConfig(path string) (*fileConfig, error) {
	if path == "" {
		return &fileConfig{Connectors: []lms.Spec{defaultConnector}}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig decodes a config file strictly (an unknown key is an error,
// as a misspelt one would otherwise be silently ignored) and checks what
// can be checked without the environment.
func parseConfig(data []byte) (*fileConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg fileConfig
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var errs []error
	if len(cfg.Connectors) == 0 {
		errs = append(errs, errors.New("connectors: at least one connector is required"))
	}
	seen := map[string]bool{}
	for _, c := range cfg.Connectors {
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("connectors: the name %q is used twice", c.Name))
		}
		seen[c.Name] = true
	}
	if err := cfg.Delivery.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(cfg.RateLimits.Validate(), cfg.Auth.OIDC.Validate()); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
}

// connectors builds every configured connector, reading their secrets
// from the environment now, and reports every problem at once.
func (a *app) connectors(cfg *fileConfig, logger *slog.Logger) (map[string]lms.Connector, error) {
	env := func(name string) (string, bool) {
		v := a.getenv(name)
		return v, v != ""
	}
	out := make(map[string]lms.Connector, len(cfg.Connectors))
	var errs []error
	for _, spec := range cfg.Connectors {
		c, err := lms.New(spec, lms.Deps{Env: env, Logger: logger})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[spec.Name] = c
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return out, nil
}

// engine builds the delivery engine on st with the configured
// connectors, for serve: see queue.
func (a *app) engine(ctx context.Context, st *store.Store, cfg *fileConfig, logger *slog.Logger, reg prometheus.Registerer) (*delivery.Engine, error) {
	conns, err := a.connectors(cfg, logger)
	if err != nil {
		return nil, err
	}
	return installEngine(ctx, st, cfg, delivery.Options{Connectors: conns, Logger: logger, Registerer: reg})
}

// queue is the delivery engine for commands that change bundles or rules
// but deliver nothing themselves. It needs no connector, so no secret.
func (a *app) queue(ctx context.Context, st *store.Store, cfg *fileConfig) (*delivery.Engine, error) {
	return installEngine(ctx, st, cfg, delivery.Options{})
}

// installEngine builds a delivery engine, migrates River's tables and
// installs the store's change hook, so that every write made through st
// queues its syncs. It does not start working jobs.
func installEngine(ctx context.Context, st *store.Store, cfg *fileConfig, opts delivery.Options) (*delivery.Engine, error) {
	eng, err := delivery.New(st, cfg.Delivery, opts)
	if err != nil {
		return nil, err
	}
	if err := eng.Migrate(ctx); err != nil {
		return nil, err
	}
	st.SetChangeHook(eng.Hook)
	return eng, nil
}
