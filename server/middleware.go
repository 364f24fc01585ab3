package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/scim"
)

// correlationHeader carries the correlation id in both directions.
const correlationHeader = "X-Correlation-ID"

// correlate adopts the request's well-formed X-Correlation-ID (or
// X-Request-ID), else mints one, and sets it on the response and in the
// request context before anything else runs, so that every log line, audit
// event and error body of the request carries it.
func correlate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(correlationHeader)
		if id == "" {
			id = r.Header.Get("X-Request-ID")
		}
		if !reqctx.ValidCorrelationID(id) {
			id = reqctx.NewCorrelationID()
		}
		w.Header().Set(correlationHeader, id)
		next.ServeHTTP(w, r.WithContext(reqctx.WithCorrelationID(r.Context(), id)))
	})
}

// recoverPanics turns a panic into a logged 500 instead of a dropped
// connection. The client sees only the correlation id.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			detail := "Internal server error; correlation id " + reqctx.CorrelationID(r.Context()) + "."
			if strings.HasPrefix(r.URL.Path, "/admin/") {
				writeProblem(w, r, &httpError{status: http.StatusInternalServerError, detail: detail})
				return
			}
			scim.WriteError(w, scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: detail})
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request. It never logs headers or bodies,
// which may carry tokens or personal data.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.InfoContext(r.Context(), "request",
			"method", r.Method, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// statusWriter records what was answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limitBody reads the whole body up front, at most limit bytes: a larger one
// is answered 413 and a body that is not UTF-8 is answered 400, both as SCIM
// errors. The SCIM library reads bodies without a limit and ignores read
// errors, so the check cannot be left to it.
func limitBody(limitOf func(*http.Request) int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := limitOf(r)
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > limit {
			tooLarge(w, limit)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &maxErr):
			tooLarge(w, limit)
			return
		case err != nil:
			scim.WriteError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
				Detail: "The request body could not be read."})
			return
		case !utf8.Valid(body):
			scim.WriteError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
				Detail: "The request body is not valid UTF-8."})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, limit int64) {
	scim.WriteError(w, scimerrors.ScimError{
		Status: http.StatusRequestEntityTooLarge,
		Detail: fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit),
	})
}
