//go:build linux

package selftests

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"golang.org/x/sys/unix"
)

// errNoLink is returned (wrapped) when a link name is not in the namespace.
var errNoLink = errors.New("no such link")

// link returns the link called name in the namespace.
func (n *netns) link(name string) (rtnetlink.LinkMessage, error) {
	links, err := n.rt.Link.List()
	if err != nil {
		return rtnetlink.LinkMessage{}, fmt.Errorf("%s: list links: %w", n.name, err)
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l, nil
		}
	}
	return rtnetlink.LinkMessage{}, fmt.Errorf("%s: link %q: %w", n.name, name, errNoLink)
}

// index returns the ifindex of the link called name.
func (n *netns) index(name string) (uint32, error) {
	l, err := n.link(name)
	if err != nil {
		return 0, err
	}
	return l.Index, nil
}

// iface returns a net.Interface carrying the index of link name, for the
// x/net multicast calls, which only read Index. (net.InterfaceByName would
// answer for the calling thread's namespace, not this one.)
func (n *netns) iface(name string) (*net.Interface, error) {
	idx, err := n.index(name)
	if err != nil {
		return nil, err
	}
	return &net.Interface{Index: int(idx), Name: name}, nil
}

// addVeth creates the veth pair name/peer with name in n and peer in peerNS.
// The pair never exists in the caller's namespace.
func (n *netns) addVeth(name string, peerNS *netns, peer string) error {
	err := n.rt.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{
			Name: name,
			Info: &rtnetlink.LinkInfo{
				Kind: "veth",
				Data: &driver.Veth{PeerInfo: &rtnetlink.LinkMessage{
					Family: unix.AF_UNSPEC,
					Attributes: &rtnetlink.LinkAttributes{
						Name:  peer,
						NetNS: rtnetlink.NetNSForFD(uint32(peerNS.fd)),
					},
				}},
			},
		},
	})
	if err != nil {
		return fmt.Errorf("%s: add veth %s peer %s in %s: %w", n.name, name, peer, peerNS.name, err)
	}
	return nil
}

// addBridge creates a bridge device.
func (n *netns) addBridge(name string) error {
	err := n.rt.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{
			Name: name,
			Info: &rtnetlink.LinkInfo{Kind: "bridge"},
		},
	})
	if err != nil {
		return fmt.Errorf("%s: add bridge %s: %w", n.name, name, err)
	}
	return nil
}

// setLink applies a change to link name: flags under change, master, MTU.
func (n *netns) setLink(name string, flags, change uint32, attrs *rtnetlink.LinkAttributes) error {
	idx, err := n.index(name)
	if err != nil {
		return err
	}
	return n.rt.Link.Set(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC, Index: idx, Flags: flags, Change: change, Attributes: attrs,
	})
}

// up sets the links administratively up.
func (n *netns) up(names ...string) error {
	for _, name := range names {
		if err := n.setLink(name, unix.IFF_UP, unix.IFF_UP, nil); err != nil {
			return fmt.Errorf("%s: set %s up: %w", n.name, name, err)
		}
	}
	return nil
}

// setMaster enslaves link name to master (a bridge).
func (n *netns) setMaster(name, master string) error {
	m, err := n.index(master)
	if err != nil {
		return err
	}
	if err := n.setLink(name, 0, 0, &rtnetlink.LinkAttributes{Master: &m}); err != nil {
		return fmt.Errorf("%s: set %s master %s: %w", n.name, name, master, err)
	}
	return nil
}

// setMTU sets a link's MTU.
func (n *netns) setMTU(name string, mtu uint32) error {
	if err := n.setLink(name, 0, 0, &rtnetlink.LinkAttributes{MTU: mtu}); err != nil {
		return fmt.Errorf("%s: set %s mtu %d: %w", n.name, name, mtu, err)
	}
	return nil
}

// delLink deletes link name.
func (n *netns) delLink(name string) error {
	idx, err := n.index(name)
	if err != nil {
		return err
	}
	if err := n.rt.Link.Delete(idx); err != nil {
		return fmt.Errorf("%s: delete %s: %w", n.name, name, err)
	}
	return nil
}

// addAddr adds an address to link name. IPv6 addresses carry IFA_F_NODAD, so
// they are usable at once instead of after duplicate address detection.
func (n *netns) addAddr(name string, p netip.Prefix) error {
	idx, err := n.index(name)
	if err != nil {
		return err
	}
	msg := &rtnetlink.AddressMessage{
		PrefixLength: uint8(p.Bits()),
		Index:        idx,
		Attributes: &rtnetlink.AddressAttributes{
			Address: p.Addr().AsSlice(),
			Local:   p.Addr().AsSlice(),
		},
	}
	if p.Addr().Is4() {
		msg.Family = unix.AF_INET
	} else {
		msg.Family = unix.AF_INET6
		msg.Flags = unix.IFA_F_NODAD
		msg.Attributes.Flags = unix.IFA_F_NODAD
		msg.Attributes.Local = nil // IPv6 uses IFA_ADDRESS only
	}
	if err := n.rt.Address.New(msg); err != nil {
		return fmt.Errorf("%s: add address %s dev %s: %w", n.name, p, name, err)
	}
	return nil
}

// delAddr removes an address from link name.
func (n *netns) delAddr(name string, p netip.Prefix) error {
	idx, err := n.index(name)
	if err != nil {
		return err
	}
	family := uint8(unix.AF_INET)
	if p.Addr().Is6() {
		family = unix.AF_INET6
	}
	err = n.rt.Address.Delete(&rtnetlink.AddressMessage{
		Family: family, PrefixLength: uint8(p.Bits()), Index: idx,
		Attributes: &rtnetlink.AddressAttributes{Address: p.Addr().AsSlice(), Local: p.Addr().AsSlice()},
	})
	if err != nil {
		return fmt.Errorf("%s: delete address %s dev %s: %w", n.name, p, name, err)
	}
	return nil
}

// addDefaultRoute adds `default via gw dev name` to the main table.
func (n *netns) addDefaultRoute(gw netip.Addr, name string) error {
	idx, err := n.index(name)
	if err != nil {
		return err
	}
	family := uint8(unix.AF_INET)
	if gw.Is6() {
		family = unix.AF_INET6
	}
	err = n.rt.Route.Add(&rtnetlink.RouteMessage{
		Family:   family,
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT,
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
		Attributes: rtnetlink.RouteAttributes{
			Gateway:  gw.AsSlice(),
			OutIface: idx,
		},
	})
	if err != nil {
		return fmt.Errorf("%s: add route default via %s dev %s: %w", n.name, gw, name, err)
	}
	return nil
}

// linkStats returns the 64-bit counters of link name.
func (n *netns) linkStats(name string) (rtnetlink.LinkStats64, error) {
	l, err := n.link(name)
	if err != nil {
		return rtnetlink.LinkStats64{}, err
	}
	if l.Attributes.Stats64 == nil {
		return rtnetlink.LinkStats64{}, fmt.Errorf("%s: %s: kernel sent no IFLA_STATS64", n.name, name)
	}
	return *l.Attributes.Stats64, nil
}
