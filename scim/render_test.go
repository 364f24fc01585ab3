package scim

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

func TestProjection(t *testing.T) {
	user := func() map[string]any {
		return map[string]any{
			"userName": "alice",
			"name":     map[string]any{"givenName": "Alice", "familyName": "Liddell"},
			"emails": []any{
				map[string]any{"value": "a@example.com", "type": "work"},
				map[string]any{"value": "a@home.example", "type": "home"},
			},
			enterpriseSchemaURN: map[string]any{"department": "Eng", "employeeNumber": "7"},
		}
	}
	tests := []struct {
		name  string
		query url.Values
		want  map[string]any
	}{
		{"no projection", url.Values{}, user()},
		{
			"attributes top level, any case",
			url.Values{"attributes": {"USERNAME,Emails"}},
			map[string]any{"userName": "alice", "emails": user()["emails"]},
		},
		{
			"attributes sub-attribute of complex and multi-valued",
			url.Values{"attributes": {"name.givenName,emails.type"}},
			map[string]any{
				"name":   map[string]any{"givenName": "Alice"},
				"emails": []any{map[string]any{"type": "work"}, map[string]any{"type": "home"}},
			},
		},
		{
			"attributes several sub-attributes of one multi-valued attribute",
			url.Values{"attributes": {"emails.value,emails.TYPE"}},
			map[string]any{"emails": user()["emails"]},
		},
		{
			"attributes the whole attribute and one of its sub-attributes",
			url.Values{"attributes": {"emails,emails.type"}},
			map[string]any{"emails": user()["emails"]},
		},
		{
			"attributes a sub-attribute, then the whole attribute",
			url.Values{"attributes": {"emails.type,emails"}},
			map[string]any{"emails": user()["emails"]},
		},
		{
			"attributes with a value filter reads as the attribute",
			url.Values{"attributes": {`emails[type eq "work"]`}},
			map[string]any{"emails": user()["emails"]},
		},
		{
			"attributes URN-qualified core and extension",
			url.Values{"attributes": {userSchemaURN + ":userName," + enterpriseSchemaURN + ":department"}},
			map[string]any{"userName": "alice", enterpriseSchemaURN: map[string]any{"department": "Eng"}},
		},
		{
			"excludedAttributes",
			url.Values{"excludedAttributes": {"emails,name.familyName," + enterpriseSchemaURN}},
			map[string]any{"userName": "alice", "name": map[string]any{"givenName": "Alice"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/Users?"+tt.query.Encode(), nil)
			got := user()
			parseProjection(r).apply(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestProjectionWants(t *testing.T) {
	tests := []struct {
		query string
		attr  string
		want  bool
	}{
		{"", "members", true},
		{"excludedAttributes=members", "members", false},
		{"excludedAttributes=Members", "members", false},
		{"excludedAttributes=members.display", "members", true},
		{"attributes=displayName", "members", false},
		{"attributes=members.value", "members", true},
		{"attributes=displayName", "externalId", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/Groups?"+tt.query, nil)
		if got := parseProjection(r).wants(tt.attr); got != tt.want {
			t.Errorf("%q wants(%q) = %v, want %v", tt.query, tt.attr, got, tt.want)
		}
	}
}
