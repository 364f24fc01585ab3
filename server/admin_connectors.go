package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// connectorView is a configured connector as /admin/v1/connectors shows
// it: no secret, no name of the environment variable holding one, and no
// credential or query in the URL.
type connectorView struct {
	Name string `json:"name"`
	Type string `json:"type"`
	URL  string `json:"url,omitempty"`
}

func (a *admin) listConnectors(w http.ResponseWriter, r *http.Request) error {
	out := make([]connectorView, 0, len(a.connectors))
	for _, s := range a.connectors {
		out = append(out, connectorView{Name: s.Name, Type: s.Type, URL: redactURL(s.URL)})
	}
	slices.SortFunc(out, func(x, y connectorView) int { return strings.Compare(x.Name, y.Name) })
	return writeJSON(w, http.StatusOK, map[string]any{"connectors": out})
}

// redactURL is raw without user information, query or fragment, any of
// which may carry a credential; "" when it does not parse.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
