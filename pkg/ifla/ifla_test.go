package ifla

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/internal/nlwire"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
)

// cmpOpts compares AMT values: netip.Addr by ==, and nil and empty
// Unknown/Data slices as equal.
var cmpOpts = cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

// skipBigEndian skips tests whose byte literals hold native-order u32s
// written for a little-endian machine (mdlayher/ethtool does the same).
func skipBigEndian(tb testing.TB) {
	tb.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		tb.Skip("skipping: fixture has little-endian u32 attributes, this machine is big-endian")
	}
}

var (
	ip10_0_0_1 = netip.MustParseAddr("10.0.0.1")
	ip10_0_0_2 = netip.MustParseAddr("10.0.0.2")
)

// goldenIPGateway is IFLA_INFO_DATA as iproute2 (ip/iplink_amt.c) builds it
// for the kernel selftest's gateway (tools/testing/selftests/net/amt.sh), with
// veth0 at ifindex 3:
//
//	ip link add amtg type amt mode gateway local 10.0.0.1 discovery 10.0.0.2 \
//	        dev veth0 gateway_port 2268 relay_port 2268
//
// amt_parse_opt appends one attribute per keyword in argv order: addattr32
// for mode and dev (native u32), addattr_l with the 4 in_addr bytes for local
// and discovery, addattr16(htons(port)) for ports (2 bytes, padded to 4).
var goldenIPGateway = []byte{
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // IFLA_AMT_MODE 0 (gateway)
	0x08, 0x00, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x01, // IFLA_AMT_LOCAL_IP 10.0.0.1
	0x08, 0x00, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x02, // IFLA_AMT_DISCOVERY_IP 10.0.0.2
	0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, // IFLA_AMT_LINK 3
	0x06, 0x00, 0x03, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_GATEWAY_PORT 2268 (be16 + pad)
	0x06, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_RELAY_PORT 2268 (be16 + pad)
}

var goldenIPGatewayAMT = AMT{
	Mode: Ptr(ModeGateway), Local: ip10_0_0_1, Discovery: ip10_0_0_2, Link: Ptr[uint32](3),
	GatewayPort: Ptr[uint16](2268), RelayPort: Ptr[uint16](2268),
}

// goldenIPRelay: the selftest's relay plus max_tunnels, veth1 at ifindex 7:
//
//	ip link add amtr type amt mode relay local 10.0.0.2 dev veth1 \
//	        gateway_port 2268 relay_port 2268 max_tunnels 4
var goldenIPRelay = []byte{
	0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // IFLA_AMT_MODE 1 (relay)
	0x08, 0x00, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x02, // IFLA_AMT_LOCAL_IP 10.0.0.2
	0x08, 0x00, 0x04, 0x00, 0x07, 0x00, 0x00, 0x00, // IFLA_AMT_LINK 7
	0x06, 0x00, 0x03, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_GATEWAY_PORT 2268
	0x06, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_RELAY_PORT 2268
	0x08, 0x00, 0x08, 0x00, 0x04, 0x00, 0x00, 0x00, // IFLA_AMT_MAX_TUNNELS 4
}

var goldenIPRelayAMT = AMT{
	Mode: Ptr(ModeRelay), Local: ip10_0_0_2, Link: Ptr[uint32](7),
	GatewayPort: Ptr[uint16](2268), RelayPort: Ptr[uint16](2268), MaxTunnels: Ptr[uint32](4),
}

// goldenKernelGateway is what amt_fill_info reports for that gateway once it
// has discovered its relay: every attribute, in the order mode, relay_port,
// gateway_port, link, local, discovery, remote (only when non-zero),
// max_tunnels (the default 128, although a gateway does not use it).
var goldenKernelGateway = []byte{
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // IFLA_AMT_MODE 0
	0x06, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_RELAY_PORT 2268
	0x06, 0x00, 0x03, 0x00, 0x08, 0xdd, 0x00, 0x00, // IFLA_AMT_GATEWAY_PORT 2269
	0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, // IFLA_AMT_LINK 3
	0x08, 0x00, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x01, // IFLA_AMT_LOCAL_IP 10.0.0.1
	0x08, 0x00, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x02, // IFLA_AMT_DISCOVERY_IP 10.0.0.2
	0x08, 0x00, 0x06, 0x00, 0xc6, 0x33, 0x64, 0x07, // IFLA_AMT_REMOTE_IP 198.51.100.7
	0x08, 0x00, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00, // IFLA_AMT_MAX_TUNNELS 128
}

