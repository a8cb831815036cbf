package amtrelay

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// The records of RFC 8777 §4.3.2's zone example (12 IN AMTRELAY ... at
// 100.51.198.in-addr.arpa.), with the RDATA derived from their
// presentation as §4.2 lays it out. The RFC's own RFC 3597 rendering of
// them has two errata (its IPv6 address ends in 0f for ::15, and its name
// lacks the root label); TestDecodeRFCErratumName keeps the second one out.
var golden = []struct {
	text  string
	rdata string // hex
	rec   Record
}{
	{"10 0 1 203.0.113.15", "0a01" + "cb00710f",
		Record{Precedence: 10, Type: TypeIPv4, Addr: netip.MustParseAddr("203.0.113.15")}},
	{"10 0 2 2001:db8::15", "0a02" + "20010db8000000000000000000000015",
		Record{Precedence: 10, Type: TypeIPv6, Addr: netip.MustParseAddr("2001:db8::15")}},
	{"128 1 3 amtrelays.example.com.", "8083" + "09616d7472656c617973" + "076578616d706c65" + "03636f6d" + "00",
		Record{Precedence: 128, DiscoveryOptional: true, Type: TypeName, Name: "amtrelays.example.com."}},
	{"0 0 0 .", "0000", Record{}},
	{"255 1 0 .", "ff80", Record{Precedence: 255, DiscoveryOptional: true}},
	{"10 1 3 amtrelays.example.com.", "0a83" + "09616d7472656c617973076578616d706c6503636f6d00",
		Record{Precedence: 10, DiscoveryOptional: true, Type: TypeName, Name: "amtrelays.example.com."}},
	{`1 0 3 a\.b\032c\\\255.x.`, "0103" + "0761" + "2e62" + "2063" + "5cff" + "0178" + "00",
		Record{Precedence: 1, Type: TypeName, Name: `a\.b\032c\\\255.x.`}},
	{"7 0 2 ::ffff:192.0.2.1", "0702" + "00000000000000000000ffffc0000201",
		Record{Precedence: 7, Type: TypeIPv6, Addr: netip.MustParseAddr("::ffff:192.0.2.1")}},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		want, _ := hex.DecodeString(g.rdata)
		got, err := g.rec.MarshalBinary()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: MarshalBinary = %x, %v; want %x", g.text, got, err, want)
		}
		dec, err := Decode(want)
		if err != nil || dec != g.rec {
			t.Errorf("%q: Decode(%x) = %+v, %v; want %+v", g.text, want, dec, err, g.rec)
		}
		p, err := Parse(g.text)
		if err != nil || p != g.rec {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", g.text, p, err, g.rec)
		}
		if s := g.rec.String(); s != g.text {
			t.Errorf("String() = %q, want %q", s, g.text)
		}
		// The RFC 3597 form of the same record.
		generic := `\# ` + strconv.Itoa(len(want)) + " " + g.rdata
		if p, err := Parse(generic); err != nil || p != g.rec {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", generic, p, err, g.rec)
		}
	}
}

// RFC 8777's generic-form example of the type 3 record is 24 bytes: the
// name without its root label. A strict decoder refuses it.
func TestDecodeRFCErratumName(t *testing.T) {
	b, _ := hex.DecodeString("8083" + "09616d7472656c617973076578616d706c6503636f6d")
	_, err := Decode(b)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "relay" || !strings.Contains(err.Error(), "no root label") {
		t.Fatalf("Decode(24-byte RFC example) = %v; want a relay error about the root label", err)
	}
}

