package lms

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"time"
)

// Spec configures one connector, as written in the config file's
// connectors list. Secrets are never in the file: SecretEnv and TokenEnv
// name environment variables that hold them.
type Spec struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"` // log, webhook, moodle, canvas
	URL  string `yaml:"url,omitempty" json:"url,omitempty"`
	// SecretEnv names the variable holding a webhook's whsec_ secret.
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	// TokenEnv names the variable holding a Moodle or Canvas token.
	TokenEnv string `yaml:"token_env,omitempty" json:"token_env,omitempty"`
	// AccountID is the Canvas account users are created in.
	AccountID string `yaml:"account_id,omitempty" json:"account_id,omitempty"`
	// Timeout bounds each HTTP call; 0 means 30s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Types lists the connector types [New] knows.
var Types = []string{"log", "webhook", "moodle", "canvas"}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Env looks up an environment variable, as os.LookupEnv does.
type Env func(name string) (string, bool)

// Deps are what connectors share with the rest of the process.
type Deps struct {
	// Env reads secrets; nil means os.LookupEnv.
	Env    Env
	Logger *slog.Logger
	// Client makes HTTP connectors' calls; nil means a client with
	// Spec.Timeout.
	Client *http.Client
}

// New builds the connector s describes. It reports every problem with s at
// once, and reads secrets from the environment now, so a missing secret
// stops the server at start rather than failing every delivery.
func New(s Spec, deps Deps) (Connector, error) {
	if deps.Env == nil {
		deps.Env = os.LookupEnv
	}
	if err := s.validate(deps.Env); err != nil {
		return nil, err
	}
	if deps.Client == nil {
		timeout := s.Timeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		deps.Client = &http.Client{Timeout: timeout, Transport: transport()}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	switch s.Type {
	case "log":
		return newLog(s, deps)
	case "webhook":
		return newWebhook(s, deps)
	case "moodle":
		return newMoodle(s, deps)
	case "canvas":
		return newCanvas(s, deps)
	}
	return nil, fmt.Errorf("connector %q: unknown type %q (want one of %v)", s.Name, s.Type, Types)
}

// validate reports every problem with s at once, including a missing or
// malformed secret, which it reads through env.
// transport is http.DefaultTransport keeping more idle connections to one
// host: it keeps two, and delivery's workers all call the same LMS, so a
// busy server opened thousands of connections (the benchmark saw 6,500
// for 18,300 webhooks).
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

func (s Spec) validate(env Env) error {
	var errs []error
	if !namePattern.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("connector name %q: want 1 to 63 lower-case letters, digits, '-' or '_'", s.Name))
	}
	switch s.Type {
	case "log":
	case "webhook", "moodle", "canvas":
		if s.URL == "" {
			errs = append(errs, fmt.Errorf("connector %q: url is required for type %s", s.Name, s.Type))
		} else if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The url is not repeated: it may carry a credential.
			errs = append(errs, fmt.Errorf("connector %q: url must be an absolute http:// or https:// URL", s.Name))
		}
		var err error
		if s.Type == "webhook" {
			_, err = webhookKey(s, env)
		} else {
			_, err = secret(s, "token_env", s.TokenEnv, env)
		}
		if err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("connector %q: unknown type %q (want one of %v)", s.Name, s.Type, Types))
	}
	if s.Timeout < 0 {
		errs = append(errs, fmt.Errorf("connector %q: timeout must not be negative", s.Name))
	}
	return errors.Join(errs...)
}

// secret reads the environment variable a spec names for its secret.
func secret(s Spec, field, name string, env Env) (string, error) {
	if name == "" {
		return "", fmt.Errorf("connector %q: %s is required for type %s", s.Name, field, s.Type)
	}
	v, ok := env(name)
	if !ok || v == "" {
		return "", fmt.Errorf("connector %q: environment variable %s (%s) is not set", s.Name, name, field)
	}
	return v, nil
}
