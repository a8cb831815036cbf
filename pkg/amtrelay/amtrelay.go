package amtrelay

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/amtctl/amtctl/internal/fieldline"
)

// RRType is the DNS resource record type of AMTRELAY (RFC 8777 §4.1).
const RRType = 260

// RelayType is the 7-bit relay type of a record: the form of its relay.
type RelayType uint8

// The relay types RFC 8777 §4.2.3 defines. 4-127 are unassigned.
const (
	TypeNone RelayType = 0 // no relay: no AMT relay should be used for this source
	TypeIPv4 RelayType = 1 // a 4-octet IPv4 address
	TypeIPv6 RelayType = 2 // a 16-octet IPv6 address
	TypeName RelayType = 3 // an uncompressed wire-format domain name
)

// maxType is the largest value the 7-bit type field holds.
const maxType = 0x7f

// String returns "none", "ipv4", "ipv6" or "name", or
// "unknown relay type value (N)".
func (t RelayType) String() string {
	switch t {
	case TypeNone:
		return "none"
	case TypeIPv4:
		return "ipv4"
	case TypeIPv6:
		return "ipv6"
	case TypeName:
		return "name"
	}
	return fmt.Sprintf("unknown relay type value (%d)", uint8(t))
}

// ErrUnknownType is wrapped by the error [Decode] and [Parse] return for a
// relay type RFC 8777 does not define (4-127): such a record is well formed
// as far as anyone can tell, but its relay cannot be read. A gateway skips
// it.
var ErrUnknownType = errors.New("amtrelay: unassigned relay type")

// Record is the RDATA of one AMTRELAY record. The zero value is
// "0 0 0 .": precedence 0, discovery required, no relay.
//
// Exactly one of Addr and Name is set, as Type says: Addr for TypeIPv4 (an
// IPv4 address) and TypeIPv6 (an IPv6 address, never an IPv4 one, and
// without a zone), Name for TypeName, neither for TypeNone. A Record holds
// no unexported state and can be compared with == (Decode and Parse give
// Name in its canonical form, so equal records compare equal).
type Record struct {
	// Precedence orders the records: lower values are tried first,
	// and ties are broken at random (RFC 8777 §4.2.1).
	Precedence uint8
	// DiscoveryOptional is the D bit: when true the gateway may send an
	// AMT Request to the relay at once; when false it must do relay
	// discovery first (RFC 8777 §4.2.2).
	DiscoveryOptional bool
	// Type is the relay type.
	Type RelayType
	// Addr is the relay of a TypeIPv4 or TypeIPv6 record.
	Addr netip.Addr
	// Name is the relay of a TypeName record: an absolute domain name in
	// presentation form, ending in ".", with RFC 1035 escapes where a
	// label needs them (see the package documentation).
	Name string
}

// FieldError is a record that cannot be encoded, decoded or parsed. Its
// message is one line naming the field and the fix.
type FieldError struct {
	Field  string // "precedence", "D", "type", "relay" or "rdata"
	Value  string // the offending value as given; "" when there is none
	Reason string // what is wrong
	Fix    string // what to do instead; "" when there is nothing to say
	Err    error  // ErrUnknownType for an unassigned relay type; else nil
}