func TestParseCanonicalises(t *testing.T) {
	for in, want := range map[string]string{
		"010 0 3 AmtRelays.Example.COM.": "10 0 3 AmtRelays.Example.COM.",
		"  5\t1 3 \\097b.c. ":            "5 1 3 ab.c.",
		"1 0 2 2001:DB8::0015":           "1 0 2 2001:db8::15",
		"1 0 3 a\\ b.":                   "1 0 3 a\\032b.",
	} {
		r, err := Parse(in)
		if err != nil || r.String() != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, r, err, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, c := range []struct{ in, want string }{
		{"", `rdata: 0 fields, but an AMTRELAY record has 4`},
		{"10 0 1", `rdata "10 0 1": 3 fields`},
		{"256 0 1 203.0.113.15", `precedence "256": not a number from 0 to 255; use 0-255`},
		{"-1 0 1 203.0.113.15", `precedence "-1"`},
		{"+1 0 1 203.0.113.15", `precedence "+1"`},
		{"10 2 1 203.0.113.15", `D "2": the discovery-optional bit is 0 or 1`},
		{"10 0 x 203.0.113.15", `type "x": not a relay type; use 0 (no relay), 1 (IPv4), 2 (IPv6) or 3 (domain name)`},
		{"10 0 128 .", `type "128": not a relay type`},
		{"10 0 4 .", `type "4": relay type 4 is not assigned (RFC 8777 defines 0-3)`},
		{"10 0 0 203.0.113.15", `relay "203.0.113.15": a type 0 record has no relay, written "."`},
		{"10 0 1 2001:db8::15", `relay "2001:db8::15": an IPv6 address, but relay type 1 is IPv4`},
		{"10 0 1 203.0.113.015", `relay "203.0.113.015": not an IP address, but relay type 1 is an IPv4 address`},
		{"10 0 1 relay.example.", `relay "relay.example.": not an IP address, but relay type 1 is an IPv4 address; use type 3 for a domain name`},
		{"10 0 2 203.0.113.15", `relay "203.0.113.15": an IPv4 address, but relay type 2 is IPv6`},
		{"10 0 2 fe80::1%eth0", `relay "fe80::1%eth0": an IPv6 address with a zone`},
		{"10 0 3 amtrelays.example.com", `relay "amtrelays.example.com": not absolute: no "." at the end; use an absolute domain name ending in "."`},
		{"10 0 3 .", `relay ".": the root is not a relay name`},
		{"10 0 3 a..b.", `relay "a..b.": empty label`},
		{"10 0 3 " + long + ".", `a label longer than 63 bytes`},
		{"10 0 3 " + strings.Repeat("abcdefg.", 32), `more than the 255 DNS allows`},
		{`10 0 3 a\2.`, `\D escapes need three digits`},
		{`10 0 3 a\256.`, `\256 is more than 255`},
		{"10 0 3 (a.)", `rdata "10 0 3 (a.)": '(' is zone-file syntax`},
		{`\# 2 0a`, `rdata "0a": 1 bytes, but the length says 2`},
		{`\# 1 zz`, `rdata "zz": not hexadecimal`},
		{`\# 2 0a04`, `type: relay type 4 is not assigned`},
	} {
		_, err := Parse(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q): error has several lines: %q", c.in, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ hex, want string }{
		{"", "rdata: 0 bytes, but an AMTRELAY record has at least 2"},
		{"0a", "rdata: 1 bytes"},
		{"0a00" + "00", "relay: 1 bytes, but a type 0 relay (none) is 0"},
		{"0a01" + "cb0071", "relay: 3 bytes, but a type 1 relay (ipv4) is 4"},
		{"0a01" + "cb00710f00", "relay: 5 bytes"},
		{"0a02" + "20010db8", "relay: 4 bytes, but a type 2 relay (ipv6) is 16"},
		{"0a03", "relay: empty, but a type 3 relay is a domain name"},
		{"0a03" + "00", `relay ".": the root is not a relay name`},
		{"0a03" + "c00c", "compression pointer at byte 0 of the name, but RFC 8777 §4.2.3 forbids compressed relay names"},
		{"0a03" + "0161" + "c00c", "compression pointer at byte 2"},
		{"0a03" + "4161", "label type 0x40 at byte 0"},
		{"0a03" + "0561", "a label of 5 bytes at byte 0 runs past the end"},
		{"0a03" + "016100" + "ff", "1 bytes after the end of the domain name"},
		{"0a7f", "relay type 127 is not assigned"},
	} {
		b, _ := hex.DecodeString(c.hex)
		_, err := Decode(b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%s) = %v; want an error containing %q", c.hex, err, c.want)
		}
	}
	// A name of 256 bytes on the wire: 4 labels of 63 and one of 1.
	var w []byte
	for i := 0; i < 4; i++ {
		w = append(w, 63)
		w = append(w, bytes.Repeat([]byte{'a'}, 63)...)
	}
	w = append(w, 1, 'b', 0)
	if _, err := Decode(append([]byte{1, 3}, w...)); err == nil || !strings.Contains(err.Error(), "259 bytes on the wire") {
		t.Errorf("Decode(259-byte name) = %v", err)
	}
}

