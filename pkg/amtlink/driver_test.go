package amtlink

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
)

func testAMT() ifla.AMT {
	return ifla.AMT{
		Mode:      ifla.Ptr(ifla.ModeGateway),
		Link:      ifla.Ptr[uint32](2),
		Local:     netip.MustParseAddr("10.0.0.2"),
		Discovery: netip.MustParseAddr("10.0.0.1"),
	}
}

// TestDriverRoundTrip: a LinkMessage carrying a *Driver encodes and decodes
// back into a *Driver through rtnetlink's own codec, i.e. the driver is
// registered for kind "amt".
func TestDriverRoundTrip(t *testing.T) {
	in := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{
		Name: "amtg",
		Info: &rtnetlink.LinkInfo{Kind: Kind, Data: &Driver{AMT: testAMT()}},
	}}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	var out rtnetlink.LinkMessage
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	d, ok := out.Attributes.Info.Data.(*Driver)
	if !ok {
		t.Fatalf("decoded info data is %T, want *Driver", out.Attributes.Info.Data)
	}
	if diff := cmp.Diff(testAMT().String(), d.AMT.String()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if out.Attributes.Type != 0 {
		t.Errorf("lower device leaked into LinkAttributes.Type (IFLA_LINK): %d", out.Attributes.Type)
	}
}

// TestDriverDecodeLenient calls Decode directly (rtnetlink would swallow
// its error) on data with an attribute from a newer kernel.
func TestDriverDecodeLenient(t *testing.T) {
	a := testAMT()
	a.Unknown = []netlink.Attribute{{Type: 42, Data: []byte{1, 2, 3, 4}}}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		t.Fatal(err)
	}
	d := (&Driver{}).New().(*Driver)
	if err := d.Decode(ad); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if err := ad.Err(); err != nil {
		t.Fatalf("ad.Err() = %v", err)
	}
	if d.Mode == nil || *d.Mode != ifla.ModeGateway || len(d.Unknown) != 1 || d.Unknown[0].Type != 42 {
		t.Errorf("decoded %s, want gateway with one unknown attribute 42", d.AMT)
	}
}

func TestDriverVerify(t *testing.T) {
	d := &Driver{AMT: testAMT()}
	if d.Kind() != "amt" {
		t.Errorf("Kind() = %q", d.Kind())
	}
	if _, ok := d.New().(*Driver); !ok {
		t.Error("New() is not a *Driver")
	}
	for _, tt := range []struct {
		name string
		d    *Driver
		msg  *rtnetlink.LinkMessage
		want string // "" = no error
	}{
		{"nil message", d, nil, ""},
		{"nil attributes", d, &rtnetlink.LinkMessage{}, ""},
		{"ok", d, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "amtg"}}, ""},
		{"lower in IFLA_LINK", d, &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Type: 2}}, "IFLA_AMT_LINK"},
		{"no link", &Driver{AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1")}}, nil, "dev"},
		{"no mode", &Driver{AMT: ifla.AMT{Link: ifla.Ptr[uint32](2)}}, nil, "mode"},
		{"gateway without discovery", &Driver{AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeGateway), Link: ifla.Ptr[uint32](2),
			Local: netip.MustParseAddr("10.0.0.1")}}, nil, "discovery"},
	} {
		err := tt.d.Verify(tt.msg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Verify = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Verify = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	// MarshalBinary runs Verify: an invalid AMT is never encoded.
	bad := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{
		Name: "amtg", Info: &rtnetlink.LinkInfo{Kind: Kind, Data: &Driver{}},
	}}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("MarshalBinary of an empty Driver succeeded")
	}
}
