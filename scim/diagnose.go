package scim

// Better details for refused POST and PUT bodies.
//
// The library validates resource bodies against the schemas but answers
// every type error with one generic detail ("A required value was missing,
// or the value specified was not compatible ...") that names no attribute.
// When it refuses a body with such a detail, diagnoseBody looks for the
// reason in the same body, through the attribute catalog, and the answer
// names it: `"active" must be a boolean, not 5`. The library stays the
// judge of what is accepted; only the wording of its refusals changes, and
// a refusal the diagnosis cannot explain keeps the library's detail.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

// heldRefusal is a ResponseWriter that holds back a 400 answer, so that its
// detail can be replaced; every other answer passes straight through.
type heldRefusal struct {
	http.ResponseWriter
	held bool
	buf  bytes.Buffer
}

func (w *heldRefusal) WriteHeader(status int) {
	if status == http.StatusBadRequest {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *heldRefusal) Write(b []byte) (int, error) {
	if w.held {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *heldRefusal) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the held refusal, with a detail from diagnose when the
// library's was generic and diagnose finds the reason.
func (w *heldRefusal) finish(diagnose func() string) {
	if !w.held {
		return
	}
	var se scimerrors.ScimError
	if json.Unmarshal(w.buf.Bytes(), &se) == nil && isGenericDetail(se.Detail) {
		if detail := diagnose(); detail != "" {
			se.Detail = detail
			WriteError(w.ResponseWriter, se)
			return
		}
	}
	w.ResponseWriter.WriteHeader(http.StatusBadRequest)
	_, _ = w.ResponseWriter.Write(w.buf.Bytes()) // the client has gone if this fails
}

// isGenericDetail reports whether detail is one of the library's
// details that name nothing.
func isGenericDetail(detail string) bool {
	return detail == scimerrors.ScimErrorInvalidValue.Detail || detail == scimerrors.ScimErrorInvalidSyntax.Detail
}

// diagnoseBody names the first problem of a resource body of kind that
// the library refuses without saying why, or returns "". Keys are visited
// in sorted order, so the answer is the same every time.
func diagnoseBody(kind resourceKind, body []byte) string {
	var obj map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil || obj == nil {
		return "the body must be a JSON object"
	}
	c := catalogFor(kind)
	if _, v, ok := lookupFold(obj, "schemas"); !ok || !listsString(v, c.Schema) {
		return fmt.Sprintf("schemas must be an array that lists %q", c.Schema)
	}
	for _, a := range c.Attrs {
		if _, v, ok := lookupFold(obj, a.Name); a.Required && a.Schema == c.Schema && (!ok || v == nil || v == "") {
			return fmt.Sprintf("%s is required", strconv.Quote(a.Name))
		}
	}
	return c.diagnoseObject("", obj)
}

// diagnoseObject checks the attributes of obj, those of the schema uri
// when it is not empty.
func (c *catalog) diagnoseObject(uri string, obj map[string]any) string {
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		v := obj[key]
		if uri == "" && isSchemaURN(c, key) && !strings.EqualFold(key, c.Schema) {
			ext, ok := v.(map[string]any)
			if !ok && v != nil {
				return fmt.Sprintf("%s must be an object of its attributes", quoteClipped(key))
			}
			if msg := c.diagnoseObject(key, ext); msg != "" {
				return msg
			}
			continue
		}
		attr, _, err := c.resolve(uri, key, "")
		if err != nil || attr.Schema == "" { // unknown, or common (id, meta, schemas): ignored
			continue
		}
		if msg := diagnoseValue(attr, attr.fullName(), v); msg != "" {
			return msg
		}
	}
	return ""
}

// diagnoseValue checks v against attribute a, called name in messages.
func diagnoseValue(a *attrDef, name string, v any) string {
	if v == nil {
		return ""
	}
	if !a.MultiValued {
		return diagnoseSingle(a, name, v)
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("%s must be an array, not %s", strconv.Quote(name), valueText(v))
	}
	for i, e := range list {
		if msg := diagnoseSingle(a, fmt.Sprintf("%s[%d]", name, i), e); msg != "" {
			return msg
		}
	}
	return ""
}

// diagnoseSingle checks one value of a.
func diagnoseSingle(a *attrDef, name string, v any) string {
	if a.Type == attrTypeComplex {
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s must be an object, not %s", strconv.Quote(name), valueText(v))
		}
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			if sub := a.subAttr(key); sub != nil && obj[key] != nil {
				if msg := diagnoseSingle(sub, name+"."+sub.Name, obj[key]); msg != "" {
					return msg
				}
			}
		}
		return ""
	}
	if fitsType(a.Type, v) {
		return ""
	}
	return fmt.Sprintf("%s must be %s %s, not %s", strconv.Quote(name), indefArticle(a.Type), a.Type, valueText(v))
}

// fitsType reports whether a JSON value (numbers as json.Number) can be
// of the simple SCIM type t. Booleans may be the strings "true" and
// "false" in any case, as Entra ID sends them.
func fitsType(t string, v any) bool {
	switch t {
	case attrTypeBoolean:
		s, isStr := v.(string)
		_, isBool := v.(bool)
		return isBool || isStr && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false"))
	case attrTypeInteger:
		n, ok := v.(json.Number)
		_, err := n.Int64()
		return ok && err == nil
	case attrTypeDecimal:
		_, ok := v.(json.Number)
		return ok
	default: // string, reference, binary, dateTime
		_, ok := v.(string)
		return ok
	}
}

// listsString reports whether v is a JSON array of strings holding s.
func listsString(v any, s string) bool {
	list, _ := v.([]any)
	for _, e := range list {
		if str, ok := e.(string); ok && strings.EqualFold(str, s) {
			return true
		}
	}
	return false
}

// valueText renders a client's value for a message, cut short.
func valueText(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return filterValueText(v)
}

// withDiagnosis prepares POST /Users, POST /Groups and PUT of one user or
// group for better refusal details: it returns the writer to hand to the
// library and the function to call once the library is done. Other
// requests get w back and a no-op.
func withDiagnosis(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func(), error) {
	kind, ok := resourceBodyKind(r)
	if !ok || r.Body == nil {
		return w, func() {}, nil
	}
	// The server's body limit has already read and bounded the body, so
	// this costs a copy, not a read.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return w, nil, fmt.Errorf("read body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	hw := &heldRefusal{ResponseWriter: w}
	return hw, func() { hw.finish(func() string { return diagnoseBody(kind, body) }) }, nil
}

// resourceBodyKind reports which kind of resource r's body is, for a
// POST to a collection or a PUT of one resource.
func resourceBodyKind(r *http.Request) (resourceKind, bool) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/Users":
		return kindUser, true
	case r.Method == http.MethodPost && r.URL.Path == "/Groups":
		return kindGroup, true
	case r.Method == http.MethodPut:
		ref, ok := parseResourcePath(r.URL.Path)
		return ref.kind, ok
	}
	return 0, false
}
