package server

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes /admin/v1 (OpenAPI 3.1). A test validates real
// responses against it, so it stays true.
//
//go:embed openapi/admin.json
var openAPIDocument []byte

func (a *admin) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument) // the client has gone if this fails
	return nil
}
