package scim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

// scimError turns any error from the store or our own code into the SCIM
// error the client should see. The library turns anything that is not a
// ScimError value into a 500 whose detail is the error text, so every error
// a resource handler returns goes through here first: SQL text never
// reaches a client.
func (h *Handler) scimError(r *http.Request, err error) scimerrors.ScimError {
	var se scimerrors.ScimError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, store.ErrNotFound):
		return scimerrors.ScimErrorResourceNotFound(resourceID(r))
	case errors.Is(err, store.ErrAlreadyExists):
		return scimerrors.ScimError{
			Status:   http.StatusConflict,
			ScimType: scimerrors.ScimTypeUniqueness,
			Detail:   uniqueDetail(err),
		}
	case errors.Is(err, store.ErrInvalidValue):
		return scimerrors.ScimError{
			Status:   http.StatusBadRequest,
			ScimType: scimerrors.ScimTypeInvalidValue,
			Detail:   err.Error(),
		}
	case errors.Is(err, store.ErrVersionMismatch):
		return scimerrors.ScimError{
			Status: http.StatusPreconditionFailed,
			Detail: "The resource has changed: its version is not one that If-Match names. Read it again, then retry with its new ETag.",
		}
	case errors.Is(err, store.ErrUnknownMember):
		return scimerrors.ScimError{
			Status:   http.StatusBadRequest,
			ScimType: scimerrors.ScimTypeInvalidValue,
			Detail:   "members: " + err.Error(),
		}
	}
	h.log.ErrorContext(r.Context(), "scim request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	return internalError(r)
}

// uniqueDetail phrases a uniqueness conflict for the client.
func uniqueDetail(err error) string {
	return fmt.Sprintf("%v: the value is already in use by another resource.", err)
}

// internalError is what a client sees of a failure that is ours: a 500 with
// the correlation id to quote to an operator, who finds the cause in the log.
func internalError(r *http.Request) scimerrors.ScimError {
	return scimerrors.ScimError{
		Status: http.StatusInternalServerError,
		Detail: "Internal server error; correlation id " + reqctx.CorrelationID(r.Context()) + ".",
	}
}

// internalError writes a 500 for a failure outside a resource handler.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "scim request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	WriteError(w, internalError(r))
}

// WriteError writes a SCIM error body (RFC 7644 §3.12) with its status.
// The server's middleware uses it too, so that every error under /scim/v2,
// authentication and body limits included, has the same shape.
func WriteError(w http.ResponseWriter, se scimerrors.ScimError) {
	writeJSON(w, se.Status, se)
}

// badRequest is a 400 with a scimType and a detail for the client.
func badRequest(scimType scimerrors.ScimType, format string, args ...any) scimerrors.ScimError {
	return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// resourceID is the id in a /Users/{id} or /Groups/{id} path, for messages.
func resourceID(r *http.Request) string {
	_, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return id
}
