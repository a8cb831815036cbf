package ifla

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// FuzzDecode feeds arbitrary IFLA_INFO_DATA to Decode and UnmarshalBinary.
// They must never panic, must agree with each other, and whatever they
// accept must survive decode → encode → decode unchanged, with the encoding
// stable from then on.
func FuzzDecode(f *testing.F) {
	for _, b := range [][]byte{
		goldenIPGateway, goldenIPRelay, goldenKernelGateway, goldenKernelRelay, nil,
		{0x09, 0x00, 0x09, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x00, 0x00, 0x00},
		{0x0c, 0x00, 0x0a, 0x80, 0x08, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00},
		{0x00, 0x00, 0x00, 0x00},
		{0x07, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00}, // relay port, 3 bytes
		{0x08, 0x00, 0x01, 0x80, 0x01, 0x00, 0x00, 0x00}, // mode with NLA_F_NESTED
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var first AMT
		binErr := first.UnmarshalBinary(b)

		if ad, err := netlink.NewAttributeDecoder(b); err != nil {
			if binErr == nil {
				t.Fatalf("netlink refuses % x (%v) but UnmarshalBinary accepts it", b, err)
			}
		} else {
			var viaDecoder AMT
			err := viaDecoder.Decode(ad)
			if (err == nil) != (binErr == nil) {
				t.Fatalf("Decode error %v, UnmarshalBinary error %v", err, binErr)
			}
			if d := cmp.Diff(first, viaDecoder, cmpOpts); d != "" {
				t.Fatalf("Decode and UnmarshalBinary differ (-UnmarshalBinary +Decode):\n%s", d)
			}
		}
		if binErr != nil {
			if d := cmp.Diff(AMT{}, first, cmpOpts); d != "" {
				t.Fatalf("value not zero after error %v:\n%s", binErr, d)
			}
			return
		}
		_ = first.String()
		_ = first.Validate()

		enc, err := first.MarshalBinary()
		if err != nil {
			t.Fatalf("a decoded value must encode: %v\n%s", err, first)
		}
		ae := netlink.NewAttributeEncoder()
		if err := first.Encode(ae); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if viaEncoder, err := ae.Encode(); err != nil || !bytes.Equal(enc, viaEncoder) {
			t.Fatalf("MarshalBinary and Encode differ:\n% x\n% x (%v)", enc, viaEncoder, err)
		}
		var second AMT
		ad, err := netlink.NewAttributeDecoder(enc)
		if err != nil {
			t.Fatalf("NewAttributeDecoder(encoding % x): %v", enc, err)
		}
		if err := second.Decode(ad); err != nil {
			t.Fatalf("decode of our own encoding % x: %v", enc, err)
		}
		if d := cmp.Diff(first, second, cmpOpts); d != "" {
			t.Fatalf("decode → encode → decode changed the value (-first +second):\n%s", d)
		}
		enc2, err := second.MarshalBinary()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n% x\n% x (%v)", enc, enc2, err)
		}
	})
}

// FuzzParse checks the command-line parsers: no panics, every error a
// one-line *FieldError for the right field, and accepted values that print
// back to what parses to the same value and pass the checks Validate makes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "::ffff:10.0.0.1", "ff02::1", "0", "2268", "65536", "relay", "gateway", "", "a\nb", "4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		oneLine := func(err error, field string) {
			t.Helper()
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != field || strings.ContainsAny(err.Error(), "\n\r") || fe.Fix == "" {
				t.Fatalf("%q: error %q (%T) is not a one-line %s *FieldError with a fix", s, err, err, field)
			}
		}
		if ip, err := ParseAddr("local", s); err != nil {
			oneLine(err, "local")
		} else if checkAddr("local", ip) != nil || !ip.Is4() {
			t.Fatalf("ParseAddr(%q) accepted %v", s, ip)
		}
		if p, err := ParsePort("gateway_port", s); err != nil {
			oneLine(err, "gateway_port")
		} else if p2, err := ParsePort("gateway_port", strconv.Itoa(int(p))); p == 0 || err != nil || p2 != p {
			t.Fatalf("ParsePort(%q) = %d does not round-trip (%v)", s, p, err)
		}
		if n, err := ParseMaxTunnels(s); err != nil {
			oneLine(err, "max_tunnels")
		} else if n2, err := ParseMaxTunnels(strconv.FormatUint(uint64(n), 10)); n == 0 || err != nil || n2 != n {
			t.Fatalf("ParseMaxTunnels(%q) = %d does not round-trip (%v)", s, n, err)
		}
		if m, err := ParseMode(s); err != nil {
			oneLine(err, "mode")
		} else if m.String() != s {
			t.Fatalf("ParseMode(%q) = %v", s, m)
		}
	})
}