// Error returns `<field> "<value>": <reason>; <fix>`, leaving out the parts
// that are empty. For example:
//
//	relay "2001:db8::15": an IPv6 address, but relay type 1 is IPv4; use type 2 for an IPv6 relay, or an IPv4 address such as 203.0.113.15
func (e *FieldError) Error() string {
	return fieldline.Format(e.Field, e.Value, e.Reason, e.Fix)
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

const (
	fixIPv4 = "use an IPv4 address such as 203.0.113.15, or type 2 for an IPv6 relay"
	fixIPv6 = "use an IPv6 address such as 2001:db8::15, or type 1 for an IPv4 relay"
	fixName = `use an absolute domain name ending in ".", such as amtrelays.example.com.`
	fixType = "use 0 (no relay), 1 (IPv4), 2 (IPv6) or 3 (domain name)"
)

func unknownType(t RelayType, value string) *FieldError {
	return &FieldError{Field: "type", Value: value, Reason: fmt.Sprintf("relay type %d is not assigned (RFC 8777 defines 0-3)", uint8(t)), Fix: fixType, Err: ErrUnknownType}
}

// Validate reports whether r can be encoded: Type is 0-3 and the relay
// matches it. The error is a *FieldError.
func (r Record) Validate() error {
	switch r.Type {
	case TypeNone:
		if r.Addr.IsValid() || r.Name != "" {
			return &FieldError{Field: "relay", Value: r.relayValue(), Reason: "relay type 0 has no relay", Fix: `write "." as the relay, or use type 1, 2 or 3`}
		}
	case TypeIPv4:
		if r.Name != "" {
			return &FieldError{Field: "relay", Value: r.Name, Reason: "a domain name, but relay type 1 is an IPv4 address", Fix: "use type 3 for a domain name, or " + fixIPv4[4:]}
		}
		if !r.Addr.Is4() {
			reason := "missing"
			if r.Addr.IsValid() {
				reason = "an IPv6 address, but relay type 1 is IPv4"
			}
			return &FieldError{Field: "relay", Value: r.relayValue(), Reason: reason, Fix: fixIPv4}
		}
	case TypeIPv6:
		if r.Name != "" {
			return &FieldError{Field: "relay", Value: r.Name, Reason: "a domain name, but relay type 2 is an IPv6 address", Fix: "use type 3 for a domain name, or " + fixIPv6[4:]}
		}
		switch {
		case !r.Addr.IsValid():
			return &FieldError{Field: "relay", Reason: "missing", Fix: fixIPv6}
		case r.Addr.Is4():
			return &FieldError{Field: "relay", Value: r.Addr.String(), Reason: "an IPv4 address, but relay type 2 is IPv6", Fix: fixIPv6}
		case r.Addr.Zone() != "":
			return &FieldError{Field: "relay", Value: r.Addr.String(), Reason: "an IPv6 address with a zone, which DNS cannot carry", Fix: "leave out the %zone"}
		}
	case TypeName:
		if r.Addr.IsValid() {
			return &FieldError{Field: "relay", Value: r.Addr.String(), Reason: "an address, but relay type 3 is a domain name", Fix: "use type 1 or 2 for an address, or " + fixName[4:]}
		}
		if _, err := nameWire(nil, r.Name); err != nil {
			return err
		}
	default:
		return unknownType(r.Type, strconv.Itoa(int(r.Type)))
	}
	return nil
}

// relayValue is the relay as an error message quotes it.
func (r Record) relayValue() string {
	if r.Name != "" {
		return r.Name
	}
	if r.Addr.IsValid() {
		return r.Addr.String()
	}
	return ""
}

// AppendRDATA appends r's wire-format RDATA to b. It fails, appending
// nothing, when [Record.Validate] does.
func (r Record) AppendRDATA(b []byte) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return b, err
	}
	d := byte(0)
	if r.DiscoveryOptional {
		d = 0x80
	}
	b = append(b, r.Precedence, d|byte(r.Type))
	switch r.Type {
	case TypeIPv4:
		a := r.Addr.As4()
		b = append(b, a[:]...)
	case TypeIPv6:
		a := r.Addr.As16()
		b = append(b, a[:]...)
	case TypeName:
		return nameWire(b, r.Name)
	}
	return b, nil
}

// MarshalBinary returns r's wire-format RDATA; see [Record.AppendRDATA].
func (r Record) MarshalBinary() ([]byte, error) {
	return r.AppendRDATA(nil)
}

// UnmarshalBinary decodes wire-format RDATA into r, as [Decode] does; on
// error r is unchanged.
func (r *Record) UnmarshalBinary(rdata []byte) error {
	v, err := Decode(rdata)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Decode decodes the wire-format RDATA of one AMTRELAY record (RFC 8777
// §4.2). The error is a *FieldError; for an unassigned relay type it wraps
// [ErrUnknownType].
func Decode(rdata []byte) (Record, error) {
	if len(rdata) < 2 {
		return Record{}, &FieldError{Field: "rdata", Reason: fmt.Sprintf("%d bytes, but an AMTRELAY record has at least 2 (precedence, D bit and type)", len(rdata))}
	}
	r := Record{Precedence: rdata[0], DiscoveryOptional: rdata[1]&0x80 != 0, Type: RelayType(rdata[1] & maxType)}
	relay := rdata[2:]
	want := -1
	switch r.Type {
	case TypeNone:
		want = 0
	case TypeIPv4:
		want = 4
	case TypeIPv6:
		want = 16
	case TypeName:
		name, err := wireName(relay)
		if err != nil {
			return Record{}, err
		}
		r.Name = name
		return r, nil
	default:
		return Record{}, unknownType(r.Type, "")
	}
	if len(relay) != want {
		return Record{}, &FieldError{Field: "relay", Reason: fmt.Sprintf("%d bytes, but a type %d relay (%v) is %d", len(relay), r.Type, r.Type, want)}
	}
	switch r.Type {
	case TypeIPv4:
		r.Addr = netip.AddrFrom4([4]byte(relay))
	case TypeIPv6:
		r.Addr = netip.AddrFrom16([16]byte(relay))
	}
	return r, nil
}
