// Package fieldline words an invalid value the way every amtctl error about
// input does: one line that names the field, quotes the value, says what is
// wrong and how to fix it. pkg/ifla's and pkg/amtrelay's FieldError types
// both print with it, so the format is written once.
package fieldline

import "strconv"

// Format returns `<field> "<value>": <reason>; <fix>`, leaving out the
// value and the fix when they are empty.
func Format(field, value, reason, fix string) string {
	s := field
	if value != "" {
		s += " " + strconv.Quote(value)
	}
	s += ": " + reason
	if fix != "" {
		s += "; " + fix
	}
	return s
}
