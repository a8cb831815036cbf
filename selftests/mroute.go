//go:build linux

package selftests

import (
	"fmt"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Multicast routing the way smcroute does it: one raw socket per family
// becomes the namespace's multicast router (MRT_INIT / MRT6_INIT), virtual
// interfaces are registered on it, and (S,G) forwarding entries are added.
// Closing the socket undoes all of it (net/ipv4/ipmr.c mrtsock_destruct,
// net/ipv6/ip6mr.c mroute_clean_tables), so the socket is held until the test
// ends. golang.org/x/sys/unix has neither the option numbers nor the structs;
// they are defined here from the uapi headers.

// include/uapi/linux/mroute.h
const (
	mrtBase   = 200
	mrtInit   = mrtBase     // MRT_INIT: activate the kernel mroute code
	mrtAddVIF = mrtBase + 2 // MRT_ADD_VIF
	mrtAddMFC = mrtBase + 4 // MRT_ADD_MFC

	maxVIFs        = 32  // MAXVIFS
	viffUseIfindex = 0x8 // VIFF_USE_IFINDEX: vifc_lcl_ifindex instead of an address
)

// include/uapi/linux/mroute6.h
const (
	mrt6Base   = 200
	mrt6Init   = mrt6Base     // MRT6_INIT
	mrt6AddMIF = mrt6Base + 2 // MRT6_ADD_MIF
	mrt6AddMFC = mrt6Base + 4 // MRT6_ADD_MFC

	ifSetSize = 256 // IF_SETSIZE
	nIFBits   = 32  // NIFBITS: bits in one if_mask (__u32)
)

// vifctl is struct vifctl from include/uapi/linux/mroute.h:
//
//	struct vifctl {
//		vifi_t vifc_vifi;               /* unsigned short */
//		unsigned char vifc_flags;
//		unsigned char vifc_threshold;
//		unsigned int vifc_rate_limit;
//		union { struct in_addr vifc_lcl_addr; int vifc_lcl_ifindex; };
//		struct in_addr vifc_rmt_addr;
//	};
type vifctl struct {
	Vifi       uint16
	Flags      uint8
	Threshold  uint8
	RateLimit  uint32
	LclIfindex int32 // the union, used as vifc_lcl_ifindex with VIFF_USE_IFINDEX
	RmtAddr    [4]byte
}

// mfcctl is struct mfcctl from include/uapi/linux/mroute.h:
//
//	struct mfcctl {
//		struct in_addr mfcc_origin;
//		struct in_addr mfcc_mcastgrp;
//		vifi_t mfcc_parent;
//		unsigned char mfcc_ttls[MAXVIFS];
//		unsigned int mfcc_pkt_cnt, mfcc_byte_cnt, mfcc_wrong_if;
//		int mfcc_expire;
//	};
//
// The kernel insists on optlen == sizeof(struct mfcctl) == 60.
type mfcctl struct {
	Origin   [4]byte
	Mcastgrp [4]byte
	Parent   uint16
	TTLs     [maxVIFs]uint8
	_        [2]byte // padding before mfcc_pkt_cnt
	PktCnt   uint32
	ByteCnt  uint32
	WrongIf  uint32
	Expire   int32
}

// mif6ctl is struct mif6ctl from include/uapi/linux/mroute6.h:
//
//	struct mif6ctl {
//		mifi_t mif6c_mifi;              /* unsigned short */
//		unsigned char mif6c_flags;
//		unsigned char vifc_threshold;
//		__u16 mif6c_pifi;               /* ifindex of the physical interface */
//		unsigned int vifc_rate_limit;
//	};
type mif6ctl struct {
	Mifi      uint16
	Flags     uint8
	Threshold uint8
	Pifi      uint16
	_         [2]byte // padding before vifc_rate_limit
	RateLimit uint32
}

// mf6cctl is struct mf6cctl from include/uapi/linux/mroute6.h:
//
//	struct mf6cctl {
//		struct sockaddr_in6 mf6cc_origin;
//		struct sockaddr_in6 mf6cc_mcastgrp;
//		mifi_t mf6cc_parent;
//		struct if_set mf6cc_ifset;      /* __u32 ifs_bits[IF_SETSIZE/NIFBITS] */
//	};
type mf6cctl struct {
	Origin   unix.RawSockaddrInet6
	Mcastgrp unix.RawSockaddrInet6
	Parent   uint16
	_        [2]byte // padding before mf6cc_ifset
	IfSet    [ifSetSize / nIFBits]uint32
}

// The layouts above must match the kernel's byte for byte (amd64/arm64/386
// alike: no field is wider than 4 bytes).
var (
	_ [16]byte = [unsafe.Sizeof(vifctl{})]byte{}
	_ [60]byte = [unsafe.Sizeof(mfcctl{})]byte{}
	_ [12]byte = [unsafe.Sizeof(mif6ctl{})]byte{}
	_ [92]byte = [unsafe.Sizeof(mf6cctl{})]byte{}
)

// setsockoptStruct passes the bytes of *v as the option value.
func setsockoptStruct[T any](fd, level, opt int, v *T) error {
	b := unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
	return unix.SetsockoptString(fd, level, opt, string(b))
}

// mrouter is a namespace's multicast router for one address family.
type mrouter struct {
	ns    *netns
	v6    bool
	fd    int
	mu    sync.Mutex
	vifs  map[string]uint16 // device name -> vif/mif index
	close sync.Once
}

// newMrouter makes ns a multicast router for IPv4 (v6 false) or IPv6: it
// opens the raw IGMP (or ICMPv6) socket inside ns and issues MRT_INIT
// (MRT6_INIT). Close it to drop every route it installed.
func newMrouter(ns *netns, v6 bool) (*mrouter, error) {
	m := &mrouter{ns: ns, v6: v6, fd: -1, vifs: map[string]uint16{}}
	err := ns.Do(func() error {
		var err error
		if v6 {
			m.fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
		} else {
			m.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IGMP)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: raw socket for multicast routing: %w", ns.name, err)
	}
	if v6 {
		err = unix.SetsockoptInt(m.fd, unix.IPPROTO_IPV6, mrt6Init, 1)
	} else {
		err = unix.SetsockoptInt(m.fd, unix.IPPROTO_IP, mrtInit, 1)
	}
	if err != nil {
		unix.Close(m.fd)
		return nil, fmt.Errorf("%s: %s: %w (kernel without CONFIG_IP_MROUTE/CONFIG_IPV6_MROUTE, or another router already runs here)", ns.name, m.initName(), err)
	}
	onSignal(m)
	return m, nil
}

func (m *mrouter) initName() string {
	if m.v6 {
		return "MRT6_INIT"
	}
	return "MRT_INIT"
}

// Close closes the router socket; the kernel flushes its VIFs and routes.
func (m *mrouter) Close() error {
	var err error
	m.close.Do(func() { err = unix.Close(m.fd) })
	return err
}

// vif returns the VIF (MIF) index of device name, registering it first if
// needed.
func (m *mrouter) vif(name string) (uint16, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.vifs[name]; ok {
		return v, nil
	}
	idx, err := m.ns.index(name)
	if err != nil {
		return 0, err
	}
	v := uint16(len(m.vifs))
	if v >= maxVIFs {
		return 0, fmt.Errorf("%s: more than %d multicast interfaces", m.ns.name, maxVIFs)
	}
	if m.v6 {
		c := mif6ctl{Mifi: v, Threshold: 1, Pifi: uint16(idx)}
		err = setsockoptStruct(m.fd, unix.IPPROTO_IPV6, mrt6AddMIF, &c)
	} else {
		c := vifctl{Vifi: v, Flags: viffUseIfindex, Threshold: 1, LclIfindex: int32(idx)}
		err = setsockoptStruct(m.fd, unix.IPPROTO_IP, mrtAddVIF, &c)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: add multicast interface %d for %s: %w", m.ns.name, v, name, err)
	}
	m.vifs[name] = v
	return v, nil
}

// route installs the (source, group) entry: packets from source to group that
// arrive on iif leave through every oif. Packets need a TTL (hop limit) of at
// least 2: the kernel forwards only when it exceeds the interface threshold,
// 1, and decrements it on the way out.
func (m *mrouter) route(source, group netip.Addr, iif string, oifs ...string) error {
	if source.Is6() != m.v6 || group.Is6() != m.v6 {
		return fmt.Errorf("%s: multicast route (%s, %s) does not match the router's family", m.ns.name, source, group)
	}
	in, err := m.vif(iif)
	if err != nil {
		return err
	}
	outs := make([]uint16, 0, len(oifs))
	for _, o := range oifs {
		v, err := m.vif(o)
		if err != nil {
			return err
		}
		outs = append(outs, v)
	}
	if m.v6 {
		c := mf6cctl{Parent: in}
		c.Origin.Family = unix.AF_INET6
		c.Origin.Addr = source.As16()
		c.Mcastgrp.Family = unix.AF_INET6
		c.Mcastgrp.Addr = group.As16()
		for _, o := range outs {
			c.IfSet[o/nIFBits] |= 1 << (o % nIFBits)
		}
		err = setsockoptStruct(m.fd, unix.IPPROTO_IPV6, mrt6AddMFC, &c)
	} else {
		c := mfcctl{Origin: source.As4(), Mcastgrp: group.As4(), Parent: in}
		for _, o := range outs {
			c.TTLs[o] = 1 // forward when TTL > 1
		}
		err = setsockoptStruct(m.fd, unix.IPPROTO_IP, mrtAddMFC, &c)
	}
	if err != nil {
		return fmt.Errorf("%s: add multicast route (%s, %s) iif %s oifs %v: %w", m.ns.name, source, group, iif, oifs, err)
	}
	return nil
}
