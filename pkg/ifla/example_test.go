package ifla_test

import (
	"fmt"
	"log"
	"net/netip"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
)

// Encode the gateway of the kernel's AMT selftest; rtnetlink would wrap the
// attributes in IFLA_INFO_DATA. Ports and addresses are big-endian on the
// wire, mode and link native u32.
func ExampleAMT_Encode() {
	a := ifla.AMT{
		Mode:        ifla.Ptr(ifla.ModeGateway),
		Local:       netip.MustParseAddr("10.0.0.1"),
		Discovery:   netip.MustParseAddr("10.0.0.2"),
		Link:        ifla.Ptr[uint32](3), // ifindex of veth0
		GatewayPort: ifla.Ptr(ifla.DefaultPort),
		RelayPort:   ifla.Ptr(ifla.DefaultPort),
	}
	if err := a.Validate(); err != nil {
		log.Fatal(err)
	}
	ae := netlink.NewAttributeEncoder()
	if err := a.Encode(ae); err != nil {
		log.Fatal(err)
	}
	b, err := ae.Encode()
	if err != nil {
		log.Fatal(err)
	}
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		log.Fatal(err)
	}
	for _, at := range attrs {
		switch at.Type {
		case ifla.AttrMode, ifla.AttrLink:
			fmt.Printf("%-22s u32 %d\n", ifla.AttrName(at.Type), nlenc.Uint32(at.Data))
		default:
			fmt.Printf("%-22s % x\n", ifla.AttrName(at.Type), at.Data)
		}
	}
	// Output:
	// IFLA_AMT_MODE          u32 0
	// IFLA_AMT_LOCAL_IP      0a 00 00 01
	// IFLA_AMT_DISCOVERY_IP  0a 00 00 02
	// IFLA_AMT_LINK          u32 3
	// IFLA_AMT_GATEWAY_PORT  08 dc
	// IFLA_AMT_RELAY_PORT    08 dc
}

// Decode IFLA_INFO_DATA as a kernel reports it for a relay; the attribute
// 9 is unknown to this package and kept.
func ExampleAMT_Decode() {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(ifla.AttrMode, uint32(ifla.ModeRelay))
	ae.Bytes(ifla.AttrRelayPort, []byte{0x08, 0xdc})
	ae.Uint32(ifla.AttrLink, 7)
	ae.Bytes(ifla.AttrLocalIP, []byte{10, 0, 0, 2})
	ae.Uint32(ifla.AttrMaxTunnels, 128)
	ae.Bytes(9, []byte{0xca, 0xfe})
	b, _ := ae.Encode()

	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		log.Fatal(err)
	}
	var a ifla.AMT
	if err := a.Decode(ad); err != nil {
		log.Fatal(err)
	}
	fmt.Println(a)
	fmt.Println(*a.Mode == ifla.ModeRelay, *a.RelayPort, len(a.Unknown))

	// A malformed attribute is named in the error.
	bad := []byte{0x07, 0x00, 0x02, 0x00, 0x08, 0xdc, 0x00, 0x00}
	fmt.Println(a.UnmarshalBinary(bad))
	// Output:
	// mode relay local 10.0.0.2 link 7 relay_port 2268 max_tunnels 128 attr 9:cafe
	// true 2268 1
	// IFLA_AMT_RELAY_PORT: want 2 bytes, got 3
}

// Validate reports the first problem as one line that names the field and
// the fix.
func ExampleAMT_Validate() {
	a := ifla.AMT{
		Mode:  ifla.Ptr(ifla.ModeGateway),
		Link:  ifla.Ptr[uint32](3),
		Local: netip.MustParseAddr("10.0.0.1"),
	}
	fmt.Println(a.Validate())

	a.Discovery = netip.MustParseAddr("::ffff:10.0.0.2")
	fmt.Println(a.Validate())

	a.Discovery = netip.MustParseAddr("10.0.0.2")
	a.MaxTunnels = ifla.Ptr[uint32](16)
	fmt.Println(a.Validate())

	a.MaxTunnels = nil
	fmt.Println(a.Validate())
	// Output:
	// discovery: missing, a gateway needs the relay's address; add "discovery ADDR" with the relay's IPv4 unicast address
	// discovery "::ffff:10.0.0.2": IPv4-mapped IPv6 address; write the IPv4 address itself: 10.0.0.2
	// max_tunnels "16": only a relay uses it; remove "max_tunnels", or use "mode relay"
	// <nil>
}

func ExampleParseMode() {
	m, err := ifla.ParseMode("relay")
	fmt.Println(m, uint32(m), err)

	_, err = ifla.ParseMode("router")
	fmt.Println(err)

	fmt.Println(ifla.Mode(3))
	// Output:
	// relay 1 <nil>
	// mode "router": unknown mode; use "gateway" or "relay"
	// unknown mode value (3)
}

func ExampleParsePort() {
	for _, s := range []string{"2268", "0", "70000", "abc"} {
		p, err := ifla.ParsePort("relay_port", s)
		fmt.Println(p, err)
	}
	// Output:
	// 2268 <nil>
	// 0 relay_port "0": port 0 is refused; use a UDP port from 1 to 65535, or leave it out for the default 2268
	// 0 relay_port "70000": out of range; use a UDP port from 1 to 65535, or leave it out for the default 2268
	// 0 relay_port "abc": not a decimal number; use a UDP port from 1 to 65535, or leave it out for the default 2268
}

func ExampleParseAddr() {
	for _, s := range []string{"192.0.2.1", "ff02::1", "169.254.1.1"} {
		ip, err := ifla.ParseAddr("local", s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(ip)
	}
	// Output:
	// 192.0.2.1
	// local "ff02::1": IPv6 address, but the AMT tunnel runs over IPv4; use an IPv4 unicast address such as 192.0.2.1
	// local "169.254.1.1": link-local address (169.254.0.0/16), routers do not forward it; use an IPv4 unicast address such as 192.0.2.1
}

// AppendBinary writes IFLA_INFO_DATA into a buffer the caller reuses, so a
// client that sends many requests encodes them without allocating.
func ExampleAMT_AppendBinary() {
	a := ifla.AMT{
		Mode:  ifla.Ptr(ifla.ModeRelay),
		Local: netip.MustParseAddr("10.0.0.1"),
		Link:  ifla.Ptr[uint32](2),
	}
	buf := make([]byte, 0, 64)
	buf, err := a.AppendBinary(buf[:0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", buf)
	// Output:
	// 08 00 01 00 01 00 00 00 08 00 05 00 0a 00 00 01 08 00 04 00 02 00 00 00
}