var goldenKernelGatewayAMT = AMT{
	Mode: Ptr(ModeGateway), RelayPort: Ptr[uint16](2268), GatewayPort: Ptr[uint16](2269),
	Link: Ptr[uint32](3), Local: ip10_0_0_1, Discovery: ip10_0_0_2,
	Remote: netip.MustParseAddr("198.51.100.7"), MaxTunnels: Ptr[uint32](128),
}

// goldenKernelRelay: amt_fill_info for a relay, which reports discovery as
// 0.0.0.0 (never set in relay mode) and no remote.
var goldenKernelRelay = []byte{
	0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // IFLA_AMT_MODE 1
	0x06, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_RELAY_PORT 2268
	0x06, 0x00, 0x03, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_GATEWAY_PORT 2268
	0x08, 0x00, 0x04, 0x00, 0x07, 0x00, 0x00, 0x00, // IFLA_AMT_LINK 7
	0x08, 0x00, 0x05, 0x00, 0x0a, 0x00, 0x00, 0x02, // IFLA_AMT_LOCAL_IP 10.0.0.2
	0x08, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, // IFLA_AMT_DISCOVERY_IP 0.0.0.0
	0x08, 0x00, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00, // IFLA_AMT_MAX_TUNNELS 128
}

var goldenKernelRelayAMT = AMT{
	Mode: Ptr(ModeRelay), RelayPort: Ptr[uint16](2268), GatewayPort: Ptr[uint16](2268),
	Link: Ptr[uint32](7), Local: ip10_0_0_2, Discovery: netip.IPv4Unspecified(), MaxTunnels: Ptr[uint32](128),
}

func encode(tb testing.TB, a *AMT) []byte {
	tb.Helper()
	ae := netlink.NewAttributeEncoder()
	if err := a.Encode(ae); err != nil {
		tb.Fatalf("Encode: %v", err)
	}
	b, err := ae.Encode()
	if err != nil {
		tb.Fatalf("AttributeEncoder.Encode: %v", err)
	}
	return b
}

// decode decodes b through an AttributeDecoder and checks that
// UnmarshalBinary agrees with it.
func decode(tb testing.TB, b []byte) (AMT, error) {
	tb.Helper()
	var viaBinary AMT
	binErr := viaBinary.UnmarshalBinary(b)

	var got AMT
	ad, err := netlink.NewAttributeDecoder(b)
	if err == nil {
		err = got.Decode(ad)
		if adErr := ad.Err(); (adErr == nil) != (err == nil) {
			tb.Fatalf("Decode returned %v but ad.Err() is %v", err, adErr)
		}
	}
	if (err == nil) != (binErr == nil) {
		tb.Fatalf("Decode error %v, UnmarshalBinary error %v: they must agree", err, binErr)
	}
	if d := cmp.Diff(got, viaBinary, cmpOpts); d != "" {
		tb.Fatalf("Decode and UnmarshalBinary differ (-Decode +UnmarshalBinary):\n%s", d)
	}
	return got, err
}

func TestEncodeGoldenIPRoute2(t *testing.T) {
	skipBigEndian(t)
	for _, tt := range []struct {
		name string
		in   AMT
		want []byte
	}{
		{"selftest gateway", goldenIPGatewayAMT, goldenIPGateway},
		{"selftest relay with max_tunnels", goldenIPRelayAMT, goldenIPRelay},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := encode(t, &tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("Encode bytes (-want +got):\n%s", d)
			}
			mb, err := tt.in.MarshalBinary()
			if err != nil || !bytes.Equal(mb, tt.want) {
				t.Fatalf("MarshalBinary = % x, %v; want % x", mb, err, tt.want)
			}
			if err := tt.in.Validate(); err != nil {
				t.Fatalf("Validate of the selftest's configuration: %v", err)
			}
		})
	}
}

