package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/store"
)

// Paging of /admin/v1/deliveries.
const (
	defaultDeliveriesLimit = 100
	maxDeliveriesLimit     = 500
)

// deliveryStates are the states /admin/v1/deliveries can list.
const deliveryStates = "dead"

// engine is the delivery engine, or a 503 when this server has none.
func (a *admin) engine() (*delivery.Engine, error) {
	if a.delivery == nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: "Delivery is not running in this server."}
	}
	return a.delivery, nil
}

// listDeliveries lists dead letters, newest first, a page at a time:
// ?state=dead&limit=N&after=ID, where ID is the previous page's next.
func (a *admin) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if state := q.Get("state"); state != "" && state != "dead" {
		return badRequest("The state %q is not supported; supported states: %s.", state, deliveryStates)
	}
	limit64, err := intParam(q, "limit", defaultDeliveriesLimit, 1, maxDeliveriesLimit)
	if err != nil {
		return err
	}
	limit := int(limit64)
	after, err := intParam(q, "after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	page, err := eng.Dead(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := struct {
		Deliveries []delivery.DeadLetter `json:"deliveries"`
		Next       string                `json:"next,omitempty"`
	}{Deliveries: page}
	if len(page) > limit {
		out.Deliveries = page[:limit]
		out.Next = strconv.FormatInt(page[limit-1].ID, 10)
	}
	return writeJSON(w, http.StatusOK, out)
}

// intParam is the integer query parameter name, def when absent.
func intParam(q url.Values, name string, def, lo, hi int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("The parameter %s must be a whole number from %d to %d, not %q.", name, lo, hi, v)
	}
	return n, nil
}

// replayDelivery queues a dead letter's sync again: 202 with the dead
// letter that was replayed.
func (a *admin) replayDelivery(w http.ResponseWriter, r *http.Request) error {
	return a.onDeadLetter(w, r, "delivery.replay", http.StatusAccepted, (*delivery.Engine).Replay)
}

// purgeDelivery deletes a dead letter without running it: 204.
func (a *admin) purgeDelivery(w http.ResponseWriter, r *http.Request) error {
	return a.onDeadLetter(w, r, "delivery.purge", http.StatusNoContent, (*delivery.Engine).Purge)
}

// deadLetterOp is Engine.Replay or Engine.Purge.
type deadLetterOp = func(*delivery.Engine, context.Context, int64, store.Event) (delivery.DeadLetter, error)

// onDeadLetter applies op to the dead letter the path names, audited as
// action, and answers status.
func (a *admin) onDeadLetter(w http.ResponseWriter, r *http.Request, action string, status int, op deadLetterOp) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	raw := mux.Vars(r)["id"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return badRequest("%q is not a delivery id: ids are positive whole numbers.", raw)
	}
	d, err := op(eng, r.Context(), id, event(r, action, status, ""))
	switch {
	case errors.Is(err, delivery.ErrNotDead):
		return &httpError{status: http.StatusNotFound, detail: fmt.Sprintf("There is no dead letter with id %d.", id)}
	case err != nil:
		return err
	case status == http.StatusNoContent:
		w.WriteHeader(status)
		return nil
	}
	return writeJSON(w, status, d)
}
