package scim

import (
	"encoding/json"
	"net/http"

	elimity "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs Onramp serves.
const (
	userSchemaURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchemaURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseSchemaURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	listResponseURN     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	spcSchemaURN        = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// maxCount is the largest page a list request gets, advertised as
// filter.maxResults; defaultCount is the page size when the client names none.
const (
	maxCount     = 1000
	defaultCount = 100
)

// resourceTypes declares Users (with the enterprise extension) and Groups.
// Users are listed first: the Microsoft suite checks Resources[0] of
// /ResourceTypes.
func resourceTypes(users elimity.ResourceHandler, groups elimity.ResourceHandler) []elimity.ResourceType {
	return []elimity.ResourceType{
		{
			ID:          optional.NewString("User"),
			Name:        "User",
			Description: optional.NewString("User Account"),
			Endpoint:    "/Users",
			Schema:      userSchema(),
			SchemaExtensions: []elimity.SchemaExtension{
				{Schema: schema.ExtensionEnterpriseUser()},
			},
			Handler: users,
		},
		{
			ID:          optional.NewString("Group"),
			Name:        "Group",
			Description: optional.NewString("Group"),
			Endpoint:    "/Groups",
			Schema:      schema.CoreGroupSchema(),
			Handler:     groups,
		},
	}
}

// userSchema is RFC 7643's User schema without password. Onramp provisions
// learning systems and has no use for a password, so it neither accepts nor
// keeps one: a password sent by a client is ignored like any attribute the
// schema does not define, and /Schemas says so by not listing it.
func userSchema() schema.Schema {
	s := schema.CoreUserSchema()
	attrs := make([]schema.CoreAttribute, 0, len(s.Attributes))
	for _, a := range s.Attributes {
		if a.Name() != "password" {
			attrs = append(attrs, a)
		}
	}
	s.Attributes = attrs
	return s
}

// serviceProviderConfig answers /ServiceProviderConfig with what Onramp
// really supports; the library's own answer hard-codes features off.
func (h *Handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request, base string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{spcSchemaURN},
		"documentationUri": "https://github.com/onramp-dev/onramp#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": BulkMaxOperations, "maxPayloadSize": BulkMaxPayloadSize},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with an Onramp API token sent as an HTTP Bearer token.",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	})
}

// writeJSON writes v as a SCIM JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails; nothing to do
}
