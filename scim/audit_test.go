package scim

import (
	"testing"

	elimity "github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"
)

func TestDescribeOpsShowsActiveOnly(t *testing.T) {
	t.Parallel()
	path := func(s string) *filter.Path {
		p, err := filter.ParsePath([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	tests := []struct {
		ops  []elimity.PatchOperation
		want string
	}{
		{[]elimity.PatchOperation{{Op: "replace", Path: path("active"), Value: false}}, "replace active=false"},
		{[]elimity.PatchOperation{{Op: "replace", Value: map[string]any{"active": "False", "displayName": "Secret Name"}}}, "replace active=false,displayName"},
		{[]elimity.PatchOperation{{Op: "replace", Path: path("name.familyName"), Value: "Secret"}}, "replace name.familyName"},
		{[]elimity.PatchOperation{{Op: "add", Path: path("members"), Value: []any{map[string]any{"value": "u1"}}}, {Op: "remove", Path: path("active")}}, "add members; remove active"},
	}
	for _, tt := range tests {
		if got := describeOps(tt.ops); got != tt.want {
			t.Errorf("describeOps = %q, want %q", got, tt.want)
		}
	}
}
