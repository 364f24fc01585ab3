package lms

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// userAgent is sent on every outbound call, so LMS operators can tell
// Onramp's traffic apart.
const userAgent = "onramp"

// maxErrorBody bounds how much of an error answer is read for the message.
const maxErrorBody = 4 << 10

// do sends req with Onramp's headers and classifies the answer. A 2xx
// response is returned open for the caller to read and close; anything else
// is closed and returned as an *Error: 408, 425, 429 and 5xx, and no answer
// at all, are worth retrying; other statuses are permanent. op names the
// call in the error.
func do(client *http.Client, req *http.Request, d Delivery, op string) (*http.Response, error) {
	req.Header.Set("User-Agent", userAgent)
	if d.CorrelationID != "" {
		req.Header.Set("X-Correlation-ID", d.CorrelationID)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &Error{Op: op, Err: withoutURL(err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, statusError(resp, op)
}

// withoutURL drops the request URL that net/http puts in its errors: a
// URL may carry a credential in its query or user info, and errors reach
// audit events, dead letters and logs. What went wrong stays.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// statusError describes a non-2xx answer.
func statusError(resp *http.Response, op string) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{
		Op:         op,
		Status:     resp.StatusCode,
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Permanent:  !retryableStatus(resp.StatusCode),
	}
	if msg := strings.TrimSpace(string(body)); msg != "" {
		e.Err = errors.New(truncate(msg, 300))
	}
	return e
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500
}

// ParseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): a number
// of seconds or an HTTP date. It returns 0 for an absent, malformed
// (signed, fractional) or past value, and clamps one too large for a
// time.Duration.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if isDigits(h) { // delay-seconds = 1*DIGIT: no sign, no fraction
		secs, err := strconv.ParseInt(h, 10, 64)
		if err != nil || secs > maxRetryAfterSeconds {
			return time.Duration(maxRetryAfterSeconds) * time.Second
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// maxRetryAfterSeconds is the longest Retry-After a time.Duration holds;
// longer ones are clamped to it (the delivery engine caps waits anyway).
const maxRetryAfterSeconds = int64(math.MaxInt64 / time.Second)

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// truncate shortens s to at most n bytes, on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// errorf builds a permanent *Error for a malformed or refused answer.
func errorf(op string, status int, format string, args ...any) *Error {
	return &Error{Op: op, Status: status, Permanent: true, Err: fmt.Errorf(format, args...)}
}
