package scim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	elimity "github.com/elimity-com/scim"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

// event starts the audit record of a write. The store commits it with the
// write itself; status and summary describe the success.
func (h *Handler) event(r *http.Request, action, resourceType, id string, status int, summary string) store.Event {
	ctx := r.Context()
	actor := "anonymous"
	if p, ok := reqctx.PrincipalFrom(ctx); ok {
		actor = p.Name
	}
	return store.Event{
		CorrelationID: reqctx.CorrelationID(ctx),
		Actor:         actor,
		Action:        action,
		ResourceType:  resourceType,
		ResourceID:    id,
		Outcome:       store.OutcomeSuccess,
		Status:        status,
		Summary:       summary,
	}
}

// fail maps a failed write's error to the client's SCIM error and records
// the refusal in the audit trail, so that identity teams see rejected
// provisioning attempts as well as accepted ones. The write itself was rolled
// back; the failure event is written on its own.
func (h *Handler) fail(r *http.Request, ev store.Event, err error) error {
	se := h.scimError(r, err)
	ev.Outcome = store.OutcomeFailure
	ev.Status = se.Status
	ev.Summary = fmt.Sprintf("%s refused: %s", ev.Action, se.Detail)
	// The request may have been cancelled; the record must still be written.
	if rerr := h.store.RecordEvent(context.WithoutCancel(r.Context()), ev); rerr != nil {
		h.log.ErrorContext(r.Context(), "recording audit event", "error", rerr)
	}
	return se
}

// describeOps summarises PATCH operations for the audit trail: operations
// and paths, and no value, which may hold personal data, except active:
// "set active=false" is what an identity team looks for.
func describeOps(ops []elimity.PatchOperation) string {
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		target := "(no path)"
		if op.Path != nil {
			target = op.Path.String()
			if strings.EqualFold(target, "active") {
				target = withActive(target, op.Value)
			}
		} else if m, ok := op.Value.(map[string]any); ok {
			keys := make([]string, 0, len(m))
			for k, v := range m {
				if strings.EqualFold(k, "active") {
					k = withActive(k, v)
				}
				keys = append(keys, k)
			}
			slices.Sort(keys)
			target = strings.Join(keys, ",")
		}
		parts = append(parts, op.Op+" "+target)
	}
	return strings.Join(parts, "; ")
}

// withActive appends the value of active, a boolean (or Entra's "False").
func withActive(name string, v any) string {
	switch v := v.(type) {
	case bool:
		return name + "=" + strconv.FormatBool(v)
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return name + "=" + strconv.FormatBool(b)
		}
	}
	return name
}

func quote(s string) string { return strconv.Quote(s) }
