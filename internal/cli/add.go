package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/spf13/cobra"
)

// keyword is one word of the add grammar.
type keyword struct {
	name string
	// value describes the value for "needs a value" errors; "" means the
	// keyword takes no value.
	value string
	// need describes a required keyword that is missing, when that says
	// more than value; which keywords are required is the library's
	// (amtlink.Spec.Missing).
	need string
	// onlyFor names the mode that requires the keyword, if only one does.
	onlyFor string
	// set stores v into s. It only maps; values are parsed by pkg/ifla.
	set func(s *amtlink.Spec, v string) error
}

const (
	valueAddr = "an IPv4 address such as 192.0.2.1"
	valuePort = "a UDP port from 1 to 65535, such as 2268"
)

// valueMTU describes an MTU, with the library's bounds.
var valueMTU = fmt.Sprintf("a number from %d to %d", amtlink.MinMTU, amtlink.MaxMTU)

// addKeywords is the add grammar, in the order help and errors list it:
// iproute2's amt words, then the generic link words amtctl also accepts.
var addKeywords = []keyword{
	{name: "mode", value: "gateway or relay", set: func(s *amtlink.Spec, v string) error {
		m, err := ifla.ParseMode(v)
		s.AMT.Mode = &m
		return err
	}},
	{name: "local", value: valueAddr, need: "this host's IPv4 address the tunnel uses, such as 192.0.2.1", set: func(s *amtlink.Spec, v string) (err error) {
		s.AMT.Local, err = ifla.ParseAddr("local", v)
		return err
	}},
	{name: "discovery", value: valueAddr, need: "the relay's IPv4 address, such as 192.0.2.1", onlyFor: "gateway", set: func(s *amtlink.Spec, v string) (err error) {
		s.AMT.Discovery, err = ifla.ParseAddr("discovery", v)
		return err
	}},
	{name: "dev", value: "the device the tunnel runs over, such as eth0", set: func(s *amtlink.Spec, v string) error {
		s.Dev = v
		return amtlink.CheckName("dev", v)
	}},
	{name: "relay_port", value: valuePort, set: func(s *amtlink.Spec, v string) error {
		p, err := ifla.ParsePort("relay_port", v)
		s.AMT.RelayPort = &p
		return err
	}},
	{name: "gateway_port", value: valuePort, set: func(s *amtlink.Spec, v string) error {
		p, err := ifla.ParsePort("gateway_port", v)
		s.AMT.GatewayPort = &p
		return err
	}},
	{name: "max_tunnels", value: "a number such as 128", set: func(s *amtlink.Spec, v string) error {
		n, err := ifla.ParseMaxTunnels(v)
		s.AMT.MaxTunnels = &n
		return err
	}},
	{name: "master", value: "a bridge or VRF device name such as br0", set: func(s *amtlink.Spec, v string) error {
		s.Master = v
		return amtlink.CheckName("master", v)
	}},
	{name: "mtu", value: valueMTU + ", such as 1500", set: func(s *amtlink.Spec, v string) (err error) {
		s.MTU, err = amtlink.ParseMTU(v)
		return err
	}},
	{name: "up", set: func(s *amtlink.Spec, _ string) error {
		s.Up = true
		return nil
	}},
	{name: "type", value: "amt", set: func(_ *amtlink.Spec, v string) error {
		if v != "amt" {
			return &ifla.FieldError{Field: "type", Value: v, Reason: "amtctl only makes amt links", Fix: `use "type amt" or leave "type" out`}
		}
		return nil
	}},
}

func lookupKeyword(w string) *keyword {
	for i := range addKeywords {
		if addKeywords[i].name == w {
			return &addKeywords[i]
		}
	}
	return nil
}

func keywordNames() string {
	names := make([]string, 0, len(addKeywords))
	for _, k := range addKeywords {
		names = append(names, k.name)
	}
	return strings.Join(names, ", ")
}

const addUsage = "amtctl add NAME mode gateway|relay local ADDR dev IF [discovery ADDR] [gateway_port N] [relay_port N] [max_tunnels N] [master BR] [mtu N] [up]"

// errHelpKeyword is returned by parseAdd for "help": the command prints its
// help and succeeds, like "ip link add type amt help" prints usage.
var errHelpKeyword = errors.New("help requested")

// parseAdd turns "NAME keyword value ..." into a Spec and checks it
// completely, so that nothing reaches the kernel unless every value is
// acceptable.
func parseAdd(args []string) (amtlink.Spec, error) {
	var s amtlink.Spec
	if len(args) == 0 {
		return s, usagef("add needs a link name; usage: %s", addUsage)
	}
	if args[0] == "name" && len(args) > 1 {
		// "ip link add name NAME type amt ..." pasted as is.
		args = args[1:]
	}
	s.Name = args[0]
	if isHelp(s.Name) {
		return s, errHelpKeyword
	}
	if err := checkLinkName(s.Name); err != nil {
		return s, err
	}
	seen := map[string]string{}
	for i := 1; i < len(args); i++ {
		w := args[i]
		if isHelp(w) {
			return s, errHelpKeyword
		}
		if w == "remote" {
			return s, usagef(`"remote" is read-only: a gateway learns its relay through discovery; use "discovery ADDR" instead`)
		}
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			return s, usagef("flag %q must come before the link name; write: amtctl %s ... add NAME ...", w, strings.SplitN(w, "=", 2)[0])
		}
		k := lookupKeyword(w)
		if k == nil {
			return s, usagef("unknown keyword %q for add; expected one of: %s", w, keywordNames())
		}
		v := ""
		if k.value != "" {
			if i+1 >= len(args) {
				return s, usagef("%q needs a value: %s", w, k.value)
			}
			i++
			v = args[i]
		}
		if prev, dup := seen[w]; dup {
			if k.value == "" {
				return s, usagef("%q given twice; give it once", w)
			}
			return s, usagef("%q given twice (%q and %q); give it once", w, prev, v)
		}
		seen[w] = v
		if err := k.set(&s, v); err != nil {
			return s, err
		}
	}
	return s, checkSpec(s)
}

