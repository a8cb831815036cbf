package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amtctl/amtctl/pkg/driad"
	"github.com/spf13/cobra"
)

// relayEnv is what the relay commands take from their surroundings; the
// zero value is production behaviour. Tests set it to fix the tie-breaking
// order and to point at their own resolv.conf.
type relayEnv struct {
	resolvConf string                           // "" means /etc/resolv.conf
	shuffle    func(n int, swap func(i, j int)) // nil means random
	timeout    time.Duration                    // per query; 0 means resolv.conf's
	attempts   int                              // 0 means resolv.conf's
	etc        string                           // "" means /etc: where resolv.conf and netns/NS/resolv.conf are
}

func newRelayCommand(env relayEnv) *cobra.Command {
	relay := &cobra.Command{
		Use:   "relay",
		Short: "Find AMT relays (RFC 8777 DNS AMTRELAY records)",
		Long: `Find the AMT relay for a multicast source the way RFC 8777 (DRIAD) says:
from the AMTRELAY records (DNS type 260) at the source's reverse name.`,
		Args: cobra.NoArgs,
	}
	relay.AddCommand(newRelayLookupCommand(env))
	return relay
}

const relayLookupLong = `Ask DNS for the AMTRELAY records of SOURCE, the address of a multicast
sender, at its reverse name (d.c.b.a.in-addr.arpa., or ip6.arpa. for IPv6),
and show every record in the order a gateway tries them: lower precedence
first, ties in random order (RFC 8777 §4.2.1). Relay names (type 3) are
resolved to their A records. The relay chosen is the first IPv4 one: IPv6
relays (type 2) are listed but never chosen, because the kernel's AMT tunnel
is IPv4. A type 0 record says no relay should be used for the source.

The table has one row per record: PRECEDENCE, D (1: the gateway may skip
relay discovery), TYPE (none, ipv4, ipv6, name), RELAY as in a zone file,
ADDRESS (the IPv4 address, or those of a name) and NOTE. The first line
names the query, any CNAMEs followed, the server that answered and the
answer's TTL (how long it may be kept); the last names the relay. With -j the
same is one JSON object.

The name servers are those of /etc/resolv.conf (its nameserver lines, port
53, and options timeout: and attempts:); --dns asks ADDR[:PORT] instead.
With -n NETNS the queries go out from inside that namespace, with the
resolv.conf "ip netns exec NETNS" would give (/etc/netns/NETNS/resolv.conf
when it exists). Queries go over UDP, and again over TCP when the answer is
truncated.

Exit status: 0 a relay was found; 1 the lookup failed (NXDOMAIN, no AMTRELAY
record, SERVFAIL, REFUSED, no answer, a malformed record, no IPv4 relay), on
one line naming what was asked and what came back; 2 bad input.`

func newRelayLookupCommand(env relayEnv) *cobra.Command {
	var dns string
	c := &cobra.Command{
		Use:   "lookup SOURCE [--dns ADDR[:PORT]]",
		Short: "Look up the AMT relay for a multicast source in DNS (AMTRELAY)",
		Long:  relayLookupLong,
		Example: `  amtctl relay lookup 198.51.100.12
  amtctl relay lookup 2001:db8::12 --dns 192.0.2.53 -j -p`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("relay lookup takes one source address, got %d (%s); usage: amtctl relay lookup SOURCE [--dns ADDR[:PORT]]", len(args), quoteAll(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runRelayLookup(c, env, args[0], dns)
		},
	}
	c.Flags().StringVar(&dns, "dns", "", "ask this name server, ADDR or ADDR:PORT ([ADDR]:PORT for IPv6), instead of those in /etc/resolv.conf")
	return c
}

func runRelayLookup(c *cobra.Command, env relayEnv, arg, dns string) error {
	source, err := netip.ParseAddr(arg)
	if err != nil || source.Zone() != "" {
		return usagef("relay lookup: source %q is not an IP address; give the multicast sender's address, such as 198.51.100.12 or 2001:db8::12", arg)
	}
	ns, _ := c.Flags().GetString("netns")
	r, done, err := newResolver(env, ns, dns)
	defer done()
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		return runErrf("relay lookup %s: %v", arg, err)
	}
	res, lerr := r.Lookup(context.Background(), source)
	if res != nil {
		jsonOut, _ := c.Flags().GetBool("json")
		pretty, _ := c.Flags().GetBool("pretty")
		var err error
		if jsonOut {
			err = writeJSON(c.OutOrStdout(), newRelayView(res), pretty)
		} else {
			err = printRelayTable(c.OutOrStdout(), res)
		}
		if err != nil {
			return err
		}
	}
	if lerr != nil {
		var de *driad.Error
		if errors.As(lerr, &de) {
			return runErrf("relay lookup %s: %v", arg, lerr)
		}
		return runErr(fmt.Errorf("relay lookup %s: %w", arg, lerr))
	}
	return nil
}

