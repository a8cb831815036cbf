package amtrelay

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzDecode checks the wire round trip: whatever decodes encodes back to
// the same bytes, and its presentation parses back to the same record.
func FuzzDecode(f *testing.F) {
	for _, g := range golden {
		b, _ := hex.DecodeString(g.rdata)
		f.Add(b)
	}
	f.Add([]byte{10, 3, 0xc0, 0x0c})
	f.Add([]byte{10, 0x84})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("Decode(%x): error %T, want *FieldError", b, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Decode(%x) = %+v, which does not validate: %v", b, r, err)
		}
		enc, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("Decode(%x) = %+v, encodes to %x, %v", b, r, enc, err)
		}
		r2, err := Decode(enc)
		if err != nil || r2 != r {
			t.Fatalf("second Decode(%x) = %+v, %v; want %+v", enc, r2, err, r)
		}
		p, err := Parse(r.String())
		if err != nil || p != r {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", r.String(), p, err, r)
		}
	})
}

// FuzzParse checks the presentation round trip: whatever parses formats to
// a text that parses to the same record, which encodes and decodes back.
func FuzzParse(f *testing.F) {
	for _, g := range golden {
		f.Add(g.text)
	}
	f.Add(`\# 6 0a01cb00710f`)
	f.Add(`1 0 3 a\(b.`)
	f.Add("10 0 2 ::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("Parse(%q): error %T, want *FieldError", s, err)
			}
			return
		}
		text := r.String()
		r2, err := Parse(text)
		if err != nil || r2 != r {
			t.Fatalf("Parse(%q) = %+v; its String %q parses to %+v, %v", s, r, text, r2, err)
		}
		if r2.String() != text {
			t.Fatalf("String not stable: %q then %q", text, r2.String())
		}
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, which does not encode: %v", s, r, err)
		}
		if d, err := Decode(b); err != nil || d != r {
			t.Fatalf("Decode(%x) = %+v, %v; want %+v", b, d, err, r)
		}
	})
}