// checkSpec reports the first required keyword that is missing
// (amtlink.Spec.Missing), then lets amtlink validate the rest as Create
// will.
func checkSpec(s amtlink.Spec) error {
	if m := s.Missing(); len(m) > 0 {
		need, onlyFor := needOf(m[0])
		if onlyFor != "" {
			return usagef("%s mode needs %q: %s", onlyFor, m[0], need)
		}
		return usagef("add needs %q: %s; usage: %s", m[0], need, addUsage)
	}
	return s.Validate()
}

// needOf describes the required keyword key for the messages that say it
// is missing, and names the only mode that requires it, if any.
func needOf(key string) (need, onlyFor string) {
	k := lookupKeyword(key)
	if k == nil {
		return fileValueHelp(key), ""
	}
	if k.need != "" {
		return k.need, k.onlyFor
	}
	return k.value, k.onlyFor
}

func isHelp(w string) bool { return w == "help" || w == "-h" || w == "--help" }

// checkLinkName applies the kernel's dev_valid_name rules, and refuses a
// keyword in place of the name.
func checkLinkName(name string) error {
	if err := amtlink.CheckName("name", name); err != nil {
		return err
	}
	if lookupKeyword(name) != nil || name == "remote" {
		return &ifla.FieldError{Field: "name", Value: name, Reason: "is an add keyword, so the link name is missing", Fix: "give the name first: " + addUsage}
	}
	return nil
}

func newAddCommand(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "add NAME mode gateway|relay local ADDR dev IF [discovery ADDR] [gateway_port N] [relay_port N] [max_tunnels N] [master BR] [mtu N] [up]",
		Short: "Create an AMT link (iproute2 keywords)",
		Long: `Create an AMT link. The keywords are iproute2's ("ip link add NAME type amt ..."):

  mode gateway|relay   required; a gateway discovers a relay and receives multicast through it
  local ADDR           required; this host's IPv4 unicast address for the tunnel
  dev IF               required; the device the tunnel runs over
  discovery ADDR       gateway mode: the relay's (anycast) discovery address
  gateway_port N       UDP port of the gateway side (default 2268)
  relay_port N         UDP port of the relay side (default 2268)
  max_tunnels N        relay mode: most gateways served at once (default 128)
  master BR            enslave the new link to bridge or VRF BR
  mtu N                MTU of the new link
  up                   bring the link up once created
  type amt             accepted and ignored, as is "name" before NAME, so
                       "ip link add name NAME type amt ..." lines paste unchanged

Every value is checked before anything is sent; a mistake is reported on one
line and nothing is created. "remote" is read-only (see "amtctl show").
Flags such as -n must come before NAME.`,
		Example: `  amtctl add amtr mode relay local 10.0.0.1 dev eth0 up
  amtctl add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up
  amtctl -n gw add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev veth-g gateway_port 2269`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: o.completeAdd,
		RunE: func(c *cobra.Command, args []string) error {
			s, err := parseAdd(args)
			if errors.Is(err, errHelpKeyword) {
				return c.Help()
			}
			if err != nil {
				return err
			}
			return o.runAdd(c, s)
		},
	}
	// Everything after NAME is a keyword or value, never a flag: a value
	// such as "-1" must reach the port parser, not pflag.
	c.Flags().SetInterspersed(false)
	return c
}

func (o *options) runAdd(c *cobra.Command, s amtlink.Spec) error {
	b, err := o.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	// Read the devices before the link exists; warn only once it does,
	// so that a failure stays the one line it should be.
	ws := warnings(b, s)
	var l *amtlink.Link
	if o.json {
		l, err = b.Create(s)
	} else {
		err = b.Add(s) // nothing to print: no need to read the link back
	}
	if err != nil {
		return failure{op: "add", name: s.Name, netns: o.netns, spec: &s}.error(err)
	}
	for _, w := range ws {
		fmt.Fprintln(c.ErrOrStderr(), "amtctl: warning: "+w)
	}
	if l != nil {
		return o.printJSON(c, []amtlink.Link{*l})
	}
	return nil
}

// warnings are advisory: the lower device is down, or local is not one of
// its addresses. A backend that cannot say gives none.
func warnings(b Backend, s amtlink.Spec) []string {
	if s.Dev == "" {
		return nil
	}
	dev, err := b.Interface(s.Dev)
	if err != nil || dev == nil {
		return nil // Create reports a missing device as an error
	}
	var ws []string
	if !dev.Up {
		ws = append(ws, fmt.Sprintf("dev %s is down; bring it up: ip link set %s up", s.Dev, s.Dev))
	}
	if s.AMT.Local.IsValid() && !hasAddr(dev.Addrs, s.AMT.Local) {
		ws = append(ws, fmt.Sprintf("local %s is not an address of dev %s; the tunnel will not pass traffic until it is (ip addr add %s/24 dev %s)", s.AMT.Local, s.Dev, s.AMT.Local, s.Dev))
	}
	return ws
}

func hasAddr(addrs []netip.Addr, a netip.Addr) bool {
	for _, x := range addrs {
		if x == a {
			return true
		}
	}
	return false
}
