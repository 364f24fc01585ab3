package scim

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/elimity-com/scim/schema"
)

// resourceKind says which resource a filter or path is about.
type resourceKind int

// The resource kinds Onramp serves.
const (
	kindUser resourceKind = iota
	kindGroup
)

// String returns the SCIM resource type name: "User" or "Group" (the value
// of meta.resourceType).
func (k resourceKind) String() string {
	switch k {
	case kindUser:
		return "User"
	case kindGroup:
		return "Group"
	default:
		return "resourceKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// SCIM attribute data types (RFC 7643 §2.3), as in [attrDef.Type].
const (
	attrTypeString    = "string"
	attrTypeBoolean   = "boolean"
	attrTypeDecimal   = "decimal"
	attrTypeInteger   = "integer"
	attrTypeDateTime  = "dateTime"
	attrTypeReference = "reference"
	attrTypeComplex   = "complex"
	attrTypeBinary    = "binary"
)

// attrDef describes one attribute or sub-attribute of a resource as the
// server's schemas define it. Values are shared and immutable: never modify
// an attrDef obtained from a catalog.
type attrDef struct {
	// Name is the canonical name ("familyName", not "FamilyName").
	Name string
	// Type is one of the attrType* constants.
	Type        string
	MultiValued bool
	// CaseExact says whether string comparisons respect case (RFC 7643 §2.2).
	CaseExact bool
	Required  bool
	// Mutability is "readOnly", "readWrite", "immutable" or "writeOnly".
	Mutability string
	// Returned is "always", "never", "default" or "request".
	Returned string
	// Uniqueness is "none", "server" or "global".
	Uniqueness string
	// Sub lists the sub-attributes of a complex attribute, in schema order.
	Sub []*attrDef
	// Schema is the URN of the schema that defines the attribute (for a
	// sub-attribute, its parent's). It is empty for the common attributes
	// id, externalId, meta and schemas (RFC 7643 §3.1), which belong to
	// every resource and to no schema.
	Schema string
	// Parent is the attribute a sub-attribute belongs to; nil at the top.
	Parent *attrDef
	// Column names the store column that holds the attribute (see
	// store.Field); empty when it lives only in the resource's JSON document.
	Column string

	subs      map[string]*attrDef // lower-cased name -> sub-attribute
	extension bool                // a top-level attribute of a schema extension
}

// subAttr returns the sub-attribute called name (case-insensitive), or nil.
func (a *attrDef) subAttr(name string) *attrDef { return a.subs[strings.ToLower(name)] }

// isExtension reports whether the attribute belongs to a schema extension,
// whose attributes are nested under the schema URN in the JSON document.
func (a *attrDef) isExtension() bool {
	top := a
	for top.Parent != nil {
		top = top.Parent
	}
	return top.extension
}

// fullName returns the attribute's canonical name as a client writes it:
// "userName", "name.familyName", "meta.created",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
func (a *attrDef) fullName() string {
	name := a.Name
	if a.Parent != nil {
		name = a.Parent.Name + "." + name
	}
	if a.isExtension() {
		name = a.Schema + ":" + name
	}
	return name
}

// jsonPath returns where the attribute lives in the resource's JSON
// document, in canonical names from the root: {"name", "familyName"},
// {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager", "value"}.
// For a sub-attribute of a multi-valued attribute the path names the array
// and then the sub-attribute of each element: {"emails", "value"}.
func (a *attrDef) jsonPath() []string {
	var path []string
	if a.isExtension() {
		path = append(path, a.Schema)
	}
	if a.Parent != nil {
		path = append(path, a.Parent.Name)
	}
	return append(path, a.Name)
}

// catalog is the set of attributes of one resource kind: the common
// attributes, the core schema's and its extensions'. Names are looked up
// case-insensitively (RFC 7643 §2.1). A catalog is immutable and safe for
// concurrent use; obtain one with [catalogFor].
type catalog struct {
	Kind resourceKind
	// Schema is the core schema's URN, e.g. "urn:ietf:params:scim:schemas:core:2.0:User".
	Schema string
	// Extensions lists the URNs of the schema extensions, in order.
	Extensions []string
	// Attrs lists the top-level attributes: common ones first (schemas, id,
	// externalId, meta), then the core schema's, then each extension's.
	Attrs []*attrDef

	// bySchema maps a lower-cased schema URN to its attributes by
	// lower-cased name; the core schema's map also holds the common
	// attributes.
	bySchema map[string]map[string]*attrDef
	// byName maps lower-cased names written without a URN: common and core
	// attributes, and extension attributes whose name is not taken by
	// another schema.
	byName map[string]*attrDef
}

var (
	userCatalog = sync.OnceValue(func() *catalog {
		return newCatalog(kindUser, schema.CoreUserSchema(), schema.ExtensionEnterpriseUser())
	})
	groupCatalog = sync.OnceValue(func() *catalog {
		return newCatalog(kindGroup, schema.CoreGroupSchema())
	})
)

// catalogFor returns the attribute catalog of kind, built once from the
// schemas the server serves: for users the core User schema and the
// enterprise extension, for groups the core Group schema, each with the
// common attributes.
func catalogFor(kind resourceKind) *catalog {
	if kind == kindGroup {
		return groupCatalog()
	}
	return userCatalog()
}

// storeColumns maps a kind's attributes (by full canonical name) to the
// store columns that hold them, as documented on store.Field.
var storeColumns = map[resourceKind]map[string]string{
	kindUser: {
		"id":                "id",
		"userName":          "user_name",
		"externalId":        "external_id",
		"displayName":       "display_name",
		"active":            "active",
		"meta.created":      "created",
		"meta.lastModified": "last_modified",
	},
	kindGroup: {
		"id":                "id",
		"displayName":       "display_name",
		"externalId":        "external_id",
		"meta.created":      "created",
		"meta.lastModified": "last_modified",
	},
}

func newCatalog(kind resourceKind, core schema.Schema, extensions ...schema.Schema) *catalog {
	c := &catalog{
		Kind:     kind,
		Schema:   core.ID,
		bySchema: map[string]map[string]*attrDef{},
		byName:   map[string]*attrDef{},
	}
	coreAttrs := map[string]*attrDef{}
	c.bySchema[strings.ToLower(core.ID)] = coreAttrs
	add := func(m map[string]*attrDef, a *attrDef) {
		key := strings.ToLower(a.Name)
		if _, dup := m[key]; dup {
			panic(fmt.Sprintf("scim: schema %s defines %q twice", core.ID, a.Name))
		}
		m[key] = a
		c.Attrs = append(c.Attrs, a)
	}
	for _, ca := range schema.CommonAttributes() {
		a := newAttrDef(ca, "", nil, false)
		add(coreAttrs, a)
		c.byName[strings.ToLower(a.Name)] = a
	}
	for _, ca := range core.Attributes {
		a := newAttrDef(ca, core.ID, nil, false)
		add(coreAttrs, a)
		c.byName[strings.ToLower(a.Name)] = a
	}
	// Extension attributes may also be named without their URN when the
	// name is unambiguous; names taken by several extensions are not.
	ambiguous := map[string]bool{}
	for _, ext := range extensions {
		c.Extensions = append(c.Extensions, ext.ID)
		attrs := map[string]*attrDef{}
		c.bySchema[strings.ToLower(ext.ID)] = attrs
		for _, ca := range ext.Attributes {
			a := newAttrDef(ca, ext.ID, nil, true)
			add(attrs, a)
			key := strings.ToLower(a.Name)
			if prev, taken := c.byName[key]; taken {
				if prev.isExtension() {
					ambiguous[key] = true
				}
				continue
			}
			c.byName[key] = a
		}
	}
	for key := range ambiguous {
		delete(c.byName, key)
	}
	for _, a := range c.Attrs {
		a.Column = storeColumns[kind][a.fullName()]
		for _, s := range a.Sub {
			s.Column = storeColumns[kind][s.fullName()]
		}
	}
	return c
}

func newAttrDef(ca schema.CoreAttribute, schemaID string, parent *attrDef, extension bool) *attrDef {
	a := &attrDef{
		Name:        ca.Name(),
		Type:        ca.AttributeType(),
		MultiValued: ca.MultiValued(),
		CaseExact:   ca.CaseExact(),
		Required:    ca.Required(),
		Mutability:  ca.Mutability(),
		Returned:    ca.Returned(),
		Uniqueness:  ca.Uniqueness(),
		Schema:      schemaID,
		Parent:      parent,
		extension:   extension,
	}
	if subs := ca.SubAttributes(); len(subs) > 0 {
		a.subs = make(map[string]*attrDef, len(subs))
		for _, cs := range subs {
			s := newAttrDef(cs, schemaID, a, false)
			a.Sub = append(a.Sub, s)
			a.subs[strings.ToLower(s.Name)] = s
		}
	}
	return a
}

// lookup resolves an attribute path without a filter, such as "userName",
// "name.familyName", "emails.value", "meta.Created" or
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
// case-insensitively. It returns the top-level attribute and, when the path
// names one, the sub-attribute (else nil). ok is false when the path does not
// name an attribute of this catalog. Use [catalog.resolve] for an error that
// says why.
func (c *catalog) lookup(path string) (attr, sub *attrDef, ok bool) {
	uri, name, subName := splitAttrPath(path)
	attr, sub, err := c.resolve(uri, name, subName)
	return attr, sub, err == nil
}

// splitAttrPath splits "urn:...:User:manager.value" into its schema URN
// (possibly empty), attribute name and sub-attribute name (possibly empty).
// A path with more than one dot after the URN yields a sub-attribute name
// containing a dot, which resolves to nothing.
func splitAttrPath(path string) (uri, name, sub string) {
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		uri, path = path[:i], path[i+1:]
	}
	name, sub, _ = strings.Cut(path, ".")
	return uri, name, sub
}

// resolve finds the attribute called name (and its sub-attribute subName
// when not empty) in the schema uri, or, when uri is empty, among the common
// and core attributes and then the unambiguous extension attributes. Names
// and URNs are case-insensitive. The error says what is wrong in words fit
// for a client, quoting only the offending name; callers choose the SCIM
// error type (invalidFilter, invalidPath).
func (c *catalog) resolve(uri, name, subName string) (attr, sub *attrDef, err error) {
	if uri != "" {
		attrs, known := c.bySchema[strings.ToLower(uri)]
		if !known {
			return nil, nil, fmt.Errorf("unknown schema %s for %s resources", quoteClipped(uri), c.Kind)
		}
		attr = attrs[strings.ToLower(name)]
		if attr == nil {
			return nil, nil, fmt.Errorf("unknown attribute %s", quoteClipped(uri+":"+name))
		}
	} else {
		attr = c.byName[strings.ToLower(name)]
		if attr == nil {
			return nil, nil, fmt.Errorf("unknown attribute %s", quoteClipped(name))
		}
	}
	if subName == "" {
		return attr, nil, nil
	}
	if attr.Type != attrTypeComplex {
		return nil, nil, fmt.Errorf("%s is %s %s and has no sub-attributes",
			strconv.Quote(attr.fullName()), indefArticle(attr.Type), attr.Type)
	}
	sub = attr.subAttr(subName)
	if sub == nil {
		return nil, nil, fmt.Errorf("unknown sub-attribute %s of %s",
			quoteClipped(subName), strconv.Quote(attr.fullName()))
	}
	return attr, sub, nil
}

// indefArticle returns "an" before a vowel-initial type name, else "a".
func indefArticle(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}

// maxQuoted bounds how much of a client's token an error message repeats.
const maxQuoted = 64

// quoteClipped quotes s for an error message, cutting it to maxQuoted
// characters so that a message never repeats a long client input.
func quoteClipped(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		r := []rune(s)
		return strconv.Quote(string(r[:maxQuoted])) + "..."
	}
	return strconv.Quote(s)
}
