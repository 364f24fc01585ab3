package scim

import (
	"fmt"

	scimerrors "github.com/elimity-com/scim/errors"
)

// A filter from RFC 7644 §3.4.2.2 becomes a store condition: userName is a
// column compared case-insensitively (/i), the bracket is a condition on
// some element of the emails array.
func Example_parseFilter() {
	c, err := parseFilter(kindUser, `userName eq "bjensen" and emails[type eq "work" and value co "@example.com"]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(formatCond(c))
	fmt.Printf("%#v\n", c)

	// Microsoft's filters: case-insensitive names, seven fractional digits.
	c, _ = parseFilter(kindUser, `meta.Created gt "2015-10-10T14:38:21.8617979-07:00" and active eq "True"`)
	fmt.Println(formatCond(c))

	// Entra ID's membership check on a group.
	c, _ = parseFilter(kindGroup, `id eq "g1" and members[value eq "u1"]`)
	fmt.Println(formatCond(c))
	// Output:
	// (user_name eq "bjensen"/i and $.emails[(type eq "work"/i and value co "@example.com"/i)])
	// store.And{store.Compare{Field:store.Field{Column:"user_name", Path:[]string(nil)}, Op:"eq", Kind:0, Value:"bjensen", CaseExact:false}, store.AnyOf{Path:[]string{"emails"}, Where:store.And{store.Compare{Field:store.Field{Column:"", Path:[]string{"type"}}, Op:"eq", Kind:0, Value:"work", CaseExact:false}, store.Compare{Field:store.Field{Column:"", Path:[]string{"value"}}, Op:"co", Kind:0, Value:"@example.com", CaseExact:false}}}}
	// (created gt 2015-10-10T21:38:21.8617979Z and active eq true)
	// (id eq "g1" and member("u1"))
}

// Every problem is a 400 invalidFilter error that says what is wrong.
func Example_parseFilter_errors() {
	for _, f := range []string{
		`foo eq "x"`,
		`active co "t"`,
		`meta.created gt "yesterday"`,
		`emails[foo eq "x"]`,
		`userName eq "x" garbage`,
		`(userName eq "x"`,
	} {
		_, err := parseFilter(kindUser, f)
		se := err.(scimerrors.ScimError)
		fmt.Printf("%d %s: %s\n", se.Status, se.ScimType, se.Detail)
	}
	// Output:
	// 400 invalidFilter: unknown attribute "foo"
	// 400 invalidFilter: "active" is boolean: co is not defined for it
	// 400 invalidFilter: "meta.created": "yesterday" is not a dateTime
	// 400 invalidFilter: unknown sub-attribute "foo" of "emails"
	// 400 invalidFilter: unexpected "garbage" at position 17: expected "and", "or" or the end of the filter
	// 400 invalidFilter: missing ")" to close the "(" at position 1
}
