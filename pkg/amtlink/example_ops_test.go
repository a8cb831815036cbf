//go:build linux

package amtlink_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// Bring amtg up with a smaller MTU and enslave it to br0, in one request.
// The AMT attributes (mode, local, discovery, ports) cannot be changed: the
// kernel's driver has no changelink, so delete and create the link instead.
func ExampleClient_Set() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	l, err := c.Set("amtg", amtlink.Change{
		Up:     ifla.Ptr(true),
		MTU:    ifla.Ptr[uint32](1400),
		Master: ifla.Ptr("br0"), // ifla.Ptr("") detaches
	})
	switch {
	case errors.Is(err, amtlink.ErrNotAMT):
		log.Fatal("amtg is not an amt link; refusing to touch it")
	case errors.Is(err, os.ErrNotExist):
		log.Fatal(err) // set amtg: link "amtg" not found ..., or the master
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(l.Name, l.Up(), l.MTU, l.Master)
	// Output:
	// amtg true 1400 br0
}

// Check a whole batch before creating the first link.
func ExampleSpec_Validate() {
	specs := []amtlink.Spec{
		{Name: "amtr", Dev: "eth0", AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("192.0.2.1")}},
		{Name: "amtg", Dev: "eth0", AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("192.0.2.2")}},
	}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			fmt.Printf("%s: %v\n", s.Name, err)
		}
	}
	// Output:
	// amtg: discovery: missing, a gateway needs the relay's address; add "discovery ADDR" with the relay's IPv4 unicast address
}

// Is local an address of dev, and is dev up, in the namespace the link
// will be created in?
func ExampleClient_Devices() {
	c, err := dial(nil) // in the namespace "gw": amtlink.OpenNetNS("gw"), then Dial

	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	devs, err := c.Devices()
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range devs {
		if d.Name == "eth0" {
			fmt.Println("up:", d.Up(), "has 192.0.2.2:", d.HasAddr(netip.MustParseAddr("192.0.2.2")))
		}
	}
	// Output:
	// up: true has 192.0.2.2: true
}

// Print AMT link events until interrupted, like amtctl monitor. Here the
// watcher itself makes a relay and deletes it again once it watches, and
// stops at the deletion.
func ExampleClient_Watch() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ready := func() { // links that exist when Watch starts are not reported
		spec := amtlink.Spec{Name: "amtr", Dev: "eth0", Up: true,
			AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("192.0.2.2")}}
		if err := c.Add(spec); err != nil {
			log.Fatal(err)
		}
		if err := c.Delete("amtr"); err != nil {
			log.Fatal(err)
		}
	}
	err = c.Watch(ctx, amtlink.WatchOptions{Ready: ready}, func(e amtlink.Event) error {
		switch e.Type {
		case amtlink.EventRelayDiscovered, amtlink.EventRelayChanged:
			fmt.Println(e.Type, e.Link.Name, e.Remote)
		case amtlink.EventDeleted:
			fmt.Println(e.Type, e.Link.Name)
			stop()
		default:
			fmt.Println(e.Type, e.Link.Name)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// created amtr
	// up amtr
	// deleted amtr
}

// Keep an AMT link in place: Subscribe tells that something changed (a
// link of any kind, an address, or NotifyResync when notifications were
// lost), and the caller reads what it needs and acts. Here the link is
// deleted behind the caller's back once the subscription is ready, and put
// back when its deletion is reported.
func ExampleClient_Subscribe() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	spec := amtlink.Spec{Name: "amtr", Dev: "eth0", Up: true,
		AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("192.0.2.2")}}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	restored := false
	ready := func() {
		if err := c.Add(spec); err != nil {
			log.Fatal(err)
		}
		if err := c.Delete("amtr"); err != nil { // by hand, as it were
			log.Fatal(err)
		}
	}
	err = c.Subscribe(ctx, amtlink.SubscribeOptions{Ready: ready}, func(n amtlink.Notification) error {
		fmt.Println(n.Type, n.Device.Name, n.Device.Kind)
		switch {
		case n.Type == amtlink.NotifyResync:
			// Lost notifications: re-read everything (c.List()).
		case n.Type == amtlink.NotifyLinkDeleted && n.Device.Name == spec.Name:
			if _, err := c.Get(spec.Name); errors.Is(err, os.ErrNotExist) {
				fmt.Println("putting", spec.Name, "back")
				restored = true
				return c.Add(spec)
			}
		case n.Type == amtlink.NotifyLink && n.Device.Name == spec.Name && restored:
			stop() // back; done
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// link amtr amt
	// link-deleted amtr amt
	// putting amtr back
	// link amtr amt
}

// The same question for one device, at a cost that does not grow with the
// number of devices in the namespace.
func ExampleClient_Device() {
	c, err := dial(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	d, err := c.Device("eth0")
	if err != nil {
		log.Fatal(err) // errors.Is(err, os.ErrNotExist) when there is no eth0
	}
	fmt.Println("up:", d.Up(), "has 192.0.2.2:", d.HasAddr(netip.MustParseAddr("192.0.2.2")))
	// Output:
	// up: true has 192.0.2.2: true
}
