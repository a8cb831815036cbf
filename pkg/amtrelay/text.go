package amtrelay

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// String returns r in presentation format, "precedence D type relay", as a
// zone file holds it: "10 0 1 203.0.113.15", "128 1 3 amtrelays.example.com.",
// "0 0 0 .". A record that does not validate is shown as far as it can be,
// with the unassigned type or missing relay as "?".
func (r Record) String() string {
	d := "0"
	if r.DiscoveryOptional {
		d = "1"
	}
	relay := "?"
	switch {
	case r.Type == TypeNone && !r.Addr.IsValid() && r.Name == "":
		relay = "."
	case r.Name != "":
		relay = r.Name
	case r.Addr.IsValid():
		relay = r.Addr.String()
	}
	return fmt.Sprintf("%d %s %d %s", r.Precedence, d, uint8(r.Type), relay)
}

// MarshalText returns r's presentation format (see [Record.String]), or the
// error of [Record.Validate].
func (r Record) MarshalText() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses a presentation-format record into r, as [Parse]
// does; on error r is unchanged.
func (r *Record) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Parse parses the presentation format of one record's RDATA (RFC 8777
// §4.3): four fields separated by blanks, precedence (0-255), D (0 or 1),
// type (0-3) and relay ("." for type 0, an IPv4 or IPv6 address, or an
// absolute domain name), or the RFC 3597 generic form "\# LENGTH HEX...".
// Zone-file parentheses and comments are not part of it. The error is a
// *FieldError naming the first field that is wrong.
func Parse(s string) (Record, error) {
	f, err := fields(s)
	if err != nil {
		return Record{}, err
	}
	if len(f) > 0 && f[0] == `\#` {
		return parseGeneric(f[1:])
	}
	if len(f) != 4 {
		return Record{}, &FieldError{Field: "rdata", Value: s, Reason: fmt.Sprintf("%d fields, but an AMTRELAY record has 4", len(f)), Fix: `write "precedence D type relay", such as "10 0 1 203.0.113.15"`}
	}
	var r Record
	p, err := strconv.ParseUint(f[0], 10, 8)
	if err != nil || f[0][0] == '+' {
		return Record{}, &FieldError{Field: "precedence", Value: f[0], Reason: "not a number from 0 to 255", Fix: "use 0-255; lower is preferred"}
	}
	r.Precedence = uint8(p)
	switch f[1] {
	case "0":
	case "1":
		r.DiscoveryOptional = true
	default:
		return Record{}, &FieldError{Field: "D", Value: f[1], Reason: "the discovery-optional bit is 0 or 1", Fix: "use 0 (the gateway must do relay discovery) or 1 (it may skip it)"}
	}
	t, err := strconv.ParseUint(f[2], 10, 8)
	if err != nil || f[2][0] == '+' || t > maxType {
		return Record{}, &FieldError{Field: "type", Value: f[2], Reason: "not a relay type", Fix: fixType}
	}
	r.Type = RelayType(t)
	relay := f[3]
	switch r.Type {
	case TypeNone:
		if relay != "." {
			return Record{}, &FieldError{Field: "relay", Value: relay, Reason: `a type 0 record has no relay, written "."`, Fix: `write ".", or use type 1, 2 or 3 for a relay`}
		}
	case TypeIPv4, TypeIPv6:
		a, err := netip.ParseAddr(relay)
		if err != nil {
			fix := fixIPv4
			if r.Type == TypeIPv6 {
				fix = fixIPv6
			}
			if strings.HasSuffix(relay, ".") {
				fix = "use type 3 for a domain name, or " + fix[4:]
			}
			return Record{}, &FieldError{Field: "relay", Value: relay, Reason: fmt.Sprintf("not an IP address, but relay type %d is an %s address", r.Type, map[RelayType]string{TypeIPv4: "IPv4", TypeIPv6: "IPv6"}[r.Type]), Fix: fix}
		}
		r.Addr = a
	case TypeName:
		name, err := canonicalName(relay)
		if err != nil {
			return Record{}, err
		}
		r.Name = name
	default:
		return Record{}, unknownType(r.Type, f[2])
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// parseGeneric parses the RFC 3597 §5 form after its "\#": a decimal
// length and that many bytes in hex, in any number of words.
func parseGeneric(f []string) (Record, error) {
	if len(f) == 0 {
		return Record{}, &FieldError{Field: "rdata", Value: `\#`, Reason: "no length after \\#", Fix: `write "\# LENGTH HEX", such as "\# 6 0a01cb00710f"`}
	}
	n, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || f[0][0] == '+' {
		return Record{}, &FieldError{Field: "rdata", Value: f[0], Reason: "the length after \\# is not a number from 0 to 65535", Fix: `write "\# LENGTH HEX", such as "\# 6 0a01cb00710f"`}
	}
	h := strings.Join(f[1:], "")
	b, err := hex.DecodeString(h)
	if err != nil {
		return Record{}, &FieldError{Field: "rdata", Value: h, Reason: "not hexadecimal", Fix: "write the RDATA as pairs of hex digits"}
	}
	if len(b) != int(n) {
		return Record{}, &FieldError{Field: "rdata", Value: h, Reason: fmt.Sprintf("%d bytes, but the length says %d", len(b), n), Fix: "make the length match the hex"}
	}
	return Decode(b)
}

// fields splits s at blanks that are not escaped with a backslash.
func fields(s string) ([]string, error) {
	var f []string
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if start >= 0 {
				f = append(f, s[start:i])
				start = -1
			}
			continue
		case c == '(' || c == ')' || c == ';' || c == '"':
			// An escaped one was skipped with its backslash below.
			return nil, &FieldError{Field: "rdata", Value: s, Reason: fmt.Sprintf("%q is zone-file syntax, not part of a record", c), Fix: `write the record on one line without parentheses, quotes or comments`}
		}
		if start < 0 {
			start = i
		}
		if c == '\\' && i+1 < len(s) {
			i++
		}
	}
	if start >= 0 {
		f = append(f, s[start:])
	}
	return f, nil
}
