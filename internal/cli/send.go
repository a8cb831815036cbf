package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/amtctl/amtctl/pkg/mcprobe"
	"github.com/spf13/cobra"
)

const sendUsage = "amtctl [-n NS] send GROUP [port P] [--rate PPS] [--size B] [--ttl N] [--count N] [--from ADDR] [-j]"

const sendLong = `Send numbered UDP datagrams to a multicast group, for "amtctl probe" to
count: each carries a 28-byte header (magic "AMTp", version 1, a random
session drawn at start, a sequence number from 0, the send time; see
"go doc github.com/amtctl/amtctl/pkg/mcprobe"), padded with zeros to --size.
A probe tells two senders, or a restarted one, apart by the session.

Datagrams leave at --rate per second on a fixed schedule (those due
together in one system call, each stamped with its time), with TTL (hop
limit) --ttl: a multicast router such as an AMT relay forwards only what
has a TTL above 1. --from binds the source address (the S of a probe's
"source S") and sends out of the device that holds it; without it the
routing table chooses both. send stops after --count datagrams (0: at
Ctrl-C) and prints what it sent; with -j as one JSON object.

Exit status: 0 sent; 1 a send failed; 2 bad input.`

func newSendCommand(o *options) *cobra.Command {
	var rate float64
	var size, ttl int
	var count uint64
	var from string
	c := &cobra.Command{
		Use:   "send GROUP [port P] [--rate PPS] [--size B] [--ttl N] [--count N] [--from ADDR]",
		Short: "Send numbered multicast datagrams that probe counts",
		Long:  sendLong,
		Example: `  amtctl send 232.1.1.1 port 5001 --from 192.0.2.10 --rate 1000
  amtctl -n src send ff3e::8000:1 --count 10000 --size 1200 -j`,
		Args: cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 || len(args) == 2 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return filterPrefix([]string{"port"}, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			dst, err := parseSendArgs(args)
			if err != nil {
				return err
			}
			o2 := mcprobe.SendOptions{Rate: rate, Size: size, Count: count}
			switch {
			case rate < 0:
				return &ifla.FieldError{Field: "--rate", Value: strconv.FormatFloat(rate, 'g', -1, 64), Reason: "negative", Fix: "give datagrams per second such as 100, or 0 for as fast as possible"}
			case size < mcprobe.MinSize || size > mcprobe.MaxSize:
				return &ifla.FieldError{Field: "--size", Value: strconv.Itoa(size), Reason: "out of range", Fix: fmt.Sprintf("give a UDP payload size from %d (the header) to %d", mcprobe.MinSize, mcprobe.MaxSize)}
			case ttl < 1 || ttl > 255:
				return &ifla.FieldError{Field: "--ttl", Value: strconv.Itoa(ttl), Reason: "out of range", Fix: "give a TTL from 1 to 255 (a relay forwards only above 1)"}
			}
			var src netip.Addr
			if from != "" {
				a, err := netip.ParseAddr(from)
				if err != nil || a.Zone() != "" || a.IsMulticast() || a.IsUnspecified() {
					return &ifla.FieldError{Field: "--from", Value: from, Reason: "not a unicast IP address", Fix: "give an address of this host, such as 192.0.2.10"}
				}
				if src = a.Unmap(); src.Is4() != dst.Addr().Is4() {
					return &ifla.FieldError{Field: "--from", Value: from, Reason: "of another IP version than group " + dst.Addr().String(), Fix: "give an IPv4 source for an IPv4 group, IPv6 for IPv6"}
				}
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.runSend(ctx, c.OutOrStdout(), dst, src, ttl, o2)
		},
	}
	leaveFlags(c, func() {
		f := c.Flags()
		f.Float64Var(&rate, "rate", 10, "datagrams per second; 0 sends as fast as possible")
		f.IntVar(&size, "size", 64, "UDP payload octets of each datagram, 28 to 65507") // TestProbeSendHelpLiterals: mcprobe.MinSize, MaxSize
		f.IntVar(&ttl, "ttl", 8, "TTL / hop limit of the datagrams")
		f.Uint64Var(&count, "count", 0, "datagrams to send; 0 sends until Ctrl-C")
		f.StringVar(&from, "from", "", "source address to send from (an address of the namespace)")
	})
	return c
}

// parseSendArgs reads GROUP [port P].
func parseSendArgs(args []string) (netip.AddrPort, error) {
	if len(args) == 0 {
		return netip.AddrPort{}, usagef("send needs a group; usage: %s", sendUsage)
	}
	g, err := parseGroup(args[0])
	if err != nil {
		return netip.AddrPort{}, err
	}
	port := uint16(defaultProbePort)
	switch rest := args[1:]; {
	case len(rest) == 0:
	case rest[0] != "port":
		return netip.AddrPort{}, usagef("send: unknown keyword %q; usage: %s", rest[0], sendUsage)
	case len(rest) == 1:
		return netip.AddrPort{}, usagef("send: port needs a value (P); usage: %s", sendUsage)
	case len(rest) > 2:
		return netip.AddrPort{}, usagef("send: unexpected %s; usage: %s", quoteAll(rest[2:]), sendUsage)
	default:
		if port, err = parseProbePort(rest[1]); err != nil {
			return netip.AddrPort{}, err
		}
	}
	return netip.AddrPortFrom(g, port), nil
}

// sendView is send's JSON report.
type sendView struct {
	Group   string  `json:"group"`
	Port    uint16  `json:"port"`
	From    string  `json:"from"`
	Session string  `json:"session"`
	Sent    uint64  `json:"sent"`
	Bytes   uint64  `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"datagrams_per_s"`
}

func (o *options) runSend(ctx context.Context, w io.Writer, dst netip.AddrPort, src netip.Addr, ttl int, so mcprobe.SendOptions) error {
	cfg, closeNS, err := o.socketConfig()
	if err != nil {
		return err
	}
	defer closeNS()
	opt := mcprobe.SenderOptions{From: src, TTL: ttl}
	if src.IsValid() {
		b, err := o.backend()
		if err != nil {
			return err
		}
		ifs, err := b.Interfaces()
		b.Close()
		if err != nil {
			return runErrf("send: list devices: %v", err)
		}
		for _, it := range ifs {
			for _, a := range it.Addrs {
				if a == src {
					opt.Ifindex = it.Index
				}
			}
		}
		if opt.Ifindex == 0 {
			return runErrf("send: --from %s is not an address of any device in %s; see ip address show", src, nsWords(o.netns))
		}
	}
	s, err := mcprobe.NewSender(cfg, dst, opt)
	if err != nil {
		return runErrf("send %s: %v", dst, err)
	}
	defer s.Close()
	so.Session = mcprobe.NewSession()
	start := time.Now()
	n, err := mcprobe.Send(ctx, s, so)
	took := time.Since(start)
	if err != nil && ctx.Err() == nil { // ctx ending (Ctrl-C) is how an endless send stops
		return runErrf("send %s after %d datagrams: %v", dst, n, err)
	}
	v := sendView{Group: dst.Addr().String(), Port: dst.Port(), From: s.LocalAddr().String(), Session: fmt.Sprintf("%016x", so.Session),
		Sent: n, Bytes: n * uint64(so.Size), Seconds: took.Seconds()}
	if took > 0 {
		v.Rate = float64(n) / took.Seconds()
	}
	if o.json {
		return writeJSON(w, v, o.pretty)
	}
	_, err = fmt.Fprintf(w, "sent %d datagrams (%d bytes) to %s port %d from %s, session %s, in %v: %.0f datagrams/s\n",
		v.Sent, v.Bytes, v.Group, v.Port, v.From, v.Session, took.Round(time.Millisecond), v.Rate)
	return runErr(err)
}