func TestUnknownTypeIsDistinct(t *testing.T) {
	_, err := Decode([]byte{10, 0x84, 1, 2, 3})
	if !errors.Is(err, ErrUnknownType) {
		t.Errorf("Decode(type 4) = %v; want ErrUnknownType", err)
	}
	if _, err := Decode([]byte{10, 1, 1}); errors.Is(err, ErrUnknownType) {
		t.Errorf("Decode(short IPv4) = %v; must not be ErrUnknownType", err)
	}
}

func TestValidateAndEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		r    Record
		want string
	}{
		{Record{Type: TypeNone, Addr: netip.MustParseAddr("192.0.2.1")}, `relay "192.0.2.1": relay type 0 has no relay`},
		{Record{Type: TypeIPv4}, "relay: missing; use an IPv4 address"},
		{Record{Type: TypeIPv4, Name: "a."}, `relay "a.": a domain name, but relay type 1 is an IPv4 address`},
		{Record{Type: TypeIPv6}, "relay: missing; use an IPv6 address"},
		{Record{Type: TypeName}, "relay: missing; use an absolute domain name"},
		{Record{Type: TypeName, Addr: netip.MustParseAddr("192.0.2.1")}, "an address, but relay type 3 is a domain name"},
		{Record{Type: 9}, `type "9": relay type 9 is not assigned`},
	} {
		err := c.r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v.Validate() = %v; want %q", c.r, err, c.want)
		}
		b, err := c.r.AppendRDATA([]byte{0xee})
		if err == nil || !bytes.Equal(b, []byte{0xee}) {
			t.Errorf("%+v.AppendRDATA = %x, %v; want the input back and an error", c.r, b, err)
		}
		if _, err := c.r.MarshalText(); err == nil {
			t.Errorf("%+v.MarshalText: no error", c.r)
		}
	}
}

func TestTextAndBinaryInterfaces(t *testing.T) {
	var r Record
	if err := r.UnmarshalText([]byte("10 0 1 203.0.113.15")); err != nil || r.Addr != netip.MustParseAddr("203.0.113.15") {
		t.Fatalf("UnmarshalText: %+v, %v", r, err)
	}
	before := r
	if err := r.UnmarshalText([]byte("bad")); err == nil || r != before {
		t.Errorf("failed UnmarshalText changed the record to %+v (err %v)", r, err)
	}
	if err := r.UnmarshalBinary([]byte{1}); err == nil || r != before {
		t.Errorf("failed UnmarshalBinary changed the record to %+v (err %v)", r, err)
	}
	if err := r.UnmarshalBinary([]byte{1, 0}); err != nil || r != (Record{Precedence: 1}) {
		t.Errorf("UnmarshalBinary: %+v, %v", r, err)
	}
	if b, err := (Record{Precedence: 3, Type: TypeName, Name: "x."}).MarshalText(); err != nil || string(b) != "3 0 3 x." {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func TestRelayTypeString(t *testing.T) {
	for ty, want := range map[RelayType]string{0: "none", 1: "ipv4", 2: "ipv6", 3: "name", 4: "unknown relay type value (4)"} {
		if got := ty.String(); got != want {
			t.Errorf("RelayType(%d).String() = %q, want %q", ty, got, want)
		}
	}
	if got := (Record{Type: 5}).String(); got != "0 0 5 ?" {
		t.Errorf("String of an invalid record = %q", got)
	}
}