func TestDecodeGolden(t *testing.T) {
	skipBigEndian(t)
	for _, tt := range []struct {
		name string
		in   []byte
		want AMT
	}{
		{"iproute2 gateway request", goldenIPGateway, goldenIPGatewayAMT},
		{"iproute2 relay request", goldenIPRelay, goldenIPRelayAMT},
		{"kernel gateway (amt_fill_info)", goldenKernelGateway, goldenKernelGatewayAMT},
		{"kernel relay (amt_fill_info)", goldenKernelRelay, goldenKernelRelayAMT},
		{"empty", nil, AMT{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, tt.in)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if d := cmp.Diff(tt.want, got, cmpOpts); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   AMT
	}{
		{"empty", AMT{}},
		{"mode only", AMT{Mode: Ptr(ModeRelay)}},
		{"unknown mode value", AMT{Mode: Ptr(Mode(7))}},
		{"selftest gateway", goldenIPGatewayAMT},
		{"selftest relay", goldenIPRelayAMT},
		{"kernel gateway", goldenKernelGatewayAMT},
		{"kernel relay", goldenKernelRelayAMT},
		{"extreme values", AMT{
			Mode: Ptr(Mode(0xffffffff)), RelayPort: Ptr[uint16](0), GatewayPort: Ptr[uint16](65535),
			Link: Ptr[uint32](0xffffffff), Local: netip.MustParseAddr("255.255.255.255"),
			Remote: netip.IPv4Unspecified(), Discovery: netip.MustParseAddr("224.0.0.1"), MaxTunnels: Ptr[uint32](0),
		}},
		{"byte order visible", AMT{RelayPort: Ptr[uint16](0x0102), GatewayPort: Ptr[uint16](0x0201), Link: Ptr[uint32](0x01020304)}},
		{"unknown attributes", AMT{
			Mode: Ptr(ModeGateway),
			Unknown: []netlink.Attribute{
				{Type: 9, Data: []byte{1, 2, 3, 4}},
				{Type: 0, Data: []byte{0xff}},
				{Type: 0x3fff, Data: nil},
				{Type: 42 | netlink.Nested, Data: []byte{8, 0, 1, 0, 5, 0, 0, 0}},
				{Type: 9, Data: []byte{5, 6, 7, 8, 9}},
			},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := encode(t, &tt.in)
			got, err := decode(t, b)
			if err != nil {
				t.Fatalf("decode(% x): %v", b, err)
			}
			if d := cmp.Diff(tt.in, got, cmpOpts); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			// Encoding the decoded value reproduces the bytes.
			if b2 := encode(t, &got); !bytes.Equal(b, b2) {
				t.Fatalf("re-encode:\n got % x\nwant % x", b2, b)
			}
			// AppendBinary writes what Encode writes, after what b held.
			prefix := []byte{0xaa, 0xbb}
			ab, err := tt.in.AppendBinary(prefix)
			if err != nil || !bytes.Equal(ab[:2], prefix) || !bytes.Equal(ab[2:], b) {
				t.Fatalf("AppendBinary(% x) = % x, %v; want the prefix then % x", prefix, ab, err, b)
			}
		})
	}
}

func TestEncodeByteOrder(t *testing.T) {
	// Independent of the machine: ports and addresses big-endian, u32s in
	// the encoder's order.
	in := AMT{Mode: Ptr(Mode(0x01020304)), RelayPort: Ptr[uint16](0x0a0b), GatewayPort: Ptr[uint16](0x0c0d),
		Link: Ptr[uint32](0x05060708), Local: netip.MustParseAddr("1.2.3.4"), MaxTunnels: Ptr[uint32](0x11223344)}
	attrs, err := netlink.UnmarshalAttributes(encode(t, &in))
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint16][]byte{}
	for _, a := range attrs {
		got[a.Type] = a.Data
	}
	want := map[uint16][]byte{
		AttrMode:        binary.NativeEndian.AppendUint32(nil, 0x01020304),
		AttrRelayPort:   {0x0a, 0x0b},
		AttrGatewayPort: {0x0c, 0x0d},
		AttrLink:        binary.NativeEndian.AppendUint32(nil, 0x05060708),
		AttrLocalIP:     {1, 2, 3, 4},
		AttrMaxTunnels:  binary.NativeEndian.AppendUint32(nil, 0x11223344),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestDecodeUnknownPreserved(t *testing.T) {
	skipBigEndian(t)
	// A future kernel's reply: a new attribute 9 between known ones, a
	// nested 10 with its flag, and IFLA_AMT_UNSPEC.
	in := []byte{
		0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // IFLA_AMT_MODE relay
		0x09, 0x00, 0x09, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x00, 0x00, 0x00, // type 9, 5 bytes + pad
		0x06, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00, // IFLA_AMT_RELAY_PORT 2268
		0x0c, 0x00, 0x0a, 0x80, 0x08, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00, // NLA_F_NESTED|10
		0x04, 0x00, 0x00, 0x00, // IFLA_AMT_UNSPEC, empty
	}
	got, err := decode(t, in)
	if err != nil {
		t.Fatal(err)
	}
	want := AMT{
		Mode: Ptr(ModeRelay), RelayPort: Ptr[uint16](2268),
		Unknown: []netlink.Attribute{
			{Type: 9, Data: []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee}},
			{Type: 10 | netlink.Nested, Data: []byte{0x08, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00}},
			{Type: 0},
		},
	}
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	// The unknown attributes are copies: scribbling on the input changes nothing.
	for i := range in {
		in[i] = 0xff
	}
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Fatalf("decoded value aliases the input (-want +got):\n%s", d)
	}
	// Encode writes known attributes first, then the unknown ones verbatim.
	wantBytes := []byte{
		0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x06, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00,
		0x09, 0x00, 0x09, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x00, 0x00, 0x00,
		0x0c, 0x00, 0x0a, 0x80, 0x08, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00,
		0x04, 0x00, 0x00, 0x00,
	}
	if d := cmp.Diff(wantBytes, encode(t, &got)); d != "" {
		t.Fatalf("encode (-want +got):\n%s", d)
	}
}

