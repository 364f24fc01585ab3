package scim

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	elimity "github.com/elimity-com/scim"
)

// normalizePatchBody rewrites the forms of a PATCH /Users body that real
// clients send but the library's validation rejects, so that the request
// reaches the applier; other bodies, and anything that is not a JSON object,
// are returned unchanged for the library to judge. Call it on the body of
// every PATCH to /Users/{id} before the library sees it.
//
//   - Entra ID sends the enterprise manager as a bare id:
//     {"op":"Add","path":"urn:...:enterprise:2.0:User:manager","value":"<id>"}.
//     The schema makes manager complex, so the library answers 400. The id
//     becomes {"value": "<id>"}; an empty id, Entra's way of clearing the
//     manager, becomes a remove.
//   - Onramp's User schema leaves out password (see userSchema), so the
//     library rejects any operation on it, which Okta sends when password
//     sync is on. Such operations, and password keys of path-less values,
//     are dropped here: the password is never stored and never reaches the
//     audit trail. A request left without operations gets a no-op in their
//     place, since the library insists on at least one.
func normalizePatchBody(body []byte) []byte {
	var req map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&req); err != nil || d.More() {
		return body
	}
	opsKey, rawOps, _ := lookupFold(req, "Operations")
	ops, ok := rawOps.([]any)
	if !ok {
		return body
	}
	var (
		out     []any
		changed bool
	)
	for _, raw := range ops {
		op, isObj := raw.(map[string]any)
		if !isObj {
			out = append(out, raw)
			continue
		}
		rewritten, opChanged := normalizePatchOp(op)
		out = append(out, rewritten...)
		changed = changed || opChanged
	}
	if !changed {
		return body
	}
	if len(out) == 0 {
		// Every operation was on the password: change nothing.
		out = []any{map[string]any{"op": elimity.PatchOperationAdd, "value": map[string]any{}}}
	}
	req[opsKey] = out
	rewritten, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return rewritten
}

// managerPath is the full path of the enterprise extension's manager.
const managerPath = enterpriseSchemaURN + ":manager"

// isPasswordPath reports whether a path or path-less key names password.
func isPasswordPath(path string) bool {
	return strings.EqualFold(path, "password") || strings.EqualFold(path, userSchemaURN+":password")
}

// normalizePatchOp rewrites one operation of a PATCH /Users body for
// normalizePatchBody into the operations that replace it (none, itself, or
// itself followed by a remove of the manager), and reports whether it
// changed anything.
func normalizePatchOp(op map[string]any) ([]any, bool) {
	opKey, rawName, _ := lookupFold(op, "op")
	name, _ := rawName.(string)
	_, rawPath, _ := lookupFold(op, "path")
	path, _ := rawPath.(string)
	valueKey, value, _ := lookupFold(op, "value")

	switch {
	case isPasswordPath(path):
		return nil, true
	case strings.EqualFold(path, managerPath):
		id, isStr := value.(string)
		if !isStr {
			return []any{op}, false
		}
		if id == "" || strings.EqualFold(name, elimity.PatchOperationRemove) {
			if opKey == "" {
				opKey = "op"
			}
			op[opKey] = elimity.PatchOperationRemove
			delete(op, valueKey)
		} else {
			op[valueKey] = map[string]any{"value": id}
		}
		return []any{op}, true
	case path != "":
		return []any{op}, false
	}

	obj, isObj := value.(map[string]any)
	if !isObj {
		return []any{op}, false
	}
	changed, clearManager := false, false
	// managerID rewrites a manager given as a bare id in obj under key.
	managerID := func(obj map[string]any, key string) {
		id, isStr := obj[key].(string)
		if !isStr {
			return
		}
		changed = true
		if id == "" {
			delete(obj, key)
			clearManager = true
		} else {
			obj[key] = map[string]any{"value": id}
		}
	}
	for _, k := range slices.Collect(maps.Keys(obj)) {
		switch {
		case isPasswordPath(k):
			delete(obj, k)
			changed = true
		case strings.EqualFold(k, managerPath):
			managerID(obj, k)
		case strings.EqualFold(k, userSchemaURN):
			if core, isObj := obj[k].(map[string]any); isObj {
				if pk, _, found := lookupFold(core, "password"); found {
					delete(core, pk)
					changed = true
				}
			}
		case strings.EqualFold(k, enterpriseSchemaURN):
			if ext, isObj := obj[k].(map[string]any); isObj {
				if mk, _, found := lookupFold(ext, "manager"); found {
					managerID(ext, mk)
				}
			}
		}
	}
	if !clearManager {
		return []any{op}, changed
	}
	remove := map[string]any{"op": elimity.PatchOperationRemove, "path": managerPath}
	if len(obj) == 0 {
		return []any{remove}, true
	}
	return []any{op, remove}, true
}
