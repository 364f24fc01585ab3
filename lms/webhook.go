package lms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The webhook connector POSTs one JSON event per delivery, signed per the
// Standard Webhooks specification (https://www.standardwebhooks.com):
//
//	webhook-id:        Delivery.ID, the same on every retry: receivers drop duplicates by it
//	webhook-timestamp: unix seconds when this attempt was sent
//	webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">
//
// The body is built from the Delivery alone (its timestamp is Delivery.Time),
// so every retry of one delivery sends the same bytes under the same id.
//
// A 2xx answer is success. 410 Gone means the receiver wants no more
// deliveries: the delivery fails permanently and goes to the dead letters,
// where an admin sees why (nothing is disabled silently). Redirects are not
// followed (the spec's advice: fix the URL instead) and fail permanently.
// Other answers are classified by [do].

// Webhook event types, one per [Op].
const (
	eventEnrollmentCreated   = "enrollment.created"
	eventEnrollmentSuspended = "enrollment.suspended"
	eventEnrollmentRemoved   = "enrollment.removed"
)

// webhookSecretPrefix marks a Standard Webhooks symmetric secret.
const webhookSecretPrefix = "whsec_"

// Key sizes the Standard Webhooks spec allows for symmetric secrets: at
// least 192 bits, at most 512.
const (
	minWebhookKey = 24
	maxWebhookKey = 64
)

// maxDrain bounds how much of a success answer is read so the connection
// can be reused.
const maxDrain = 64 << 10

type webhook struct {
	name   string
	url    string
	key    []byte
	client *http.Client
	logger *slog.Logger
	now    func() time.Time // the attempt's webhook-timestamp; a test seam
}

func newWebhook(s Spec, deps Deps) (Connector, error) {
	key, err := webhookKey(s, deps.Env)
	if err != nil {
		return nil, err
	}
	// A copy, so the shared client keeps following redirects for others.
	client := *deps.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &webhook{
		name:   s.Name,
		url:    s.URL,
		key:    key,
		client: &client,
		logger: deps.Logger,
		now:    time.Now,
	}, nil
}

// webhookKey reads and checks the signing secret s names. Its errors never
// contain the secret.
func webhookKey(s Spec, env Env) ([]byte, error) {
	v, err := secret(s, "secret_env", s.SecretEnv, env)
	if err != nil {
		return nil, err
	}
	key, err := parseWebhookSecret(v)
	if err != nil {
		return nil, fmt.Errorf("connector %q: environment variable %s (secret_env): %w", s.Name, s.SecretEnv, err)
	}
	return key, nil
}

// parseWebhookSecret decodes a whsec_ secret into its HMAC key. Surrounding
// white space (a trailing newline from a secrets file) is ignored. Its
// errors describe the problem without repeating the value.
func parseWebhookSecret(v string) ([]byte, error) {
	const want = "want whsec_ followed by 24 to 64 random bytes in base64"
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), webhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("the value does not start with %s (%s)", webhookSecretPrefix, want)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
			return nil, fmt.Errorf("the value after %s is not valid base64 (%s)", webhookSecretPrefix, want)
		}
	}
	if len(key) < minWebhookKey || len(key) > maxWebhookKey {
		return nil, fmt.Errorf("the value decodes to a %d-byte key (%s)", len(key), want)
	}
	return key, nil
}

// SignWebhook returns the Standard Webhooks signature header value,
// "v1,<base64>", for a message with webhook-id id, webhook-timestamp ts
// (whole seconds) and body, under secret ("whsec_..."). Errors never contain
// the secret.
func SignWebhook(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := parseWebhookSecret(secret)
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return signWebhook(key, id, ts.Unix(), body), nil
}

func signWebhook(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// webhookEvent is the body of every webhook: its shape is part of Onramp's
// public contract (DESIGN.md), pinned by testdata/webhook_*.golden. Every
// field is always present, empty when unknown.
type webhookEvent struct {
	Type          string      `json:"type"`
	Timestamp     string      `json:"timestamp"`
	CorrelationID string      `json:"correlation_id"`
	Data          webhookData `json:"data"`
}

type webhookData struct {
	User     webhookUser `json:"user"`
	CourseID string      `json:"course_id"`
	Bundle   string      `json:"bundle"`
}

type webhookUser struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	ExternalID  string `json:"externalId"`
	Email       string `json:"email"`
	DisplayName string `json:"displayName"`
}

