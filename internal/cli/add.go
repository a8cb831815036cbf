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

// errHelpKeyword is returned by parseAdd for "help": the command prints its
// help and succeeds, like "ip link add type amt help" prints usage.
var errHelpKeyword = errors.New("help requested")

// parseAdd turns "NAME keyword value ..." into a Spec and checks it
// completely, so that nothing reaches the kernel unless every value is
// acceptable.
func parseAdd(args []string) (amtlink.Spec, error) {
	var s amtlink.Spec
	if len(args) == 0 {
		return s, usagef("add needs a link name; usage: %s", addUsage())
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
		if w == readOnlyWord {
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
		if k.arg != "" {
			if i+1 >= len(args) {
				return s, usagef("%q needs a value: %s", w, k.value)
			}
			i++
			v = args[i]
		}
		if prev, dup := seen[w]; dup {
			if k.arg == "" {
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
	c := s
	if needsLookup(&c) {
		c.AMT.Discovery = standInRelay // DNS gives it when the link is made
	}
	if m := c.Missing(); len(m) > 0 {
		need, onlyFor := needOf(m[0])
		if onlyFor != "" {
			return usagef("%s mode needs %q: %s", onlyFor, m[0], need)
		}
		return usagef("add needs %q: %s; usage: %s", m[0], need, addUsage())
	}
	return validateSpec(s)
}

func isHelp(w string) bool { return w == "help" || w == "-h" || w == "--help" }

// checkLinkName applies the kernel's dev_valid_name rules, and refuses a
// keyword in place of the name.
func checkLinkName(name string) error {
	if err := amtlink.CheckName("name", name); err != nil {
		return err
	}
	if lookupKeyword(name) != nil || name == readOnlyWord {
		return &ifla.FieldError{Field: "name", Value: name, Reason: "is an add keyword, so the link name is missing", Fix: "give the name first: " + addUsage()}
	}
	return nil
}

func newAddCommand(o *options) *cobra.Command {
	c := &cobra.Command{
		// Use and Long come from the grammar, and only help, usage and
		// man pages need them: describeAdd writes them when asked for
		// (see describe), so other commands do not pay for them.
		Use:         "add",
		Short:       "Create an AMT link (iproute2 keywords)",
		Annotations: map[string]string{describedLater: "add"},
		Example: `  amtctl add amtr mode relay local 10.0.0.1 dev eth0 up
  amtctl add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up
  amtctl -n gw add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev veth-g gateway_port 2269
  amtctl add amtg mode gateway local 10.0.0.2 discovery driad:198.51.100.12 dev eth0 up
  amtctl -n gw add --dns 10.0.0.53 amtg mode gateway local 10.0.0.2 discovery anycast dev veth-g`,
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
			if err := checkDNSFlag(o.dns); err != nil {
				return err
			}
			return o.runAdd(c, s)
		},
	}
	c.Flags().StringVar(&o.dns, "dns", "", "for discovery driad:SOURCE: ask this name server, ADDR or ADDR:PORT, instead of those of resolv.conf")
	// Everything after NAME is a keyword or value, never a flag: a value
	// such as "-1" must reach the port parser, not pflag.
	c.Flags().SetInterspersed(false)
	return c
}

// runAdd creates s, first looking up its discovery address when a
// driad: name gives it (with the server --dns, when given).
func (o *options) runAdd(c *cobra.Command, s amtlink.Spec) error {
	b, err := o.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	if needsLookup(&s) {
		if _, err := lookupDiscovery(o.relay, &s, "add "+s.Name, o.netns, o.dns); err != nil {
			return err
		}
	}
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
		return addFailed(s, o.netns, err)
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

// addFailed words a failed add; a function of its own so that only a
// failure moves the Spec to the heap, not every add of a batch.
func addFailed(s amtlink.Spec, netns string, err error) error {
	return failure{op: "add", name: s.Name, netns: netns, spec: &s}.error(err)
}

// describeAdd writes add's usage line and long help from the grammar.
func describeAdd(c *cobra.Command) {
	c.Use = strings.TrimPrefix(addUsage(), "amtctl ")
	c.Long = `Create an AMT link. The keywords are iproute2's ("ip link add NAME type amt ..."):

` + addKeywordHelp() + `

Every value is checked before anything is sent; a mistake is reported on one
line and nothing is created. "remote" is read-only (see "amtctl show").
Flags such as -n and --dns must come before NAME.

"discovery driad:SOURCE" asks DNS for SOURCE's AMTRELAY records as "amtctl
relay lookup" does, from inside the -n namespace with the resolv.conf
"ip netns exec" would give it there (/etc/netns/NETNS/resolv.conf when it
exists, else /etc/resolv.conf; --dns ADDR[:PORT] asks that server), and
makes the gateway with the relay found. A failed lookup is one line (what
was asked, of whom, what came back), exit status 1, and nothing is created.
The link's interface alias records where the address came from,
"amtctl:driad=SOURCE" or "amtctl:anycast", for show and apply.`
}
