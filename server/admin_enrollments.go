package server

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/onramp-dev/onramp/delivery"
)

// explainEnrollments answers "why is this person enrolled?": each course
// the user is wanted in or was delivered to, with the groups, rules and
// bundles that want it and what became of its delivery.
func (a *admin) explainEnrollments(w http.ResponseWriter, r *http.Request) error {
	eng, err := a.engine()
	if err != nil {
		return err
	}
	x, err := eng.Explain(r.Context(), mux.Vars(r)["id"])
	if errors.Is(err, delivery.ErrUnknownUser) {
		return &httpError{status: http.StatusNotFound, detail: "There is no user with that id, and none was ever enrolled under it."}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}