// webhookTimeLayout is RFC 3339 in UTC with milliseconds, always three
// digits, so a Delivery.Time that went through a database at microsecond
// precision prints the same.
const webhookTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func webhookEventType(op Op) (string, bool) {
	switch op {
	case OpEnroll:
		return eventEnrollmentCreated, true
	case OpSuspend:
		return eventEnrollmentSuspended, true
	case OpUnenroll:
		return eventEnrollmentRemoved, true
	}
	return "", false
}

// webhookBody builds d's event. It depends on d alone, so it is the same
// bytes on every retry.
func webhookBody(d Delivery) (typ string, body []byte, err error) {
	typ, ok := webhookEventType(d.Op)
	if !ok {
		return "", nil, fmt.Errorf("unknown op %q", d.Op)
	}
	if err := checkWebhookID(d.ID); err != nil {
		return typ, nil, err
	}
	if d.Time.IsZero() {
		return typ, nil, errors.New("the delivery has no time, so its payload would not be stable across retries")
	}
	body, err = json.Marshal(webhookEvent{
		Type:          typ,
		Timestamp:     d.Time.UTC().Format(webhookTimeLayout),
		CorrelationID: d.CorrelationID,
		Data: webhookData{
			User: webhookUser{
				ID:          d.User.ID,
				UserName:    d.User.UserName,
				ExternalID:  d.User.ExternalID,
				Email:       d.User.Email,
				DisplayName: d.User.DisplayName,
			},
			CourseID: d.Course,
			Bundle:   d.Bundle,
		},
	})
	return typ, body, err
}

// checkWebhookID accepts printable ASCII without spaces or full stops: the
// spec forbids '.' in the signed id, and anything else would not survive as
// a header value.
func checkWebhookID(id string) error {
	if id == "" {
		return errors.New("the delivery has no id (the webhook-id)")
	}
	if len(id) > 256 {
		return fmt.Errorf("delivery id is %d bytes long; want at most 256", len(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return fmt.Errorf("delivery id %q: want printable ASCII without spaces or '.'", id)
		}
	}
	return nil
}

// Deliver POSTs d's event. See the comment at the top of this file.
func (w *webhook) Deliver(ctx context.Context, d Delivery) error {
	typ, body, err := webhookBody(d)
	if err != nil {
		return &Error{Op: "webhook: " + deliveryOp(typ, d.Op), Permanent: true, Err: err}
	}
	op := "webhook: POST " + typ
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &Error{Op: op, Permanent: true, Err: err}
	}
	ts := w.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", signWebhook(w.key, d.ID, ts, body))

	start := time.Now()
	resp, err := do(w.client, req, d, op)
	if err != nil {
		explainWebhookError(err)
		w.logger.LogAttrs(ctx, slog.LevelDebug, "webhook attempt failed",
			slog.String("connector", w.name), slog.String("delivery_id", d.ID),
			slog.String("type", typ), slog.Duration("took", time.Since(start)),
			slog.String("error", err.Error()))
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	w.logger.LogAttrs(ctx, slog.LevelDebug, "webhook delivered",
		slog.String("connector", w.name), slog.String("delivery_id", d.ID),
		slog.String("type", typ), slog.Int("status", resp.StatusCode),
		slog.Duration("took", time.Since(start)))
	return nil
}

func deliveryOp(typ string, op Op) string {
	if typ != "" {
		return "POST " + typ
	}
	return string(op)
}

// explainWebhookError turns the answers that need an operator into
// messages that say what to do.
func explainWebhookError(err error) {
	var e *Error
	if !errors.As(err, &e) {
		return
	}
	switch {
	case e.Status == http.StatusGone:
		e.Permanent = true
		e.Err = withDetail(e.Err, "the receiver answered 410 Gone: it asks for no more deliveries to this endpoint, "+
			"so this delivery is dead-lettered; fix or remove the connector, then replay")
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		e.Err = withDetail(e.Err, "the receiver refused the signature: check that it holds the same secret")
	case e.Status >= 300 && e.Status < 400:
		e.Permanent = true
		e.Err = withDetail(e.Err, "the receiver redirected, and webhooks do not follow redirects: set the connector's url to the final address")
	}
}

// withDetail puts msg before what the receiver said, if anything.
func withDetail(said error, msg string) error {
	if said == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s; it said: %w", msg, said)
}