// relayView is the JSON of relay lookup.
type relayView struct {
	Source            string            `json:"source"`
	Query             string            `json:"query"`
	CNAMEs            []string          `json:"cnames,omitempty"`
	Server            string            `json:"server"`
	TTL               uint32            `json:"ttl"`
	Records           []relayRecordView `json:"records"`
	Relay             *string           `json:"relay"`
	DiscoveryOptional *bool             `json:"discovery_optional,omitempty"`
}

type relayRecordView struct {
	Precedence        uint8    `json:"precedence"`
	DiscoveryOptional bool     `json:"discovery_optional"`
	Type              uint8    `json:"type"`
	TypeName          string   `json:"type_name"`
	Relay             string   `json:"relay,omitempty"`
	RData             string   `json:"rdata"`
	Addresses         []string `json:"addresses,omitempty"`
	TTL               uint32   `json:"ttl"`
	Chosen            bool     `json:"chosen"`
	Note              string   `json:"note,omitempty"`
}

func newRelayView(res *driad.Result) relayView {
	v := relayView{Source: res.Source.String(), Query: res.Name, CNAMEs: res.CNAMEs, Server: res.Server.String(), TTL: res.TTL, Records: []relayRecordView{}}
	for i, c := range res.Candidates {
		rv := relayRecordView{Precedence: c.Precedence, DiscoveryOptional: c.DiscoveryOptional, Type: uint8(c.Type), TypeName: typeWord(c.Type.String()),
			RData: c.String(), TTL: c.TTL, Chosen: i == res.Chosen, Note: c.Note}
		if c.Name != "" {
			rv.Relay = c.Name
		} else if c.Addr.IsValid() {
			rv.Relay = c.Addr.String()
		}
		for _, a := range c.Addrs {
			rv.Addresses = append(rv.Addresses, a.String())
		}
		v.Records = append(v.Records, rv)
	}
	if res.Chosen >= 0 {
		s := res.Relay.String()
		d := res.Candidates[res.Chosen].DiscoveryOptional
		v.Relay, v.DiscoveryOptional = &s, &d
	}
	return v
}

func printRelayTable(w io.Writer, res *driad.Result) error {
	var buf bytes.Buffer
	q := "AMTRELAY " + res.Name
	if len(res.CNAMEs) > 0 {
		q += " (CNAME " + strings.Join(res.CNAMEs, " -> ") + ")"
	}
	fmt.Fprintf(&buf, "%s from %s, TTL %d\n", q, res.Server, res.TTL)
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	io.WriteString(tw, "PRECEDENCE\tD\tTYPE\tRELAY\tADDRESS\tNOTE\n")
	for i, c := range res.Candidates {
		d := "0"
		if c.DiscoveryOptional {
			d = "1"
		}
		relay := strings.SplitN(c.String(), " ", 4)[3]
		addrs := "-"
		if len(c.Addrs) > 0 {
			s := make([]string, len(c.Addrs))
			for j, a := range c.Addrs {
				s[j] = a.String()
			}
			addrs = strings.Join(s, ",")
		}
		note := c.Note
		if i == res.Chosen {
			note = "chosen"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.Precedence, d, typeWord(c.Type.String()), relay, addrs, note)
	}
	if err := tw.Flush(); err != nil {
		return runErr(fmt.Errorf("render table: %w", err))
	}
	if res.Chosen >= 0 {
		c := res.Candidates[res.Chosen]
		disc := "discovery required"
		if c.DiscoveryOptional {
			disc = "discovery optional"
		}
		fmt.Fprintf(&buf, "relay %s (%s, precedence %d), TTL %d\n", res.Relay, disc, c.Precedence, res.TTL)
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		out.WriteString(strings.TrimRight(line, " "))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return runErr(err)
}

// typeWord shortens "unknown relay type value (N)" for the table.
func typeWord(s string) string {
	if strings.HasPrefix(s, "unknown") {
		return "unknown"
	}
	return s
}
