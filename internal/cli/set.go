package cli

import (
	"errors"
	"strings"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/spf13/cobra"
)

const setUsage = "amtctl set NAME [up|down] [mtu N] [master BR|nomaster]"

// parseSet turns "NAME word [value] ..." into the link name and a Change,
// checked completely, so that nothing reaches the kernel unless every word
// is acceptable.
func parseSet(args []string) (string, amtlink.Change, error) {
	var ch amtlink.Change
	if len(args) == 0 {
		return "", ch, usagef("set needs a link name; usage: %s", setUsage)
	}
	if args[0] == "dev" && len(args) > 1 {
		// "ip link set dev NAME ..." pasted as is.
		args = args[1:]
	}
	name := args[0]
	if isHelp(name) {
		return "", ch, errHelpKeyword
	}
	if err := amtlink.CheckName("name", name); err != nil {
		return "", ch, err
	}
	if lookupSetWord(name) != nil || amtOnly(name) {
		return "", ch, usagef("%q is a set keyword, so the link name is missing; give the name first: %s", name, setUsage)
	}
	seen := map[string]string{} // setting -> the word that gave it
	for i := 1; i < len(args); i++ {
		w := args[i]
		if isHelp(w) {
			return "", ch, errHelpKeyword
		}
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			return "", ch, usagef("flag %q must come before the link name; write: amtctl %s ... set NAME ...", w, strings.SplitN(w, "=", 2)[0])
		}
		if amtOnly(w) {
			v := "VALUE"
			if i+1 < len(args) {
				v = args[i+1]
			}
			return "", ch, noChangelink(name, w, v)
		}
		sw := lookupSetWord(w)
		if sw == nil {
			return "", ch, usagef("unknown keyword %q for set; expected one of: %s", w, setWordNames())
		}
		if prev, dup := seen[sw.setting]; dup {
			if prev == w {
				return "", ch, usagef("%q given twice; give it once", w)
			}
			return "", ch, usagef("%q and %q contradict each other; give one of them", prev, w)
		}
		seen[sw.setting] = w
		v := ""
		if sw.value != "" {
			if i+1 >= len(args) {
				return "", ch, usagef("%q needs a value: %s", w, sw.value)
			}
			i++
			v = args[i]
		}
		if err := sw.apply(&ch, name, v); err != nil {
			return "", ch, err
		}
	}
	if ch.IsZero() {
		return "", ch, usagef("set %s needs something to change: up, down, mtu N, master BR or nomaster; usage: %s", name, setUsage)
	}
	return name, ch, nil
}

// noChangelink explains why an AMT attribute cannot be set, and how to
// change it anyway.
func noChangelink(name, word, value string) error {
	if word == readOnlyWord {
		return usagef(`"remote" is read-only: a gateway learns its relay through discovery; to use another relay, re-create %s with "discovery ADDR" (amtctl del %s, then amtctl add %s ... discovery ADDR), or change discovery in a file for amtctl apply`, name, name, name)
	}
	return usagef(`%q cannot be changed on an existing link: the kernel's AMT driver has no changelink; re-create it: amtctl del %s, then amtctl add %s ... %s %s (its other keywords as before, see amtctl show %s), or change it in a file for amtctl apply, which re-creates the link`, word, name, name, word, value, name)
}

func newSetCommand(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "set NAME [up|down] [mtu N] [master BR|nomaster]",
		Short: "Change an AMT link's state, MTU or master (iproute2 keywords)",
		Long: `Change the generic attributes of an existing AMT link, as "ip link set" does:

  up | down        bring the link up or down
  mtu N            set its MTU (68 to 65535, at most the lower device's MTU
                   minus the AMT headers)
  master BR        enslave it to bridge or VRF BR
  nomaster         detach it from its master

Several may be given at once; they go to the kernel in one request. Every
word is checked before anything is sent. "dev NAME" is accepted in place of
NAME, so "ip link set dev NAME ..." lines paste unchanged.

The AMT attributes (mode, local, discovery, dev, relay_port, gateway_port,
max_tunnels) are fixed when the link is created: the kernel's AMT driver has
no changelink. To change one, delete the link and add it again, or describe
the links in a file and let "amtctl apply" recreate what differs. amtctl set
refuses links of other kinds.`,
		Example: `  amtctl set amtg up
  amtctl set amtg mtu 1400 master br0 up
  amtctl -n gw set amtg down nomaster`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: o.completeSet,
		RunE: func(c *cobra.Command, args []string) error {
			name, ch, err := parseSet(args)
			if errors.Is(err, errHelpKeyword) {
				return c.Help()
			}
			if err != nil {
				return err
			}
			return o.runSet(c, name, ch)
		},
	}
	c.Flags().SetInterspersed(false)
	return c
}

func (o *options) runSet(c *cobra.Command, name string, ch amtlink.Change) error {
	b, err := o.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	l, err := b.Set(name, ch)
	if err != nil {
		return failure{op: "set", name: name, netns: o.netns, ch: &ch}.error(err)
	}
	if o.json && l != nil {
		return o.printJSON(c, []amtlink.Link{*l})
	}
	return nil
}

// completeSet completes set: amt link names for NAME, device names after
// master, and otherwise the words not used yet.
func (o *options) completeSet(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return o.completeLinkNames(c, args, toComplete)
	}
	if last := args[len(args)-1]; last == "master" {
		return filterPrefix(o.deviceNames(), toComplete), cobra.ShellCompDirectiveNoFileComp
	} else if last == "mtu" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	used := map[string]bool{} // settings given
	for _, w := range args[1:] {
		if sw := lookupSetWord(w); sw != nil {
			used[sw.setting] = true
		}
	}
	var rest []string
	for _, w := range setWords {
		if !used[w.setting] {
			rest = append(rest, w.name)
		}
	}
	return filterPrefix(rest, toComplete), cobra.ShellCompDirectiveNoFileComp
}
