package cli

import (
	"fmt"
	"net/netip"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// LinkView is one AMT link as amtctl shows it. Its JSON encoding is the
// object "ip -d -s -j link show" prints for the link, restricted to the keys
// amtctl knows: same names, same value types, and the same rule that an
// attribute the kernel did not report is left out. The table of "amtctl
// show" is rendered from the same value.
type LinkView struct {
	IfIndex   uint32   `json:"ifindex"`
	IfName    string   `json:"ifname"`
	Flags     []string `json:"flags"`
	MTU       uint32   `json:"mtu"`
	Master    string   `json:"master,omitempty"`
	OperState string   `json:"operstate,omitempty"`
	// OperStateIndex replaces OperState for a state iproute2 has no name
	// for, as iproute2 does.
	OperStateIndex *uint8       `json:"operstate_index,omitempty"`
	LinkInfo       LinkInfoView `json:"linkinfo"`
	// IfAlias is the interface alias, as iproute2 prints it.
	IfAlias string       `json:"ifalias,omitempty"`
	Stats64 *Stats64View `json:"stats64,omitempty"`
	// Amtctl is what amtctl knows of the link beyond iproute2's keys;
	// absent when it knows nothing more.
	Amtctl *AmtctlView `json:"amtctl,omitempty"`
}

// AmtctlView is the "amtctl" object of a link: amtctl's own keys, apart
// from iproute2's.
type AmtctlView struct {
	// DiscoveryFrom says where a gateway's discovery address came from
	// when amtctl made the link from a name, as add's discovery keyword
	// writes it: "driad:SOURCE" (RFC 8777 DNS) or "anycast" (RFC 7450).
	// It is read from the link's alias (amtctl:driad=SOURCE,
	// amtctl:anycast).
	DiscoveryFrom string `json:"discovery_from,omitempty"`
}

// LinkInfoView is "linkinfo": the kind and its data.
type LinkInfoView struct {
	InfoKind string       `json:"info_kind"`
	InfoData InfoDataView `json:"info_data"`
}

// InfoDataView is "linkinfo.info_data" of an amt link, with the keys, order
// and value types of iproute2's amt_print_opt (ip/iplink_amt.c): mode,
// addresses and the lower device are strings, ports and max_tunnels are
// numbers, and each key is present only when the kernel reported the
// attribute. The kernel (amt_fill_info) reports "remote" only once it is
// non-zero, i.e. once a gateway has discovered its relay.
type InfoDataView struct {
	Mode        string  `json:"mode,omitempty"`
	GatewayPort *uint16 `json:"gateway_port,omitempty"`
	RelayPort   *uint16 `json:"relay_port,omitempty"`
	Local       string  `json:"local,omitempty"`
	Remote      string  `json:"remote,omitempty"`
	Discovery   string  `json:"discovery,omitempty"`
	Link        string  `json:"link,omitempty"`
	MaxTunnels  *uint32 `json:"max_tunnels,omitempty"`
}

// Stats64View is "stats64" as "ip -s -j" prints it (one -s).
type Stats64View struct {
	RX RXStatsView `json:"rx"`
	TX TXStatsView `json:"tx"`
}

// RXStatsView is "stats64.rx".
type RXStatsView struct {
	Bytes      uint64 `json:"bytes"`
	Packets    uint64 `json:"packets"`
	Errors     uint64 `json:"errors"`
	Dropped    uint64 `json:"dropped"`
	OverErrors uint64 `json:"over_errors"`
	Multicast  uint64 `json:"multicast"`
	Compressed uint64 `json:"compressed,omitempty"`
}

// TXStatsView is "stats64.tx".
type TXStatsView struct {
	Bytes         uint64 `json:"bytes"`
	Packets       uint64 `json:"packets"`
	Errors        uint64 `json:"errors"`
	Dropped       uint64 `json:"dropped"`
	CarrierErrors uint64 `json:"carrier_errors"`
	Collisions    uint64 `json:"collisions"`
	Compressed    uint64 `json:"compressed,omitempty"`
}

// operStates are iproute2's names (ip/ipaddress.c oper_states), indexed by
// IF_OPER_*.
var operStates = []string{"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"}

// linkFlags are the IFF_* names in the order iproute2's print_link_flags
// prints them.
var linkFlags = []struct {
	bit  uint32
	name string
}{
	{iffLoopback, "LOOPBACK"},
	{iffBroadcast, "BROADCAST"},
	{iffPointopoint, "POINTOPOINT"},
	{iffMulticast, "MULTICAST"},
	{iffNoarp, "NOARP"},
	{iffAllmulti, "ALLMULTI"},
	{iffPromisc, "PROMISC"},
	{iffMaster, "MASTER"},
	{iffSlave, "SLAVE"},
	{iffDebug, "DEBUG"},
	{iffDynamic, "DYNAMIC"},
	{iffAutomedia, "AUTOMEDIA"},
	{iffPortsel, "PORTSEL"},
	{iffNotrailers, "NOTRAILERS"},
	{iffUp, "UP"},
	{iffLowerUp, "LOWER_UP"},
	{iffDormant, "DORMANT"},
	{iffEcho, "ECHO"},
}

// flagNames renders IFF_* flags as iproute2 does: NO-CARRIER first when the
// link is up without IFF_RUNNING, RUNNING itself never, and any bits left
// over as one lower-case hex string.
func flagNames(flags uint32) []string {
	out := []string{}
	if flags&iffUp != 0 && flags&iffRunning == 0 {
		out = append(out, "NO-CARRIER")
	}
	flags &^= iffRunning
	for _, f := range linkFlags {
		if flags&f.bit != 0 {
			flags &^= f.bit
			out = append(out, f.name)
		}
	}
	if flags != 0 {
		out = append(out, fmt.Sprintf("%x", flags))
	}
	return out
}

// addrString prints a reported address; unreported stays "".
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// NewLinkView builds the view of l.
func NewLinkView(l amtlink.Link) LinkView {
	v := LinkView{
		IfIndex: l.Index,
		IfName:  l.Name,
		Flags:   flagNames(l.Flags),
		MTU:     l.MTU,
		Master:  l.Master,
	}
	if int(l.OperState) < len(operStates) {
		v.OperState = operStates[l.OperState]
	} else {
		s := uint8(l.OperState)
		v.OperStateIndex = &s
	}
	a := l.AMT
	d := InfoDataView{
		GatewayPort: a.GatewayPort,
		RelayPort:   a.RelayPort,
		Local:       addrString(a.Local),
		Remote:      addrString(a.Remote),
		Discovery:   addrString(a.Discovery),
		MaxTunnels:  a.MaxTunnels,
	}
	if a.Mode != nil {
		d.Mode = a.Mode.String()
	}
	if a.Link != nil {
		// iproute2 prints ll_index_to_name(link), which falls back to
		// "if%u" when the index has no name here.
		d.Link = l.LowerName
		if d.Link == "" {
			d.Link = fmt.Sprintf("if%d", *a.Link)
		}
	}
	v.LinkInfo = LinkInfoView{InfoKind: "amt", InfoData: d}
	v.IfAlias = l.Alias
	if from := originNote(&l); from != "" {
		v.Amtctl = &AmtctlView{DiscoveryFrom: from}
	}
	if s := l.Stats; s != nil {
		v.Stats64 = &Stats64View{
			RX: RXStatsView{
				Bytes: s.RXBytes, Packets: s.RXPackets, Errors: s.RXErrors, Dropped: s.RXDropped,
				OverErrors: s.RXOverErrors, Multicast: s.Multicast, Compressed: s.RXCompressed,
			},
			TX: TXStatsView{
				Bytes: s.TXBytes, Packets: s.TXPackets, Errors: s.TXErrors, Dropped: s.TXDropped,
				CarrierErrors: s.TXCarrierErrors, Collisions: s.Collisions, Compressed: s.TXCompressed,
			},
		}
	}
	return v
}

// row is the table row of v: NAME, MODE, STATE, DEV, LOCAL, DISCOVERY,
// REMOTE, PORTS (gateway/relay), MAX_TUNNELS, RX/TX (packets).
func (v LinkView) row() []string {
	d := v.LinkInfo.InfoData
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	state := v.OperState
	if state == "" && v.OperStateIndex != nil {
		state = fmt.Sprintf("state %#x", *v.OperStateIndex)
	}
	discovery, remote := dash(d.Discovery), dash(d.Remote)
	if v.Amtctl != nil && v.Amtctl.DiscoveryFrom != "" {
		discovery += " (" + v.Amtctl.DiscoveryFrom + ")"
	}
	switch d.Mode {
	case ifla.ModeGateway.String():
		if d.Remote == "" || d.Remote == "0.0.0.0" {
			remote = "discovering"
		}
	case ifla.ModeRelay.String():
		// A relay has no discovery address or remote; the kernel reports
		// discovery as 0.0.0.0.
		discovery, remote = "-", "-"
	}
	port := func(p *uint16) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	maxTunnels := "-"
	if d.MaxTunnels != nil {
		maxTunnels = fmt.Sprint(*d.MaxTunnels)
	}
	rxtx := "-"
	if v.Stats64 != nil {
		rxtx = fmt.Sprintf("%d/%d", v.Stats64.RX.Packets, v.Stats64.TX.Packets)
	}
	return []string{
		v.IfName, dash(d.Mode), dash(state), dash(d.Link), dash(d.Local), discovery, remote,
		port(d.GatewayPort) + "/" + port(d.RelayPort), maxTunnels, rxtx,
	}
}

// tableHeader names the columns of row.
var tableHeader = []string{"NAME", "MODE", "STATE", "DEV", "LOCAL", "DISCOVERY", "REMOTE", "PORTS", "MAX_TUNNELS", "RX/TX"}
