package ifla

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

func TestRoundTripSmoke(t *testing.T) {
	in := AMT{
		Mode: Ptr(ModeGateway), RelayPort: Ptr[uint16](2268), GatewayPort: Ptr[uint16](2269),
		Link: Ptr[uint32](3), Local: netip.MustParseAddr("10.0.0.1"), Discovery: netip.MustParseAddr("10.0.0.2"),
	}
	ae := netlink.NewAttributeEncoder()
	if err := in.Encode(ae); err != nil {
		t.Fatal(err)
	}
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		t.Fatal(err)
	}
	var out AMT
	if err := out.Decode(ad); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
}