func TestDecodeLengthErrors(t *testing.T) {
	attr := func(typ uint16, n int) []byte {
		b := binary.NativeEndian.AppendUint16(nil, uint16(4+n))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, make([]byte, n)...)
		return append(b, make([]byte, nlwire.Align(n)-n)...)
	}
	types := []uint16{AttrMode, AttrRelayPort, AttrGatewayPort, AttrLink, AttrLocalIP, AttrRemoteIP, AttrDiscoveryIP, AttrMaxTunnels}
	names := []string{"IFLA_AMT_MODE", "IFLA_AMT_RELAY_PORT", "IFLA_AMT_GATEWAY_PORT", "IFLA_AMT_LINK",
		"IFLA_AMT_LOCAL_IP", "IFLA_AMT_REMOTE_IP", "IFLA_AMT_DISCOVERY_IP", "IFLA_AMT_MAX_TUNNELS"}
	n := 0
	for i, typ := range types {
		want := attrLen(typ)
		for _, got := range []int{0, 1, want - 1, want + 1, 8, 16} {
			if got == want {
				continue
			}
			n++
			// A valid attribute first, so the error is not about the start.
			in := append(attr(99, 3), attr(typ, got)...)
			_, err := decode(t, in)
			var le *LengthError
			if !errors.As(err, &le) {
				t.Fatalf("%s with %d bytes: error %v, want a *LengthError", names[i], got, err)
			}
			msg := names[i] + ": want " + strconv.Itoa(want) + " bytes, got " + strconv.Itoa(got)
			if err.Error() != msg || le.Type != typ || le.Want != want || le.Got != got {
				t.Errorf("%s with %d bytes: %q %+v, want %q", names[i], got, err, le, msg)
			}
		}
	}
	// The brief's example, verbatim, with a value already decoded in a.
	var a AMT = goldenIPGatewayAMT
	err := a.UnmarshalBinary(attr(AttrRelayPort, 3))
	if err == nil || err.Error() != "IFLA_AMT_RELAY_PORT: want 2 bytes, got 3" {
		t.Fatalf("got %v", err)
	}
	if d := cmp.Diff(AMT{}, a, cmpOpts); d != "" {
		t.Fatalf("after an error the value must be zero (-want +got):\n%s", d)
	}
	t.Logf("%d length errors checked", n)
}

func TestDecodeFramingErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"short header", []byte{0x08, 0x00, 0x01}},
		{"length beyond buffer", []byte{0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00}},
		{"length below header", []byte{0x02, 0x00, 0x01, 0x00}},
		{"trailing bytes", []byte{0x08, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a AMT
			if err := a.UnmarshalBinary(tt.in); err == nil || !strings.HasPrefix(err.Error(), "ifla: decode IFLA_INFO_DATA: ") {
				t.Fatalf("UnmarshalBinary error %v", err)
			}
			ad, err := netlink.NewAttributeDecoder(tt.in)
			if err != nil {
				return // the netlink package refuses it up front
			}
			if err := a.Decode(ad); err == nil || !strings.HasPrefix(err.Error(), "ifla: decode IFLA_INFO_DATA: ") {
				t.Fatalf("Decode error %v", err)
			}
		})
	}
}

func TestDecodeLastDuplicateWins(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(AttrMode, 0)
	ae.Uint32(AttrMode, 1)
	b, _ := ae.Encode()
	got, err := decode(t, b)
	if err != nil || got.Mode == nil || *got.Mode != ModeRelay {
		t.Fatalf("got %v, %v; want mode relay (the kernel's nla_parse keeps the last)", got, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   AMT
		want string
	}{
		{"IPv6 local", AMT{Local: netip.MustParseAddr("2001:db8::1")}, "ifla: encode IFLA_AMT_LOCAL_IP: 2001:db8::1 is not an IPv4 address"},
		{"IPv4-mapped discovery", AMT{Discovery: netip.MustParseAddr("::ffff:10.0.0.2")}, "ifla: encode IFLA_AMT_DISCOVERY_IP: ::ffff:10.0.0.2 is not an IPv4 address"},
		{"IPv6 remote", AMT{Remote: netip.IPv6Loopback()}, "ifla: encode IFLA_AMT_REMOTE_IP: ::1 is not an IPv4 address"},
		{"known type in Unknown", AMT{Unknown: []netlink.Attribute{{Type: AttrLink, Data: []byte{1, 0, 0, 0}}}},
			"ifla: encode: Unknown holds a known attribute IFLA_AMT_LINK; set the AMT field instead"},
		{"known type with flag in Unknown", AMT{Unknown: []netlink.Attribute{{Type: AttrMode | netlink.NetByteOrder}}},
			"ifla: encode: Unknown holds a known attribute IFLA_AMT_MODE; set the AMT field instead"},
		{"Unknown too large for an attribute", AMT{Unknown: []netlink.Attribute{{Type: 42, Data: make([]byte, 70000)}}},
			"ifla: encode: Unknown attribute 42 has 70000 bytes, more than a netlink attribute holds (65531)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Mode = Ptr(ModeGateway)
			ae := netlink.NewAttributeEncoder()
			err := tt.in.Encode(ae)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Encode error %v, want %q", err, tt.want)
			}
			if b, _ := ae.Encode(); len(b) != 0 {
				t.Fatalf("a failed Encode wrote % x", b)
			}
			if _, err := tt.in.MarshalBinary(); err == nil {
				t.Fatal("MarshalBinary succeeded")
			}
			prefix := []byte{1, 2, 3}
			if ab, err := tt.in.AppendBinary(prefix); err == nil || !bytes.Equal(ab, prefix) {
				t.Fatalf("AppendBinary = % x, %v; want the prefix unchanged and an error", ab, err)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for _, tt := range []struct {
		m    Mode
		want string
	}{
		{ModeGateway, "gateway"},
		{ModeRelay, "relay"},
		{2, "unknown mode value (2)"},
		{0xffffffff, "unknown mode value (4294967295)"},
	} {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("Mode(%d).String() = %q, want %q", uint32(tt.m), got, tt.want)
		}
		if b, err := tt.m.MarshalText(); err != nil || string(b) != tt.want {
			t.Errorf("Mode(%d).MarshalText() = %q, %v", uint32(tt.m), b, err)
		}
	}
}

func TestModeText(t *testing.T) {
	for _, s := range []string{"gateway", "relay"} {
		var m Mode = 9
		if err := m.UnmarshalText([]byte(s)); err != nil || m.String() != s {
			t.Errorf("UnmarshalText(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "Gateway", "RELAY", "0", "1", " relay", "unknown mode value (2)"} {
		m := Mode(9)
		err := m.UnmarshalText([]byte(s))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "mode" || m != 9 {
			t.Errorf("UnmarshalText(%q) = %v (mode now %d), want a mode *FieldError and no change", s, err, m)
		}
	}
}

func TestAMTString(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   AMT
		want string
	}{
		{"empty", AMT{}, ""},
		{"selftest gateway", goldenIPGatewayAMT,
			"mode gateway local 10.0.0.1 discovery 10.0.0.2 link 3 gateway_port 2268 relay_port 2268"},
		{"kernel gateway", goldenKernelGatewayAMT,
			"mode gateway local 10.0.0.1 remote 198.51.100.7 discovery 10.0.0.2 link 3 gateway_port 2269 relay_port 2268 max_tunnels 128"},
		{"relay", goldenIPRelayAMT, "mode relay local 10.0.0.2 link 7 gateway_port 2268 relay_port 2268 max_tunnels 4"},
		{"unknown mode and attribute", AMT{Mode: Ptr(Mode(5)), Unknown: []netlink.Attribute{{Type: 9, Data: []byte{0xca, 0xfe}}, {Type: 0}}},
			"mode unknown mode value (5) attr 9:cafe attr 0:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("String() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestAttrName(t *testing.T) {
	for typ, want := range map[uint16]string{
		0: "IFLA_AMT_UNSPEC", 1: "IFLA_AMT_MODE", 2: "IFLA_AMT_RELAY_PORT", 3: "IFLA_AMT_GATEWAY_PORT",
		4: "IFLA_AMT_LINK", 5: "IFLA_AMT_LOCAL_IP", 6: "IFLA_AMT_REMOTE_IP", 7: "IFLA_AMT_DISCOVERY_IP",
		8: "IFLA_AMT_MAX_TUNNELS", 9: "IFLA_AMT_9", 0x8002: "IFLA_AMT_RELAY_PORT",
	} {
		if got := AttrName(typ); got != want {
			t.Errorf("AttrName(%#x) = %q, want %q", typ, got, want)
		}
	}
}

func TestConstants(t *testing.T) {
	// include/uapi/linux/amt.h and drivers/net/amt.c.
	got := []uint64{uint64(AttrMode), uint64(AttrRelayPort), uint64(AttrGatewayPort), uint64(AttrLink),
		uint64(AttrLocalIP), uint64(AttrRemoteIP), uint64(AttrDiscoveryIP), uint64(AttrMaxTunnels),
		uint64(ModeGateway), uint64(ModeRelay), uint64(DefaultPort), uint64(DefaultMaxTunnels)}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2268, 128}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}
