package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// healthz says the process is up; it touches nothing else, so that a slow
// database never gets a healthy process restarted.
func healthz(version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writePlainJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version})
	})
}

// readyz says whether the database is reachable and migrated, so that a load
// balancer sends traffic only to replicas that can serve it.
func readyz(st *store.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ready(ctx); err != nil {
			log.WarnContext(ctx, "not ready", "error", err)
			writePlainJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writePlainJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writePlainJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
}

func writePlainJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails
}
