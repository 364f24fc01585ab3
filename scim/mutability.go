package scim

// The mutability pre-check of PATCH bodies (RFC 7644 §3.5.2: an operation
// on a readOnly attribute is 400 mutability).
//
// The library validates PATCH paths against the schemas without the common
// attributes, so it refuses `id`, `meta`, `meta.created` and `schemas` as
// invalidPath, and a path-less value holding `meta` as invalidValue, before
// the applier (patch.go) could say what is really wrong. This check reads
// the raw body first and answers those operations with mutability. It
// covers paths and the keys of path-less values (also inside a schema
// URN's object) that resolve, through the attribute catalog, to a readOnly
// attribute or sub-attribute, and `schemas`, which the server sets.
// Everything else it leaves to the library and the applier, which also
// refuse readOnly and immutable targets they reach (a User's groups).
//
// One exception: Okta sends the resource's own id in path-less values,
// {"op":"replace","value":{"id":"<this id>","active":false}}, and the
// library drops it; only an id different from the resource's is refused.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"
)

// checkPatchMutability returns a 400 mutability ScimError for the first
// operation of a PATCH body that targets a readOnly attribute of ref's
// resource type, or nil. A body it cannot read is left to the library.
func checkPatchMutability(ref resourceRef, body []byte) error {
	var req map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&req); err != nil {
		return nil
	}
	_, rawOps, _ := lookupFold(req, "Operations")
	ops, _ := rawOps.([]any)
	c := catalogFor(ref.kind)
	for i, raw := range ops {
		op, _ := raw.(map[string]any)
		_, name, _ := lookupFold(op, "op")
		_, rawPath, _ := lookupFold(op, "path")
		_, value, _ := lookupFold(op, "value")
		path, _ := rawPath.(string)
		var err error
		if path != "" {
			err = c.checkPathMutable(path)
		} else {
			err = c.checkValueMutable(ref.id, "", value)
		}
		if err != nil {
			return badRequest(scimerrors.ScimTypeMutability, "operation %d (%v %s): %v", i+1, name, clipDetail(describePath(path)), err)
		}
	}
	return nil
}

func describePath(path string) string {
	if path == "" {
		return "without path"
	}
	return path
}

// checkPathMutable refuses a path whose target is readOnly, or schemas.
func (c *catalog) checkPathMutable(path string) error {
	p, err := filter.ParsePath([]byte(path))
	if err != nil {
		return nil // the library says invalidPath
	}
	ap := p.AttributePath
	attr, sub, err := c.resolve(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if err != nil {
		return nil // an unknown attribute, or a whole extension: not ours to judge
	}
	if sub == nil && p.SubAttributeName() != "" {
		sub = attr.subAttr(p.SubAttributeName())
	}
	return readOnlyError(attr, sub)
}

// checkValueMutable refuses keys of a path-less value (under the schema
// uri, when not empty) that name readOnly attributes.
func (c *catalog) checkValueMutable(id, uri string, value any) error {
	obj, _ := value.(map[string]any)
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		v := obj[key]
		if strings.EqualFold(key, "schemas") {
			continue // ignored in values, as the applier does
		}
		if isSchemaURN(c, key) && uri == "" {
			if err := c.checkValueMutable(id, key, v); err != nil {
				return err
			}
			continue
		}
		if strings.EqualFold(key, "id") && (uri == "" || strings.EqualFold(uri, c.Schema)) && v == id {
			continue // Okta's own id; see the file comment
		}
		path := key
		if uri != "" {
			path = uri + ":" + key
		}
		if err := c.checkPathMutable(path); err != nil {
			return err
		}
	}
	return nil
}

// isSchemaURN reports whether s names the core schema or an extension of c.
func isSchemaURN(c *catalog, s string) bool {
	if strings.EqualFold(s, c.Schema) {
		return true
	}
	for _, ext := range c.Extensions {
		if strings.EqualFold(s, ext) {
			return true
		}
	}
	return false
}

// readOnlyError says why attr (or its sub-attribute sub) cannot be
// changed, or returns nil when it can as far as this check goes.
func readOnlyError(attr, sub *attrDef) error {
	switch {
	case attr.Schema == "" && attr.Name == "schemas":
		return fmt.Errorf("schemas is set by the server and cannot be changed")
	case sub != nil && (sub.Mutability == "readOnly" || attr.Mutability == "readOnly"):
		return fmt.Errorf("%s is read-only and cannot be changed", sub.fullName())
	case attr.Mutability == "readOnly":
		return fmt.Errorf("%s is read-only and cannot be changed", attr.fullName())
	}
	return nil
}
