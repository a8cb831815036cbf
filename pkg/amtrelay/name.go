package amtrelay

import (
	"fmt"
	"strings"
)

// RFC 1035 §2.3.4 limits.
const (
	maxLabel    = 63
	maxWireName = 255
)

// wireName decodes an uncompressed wire-format domain name that must fill
// b exactly, and returns its canonical presentation form.
func wireName(b []byte) (string, error) {
	var sb strings.Builder
	off := 0
	for {
		if off >= len(b) {
			reason := "the domain name has no root label (a zero byte) at its end"
			if len(b) == 0 {
				reason = "empty, but a type 3 relay is a domain name"
			}
			return "", &FieldError{Field: "relay", Reason: reason}
		}
		n := int(b[off])
		switch {
		case n&0xc0 == 0xc0:
			return "", &FieldError{Field: "relay", Reason: fmt.Sprintf("compression pointer at byte %d of the name, but RFC 8777 §4.2.3 forbids compressed relay names", off)}
		case n&0xc0 != 0:
			return "", &FieldError{Field: "relay", Reason: fmt.Sprintf("label type 0x%02x at byte %d of the name is not a length", n&0xc0, off)}
		}
		off++
		if n == 0 {
			break
		}
		if off+n > len(b) {
			return "", &FieldError{Field: "relay", Reason: fmt.Sprintf("a label of %d bytes at byte %d runs past the end of the record", n, off-1)}
		}
		for _, c := range b[off : off+n] {
			escapeByte(&sb, c)
		}
		sb.WriteByte('.')
		off += n
	}
	if off > maxWireName {
		return "", &FieldError{Field: "relay", Reason: fmt.Sprintf("the domain name is %d bytes on the wire, more than the %d DNS allows", off, maxWireName)}
	}
	if off != len(b) {
		return "", &FieldError{Field: "relay", Reason: fmt.Sprintf("%d bytes after the end of the domain name", len(b)-off)}
	}
	if off == 1 {
		return "", &FieldError{Field: "relay", Value: ".", Reason: "the root is not a relay name"}
	}
	return sb.String(), nil
}

// escapeByte writes c as one character of a label in presentation form:
// itself, \X for the zone-file specials, \DDD for anything else.
func escapeByte(sb *strings.Builder, c byte) {
	switch {
	case strings.IndexByte(`.;\"()@$`, c) >= 0:
		sb.WriteByte('\\')
		sb.WriteByte(c)
	case c > ' ' && c < 0x7f:
		sb.WriteByte(c)
	default:
		fmt.Fprintf(sb, "\\%03d", c)
	}
}

// nameWire appends the wire form of the absolute presentation name s to b;
// on error b is returned unchanged.
func nameWire(b []byte, s string) ([]byte, error) {
	start := len(b)
	fail := func(reason, fix string) ([]byte, error) {
		return b[:start], &FieldError{Field: "relay", Value: s, Reason: reason, Fix: fix}
	}
	switch s {
	case "":
		return fail("missing", fixName)
	case ".":
		return fail("the root is not a relay name", fixName)
	}
	label := len(b) // where the current label's length byte is
	b = append(b, 0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '.':
			n := len(b) - label - 1
			if n == 0 {
				return fail("empty label (two dots in a row, or a leading dot)", fixName)
			}
			b[label] = byte(n)
			label = len(b)
			b = append(b, 0)
			continue
		case '\\':
			if i+1 >= len(s) {
				return fail(`a "\" at the end`, `escape a backslash as \\`)
			}
			if d := s[i+1]; d >= '0' && d <= '9' {
				if i+3 >= len(s) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
					return fail(`\D escapes need three digits`, `write a byte as \DDD, 000-255, such as \032 for a space`)
				}
				v := int(d-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
				if v > 255 {
					return fail(fmt.Sprintf(`\%s is more than 255`, s[i+1:i+4]), `write a byte as \DDD, 000-255`)
				}
				c = byte(v)
				i += 3
			} else {
				c = d
				i++
			}
		default:
			if c <= ' ' || c >= 0x7f {
				return fail(fmt.Sprintf("byte 0x%02x in a name", c), `write it as \DDD`)
			}
		}
		b = append(b, c)
		if len(b)-label-1 > maxLabel {
			return fail(fmt.Sprintf("a label longer than %d bytes", maxLabel), "shorten it")
		}
	}
	if len(b)-label-1 != 0 {
		return fail(`not absolute: no "." at the end`, fixName)
	}
	if len(b)-start > maxWireName {
		return fail(fmt.Sprintf("%d bytes on the wire, more than the %d DNS allows", len(b)-start, maxWireName), "shorten it")
	}
	return b, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// canonicalName returns the canonical presentation form of the absolute
// name s, or an error naming what is wrong with it.
func canonicalName(s string) (string, error) {
	w, err := nameWire(nil, s)
	if err != nil {
		return "", err
	}
	return wireName(w)
}
