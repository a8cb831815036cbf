//go:build linux

package amtlink_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"syscall"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
)

// The Examples run against a fake kernel (see dial); the namespace holds
// lo, eth0 (up, 192.0.2.2/24), br0, veth9 and a gateway amtg that has
// found its relay 192.0.2.1.

// dial stands in for amtlink.Dial in the Examples: a Client on a fake
// kernel that answers as Linux does.
func dial(*amtlink.NetNS) (*amtlink.Client, error) { return amtlink.FakeDial(), nil }

// A gateway that discovers its relay at 192.0.2.1, over eth0, up at once.
// Needs root (CAP_NET_ADMIN) and the AMT driver.
func ExampleClient_Create() {
	c, err := dial(nil) // amtlink.Dial(nil): the current network namespace
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	spec := amtlink.Spec{
		Name: "amtg2",
		Dev:  "eth0",
		Up:   true,
		AMT: ifla.AMT{
			Mode:      ifla.Ptr(ifla.ModeGateway),
			Local:     netip.MustParseAddr("192.0.2.2"),
			Discovery: netip.MustParseAddr("192.0.2.1"),
		},
	}
	l, err := c.Create(spec)
	switch {
	case errors.Is(err, amtlink.ErrNoDriver):
		log.Fatal("load the driver first: modprobe amt")
	case errors.Is(err, os.ErrExist):
		log.Fatal("amtg2 exists already")
	case err != nil:
		log.Fatal(err) // e.g. create amtg2: dev "eth0" not found in this namespace
	}
	fmt.Printf("%d: %s mtu %d up %v %s\n", l.Index, l.Name, l.MTU, l.Up(), l.AMT)

	// The same again: the name is taken.
	_, err = c.Create(spec)
	fmt.Println(err, errors.Is(err, os.ErrExist))
	// Output:
	// 100: amtg2 mtu 1456 up true mode gateway local 192.0.2.2 discovery 192.0.2.1 link 2 gateway_port 2268 relay_port 2268 max_tunnels 128
	// create amtg2: a link named "amtg2" already exists true
}

// Has the gateway found its relay yet?
func ExampleClient_Get() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	l, err := c.Get("amtg")
	if errors.Is(err, os.ErrNotExist) {
		log.Fatal("no amt link amtg") // also when amtg is of another kind
	} else if err != nil {
		log.Fatal(err)
	}
	if l.AMT.Remote.IsValid() {
		fmt.Println("relay:", l.AMT.Remote)
	} else {
		fmt.Println("still discovering via", l.AMT.Discovery)
	}

	_, err = c.Get("eth0")
	fmt.Println(err, errors.Is(err, os.ErrNotExist))
	// Output:
	// relay: 192.0.2.1
	// get eth0: eth0 is a veth link, not amt true
}

// Every AMT link in a namespace. (For the namespace "blue" of
// ip netns add blue: ns, err := amtlink.OpenNetNS("blue"), then Dial(ns)
// and ns.Close(): the socket keeps the namespace.)
func ExampleClient_List() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	links, err := c.List()
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range links {
		fmt.Printf("%s %s dev %s up=%v\n", l.Name, l.AMT.Mode, l.LowerName, l.Up())
	}
	// Output:
	// amtg gateway dev eth0 up=true
}

func ExampleClient_Delete() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for _, name := range []string{"amtg", "amtg", "veth9"} {
		err = c.Delete(name)
		switch {
		case errors.Is(err, amtlink.ErrNotAMT):
			fmt.Println(err) // refused: not an amt link
		case errors.Is(err, os.ErrNotExist):
			fmt.Println(name, "already gone")
		case errors.Is(err, os.ErrPermission):
			log.Fatal(err) // delete amtg: permission denied: needs root or CAP_NET_ADMIN
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println("deleted", name)
		}
	}
	// Output:
	// deleted amtg
	// amtg already gone
	// delete veth9: veth9 is a veth link, not amt; refusing to delete it
}

// The Driver makes rtnetlink itself understand amt links: a LinkMessage
// with a *Driver encodes to the kernel's format, and decoding gives a
// *Driver back.
func ExampleDriver() {
	msg := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{
		Name: "amtr",
		Info: &rtnetlink.LinkInfo{Kind: "amt", Data: &amtlink.Driver{AMT: ifla.AMT{
			Mode:       ifla.Ptr(ifla.ModeRelay),
			Link:       ifla.Ptr[uint32](2), // IFLA_AMT_LINK, not LinkAttributes.Type
			Local:      netip.MustParseAddr("192.0.2.1"),
			MaxTunnels: ifla.Ptr[uint32](16),
		}}},
	}}
	b, err := msg.MarshalBinary() // runs Driver.Verify first
	if err != nil {
		log.Fatal(err)
	}

	var back rtnetlink.LinkMessage
	if err := back.UnmarshalBinary(b); err != nil {
		log.Fatal(err)
	}
	d := back.Attributes.Info.Data.(*amtlink.Driver)
	fmt.Println(back.Attributes.Name, *d.Mode, d.Local, *d.Link, *d.MaxTunnels)

	// An invalid AMT never reaches the kernel.
	msg.Attributes.Info.Data = &amtlink.Driver{AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeGateway), Link: ifla.Ptr[uint32](2)}}
	_, err = msg.MarshalBinary()
	fmt.Println(err)
	// Output:
	// amtr relay 192.0.2.1 2 16
	// local: missing; add "local ADDR" with this host's IPv4 address on dev, for example "local 192.0.2.1"
}

// Errors carry the kernel's errno and message; callers test them with
// errors.Is and print them as they are.
func ExampleError() {
	err := error(&amtlink.Error{Op: "create", Name: "amtg", Err: syscall.EEXIST})
	fmt.Println(err)
	fmt.Println(errors.Is(err, os.ErrExist))

	err = &amtlink.Error{Op: "create", Name: "amtg", Message: "Invalid stream device type", Err: syscall.EINVAL}
	fmt.Println(err)

	err = &amtlink.Error{Op: "delete", Name: "amtg", Err: syscall.EPERM}
	fmt.Println(err)
	fmt.Println(errors.Is(err, os.ErrPermission))
	// Output:
	// create amtg: a link named "amtg" already exists
	// true
	// create amtg: kernel: Invalid stream device type (invalid argument)
	// delete amtg: permission denied: needs root or CAP_NET_ADMIN
	// true
}

// Add is Create without the read-back, for callers that make many links
// and do not need them returned.
func ExampleClient_Add() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for i := range 100 {
		err := c.Add(amtlink.Spec{
			Name: fmt.Sprintf("amtr%d", i),
			Dev:  "eth0",
			AMT:  ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("192.0.2.1")},
		})
		if err != nil {
			log.Fatal(err) // e.g. create amtr7: a link named "amtr7" already exists
		}
	}
	links, err := c.List()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(links), "amt links")
	// Output:
	// 101 amt links
}
