package cli

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/spf13/cobra"
)

// maxProblems is how many problems of an invalid file are printed.
const maxProblems = 5

// replaceWhy is said on every replace line: users expect an in-place change.
const replaceWhy = "(the kernel cannot change AMT attributes in place: delete and re-create)"

const applyLong = `Make the kernel's AMT links match FILE, a YAML or JSON list of links ("-"
reads standard input):

  links:
    - name: amtg
      netns: gw          # optional; default: -n, or the current namespace
      mode: gateway
      local: 10.0.0.2
      discovery: 10.0.0.1
      dev: veth-g
      gateway_port: 2268 # optional, as are relay_port, max_tunnels,
      relay_port: 2268   # master, mtu and up
      master: br0        # "" detaches the link from its master
      mtu: 1400
      up: true           # false brings it down; leave out to keep its state

The keys are add's keywords and take the same values. The whole file is
checked first (every value, required keys, names used twice in a namespace,
namespaces that do not exist); an invalid file changes nothing and exits 2.

Then, per namespace, apply lists the AMT links and plans: create the links
that are missing; delete and re-create a link whose AMT attributes (mode,
local, discovery, dev, ports, max_tunnels) differ, since the kernel cannot
change those in place; set up, mtu and master in place; and with --prune,
delete the AMT links the file does not name, in the namespaces it mentions.
Only the keys a link gives are compared: a kernel default such as port 2268
matches a key left out. Each planned change is printed as it is made;
--dry-run prints the plan and changes nothing. With nothing to do apply
prints "no changes".

A change that fails is reported with the link's name and the kernel's
reason; the others are still made, and the exit status is 1.

"discovery: driad:SOURCE" is looked up in DNS (RFC 8777) from the link's
namespace before the plan is made (see "amtctl add --help"; --dns
ADDR[:PORT] asks that server), and the relay found is compared with the
link's; a failed lookup is one line, leaves that link as it is, and makes
the exit status 1. The link's alias records the name (amtctl:driad=SOURCE,
amtctl:anycast); an alias that is not amtctl's is kept, and replaced only
when the file gives a name, which the plan's line says.`

func newApplyCommand(o *options) *cobra.Command {
	var file string
	var prune, dry, watch bool
	var resync time.Duration
	c := &cobra.Command{
		Use:   "apply -f FILE [--prune] [--dry-run | --watch [--resync D]]",
		Short: "Make the AMT links match a YAML or JSON file, once or for good",
		Long:  applyLong + applyWatchLong,
		Example: `  amtctl apply -f links.yaml --dry-run
  amtctl apply -f links.yaml --prune
  amtctl -n gw show -j | ... ; cat links.json | amtctl apply -f -
  amtctl apply -f /etc/amtctl/links.yaml --watch -j   # keep them; kill -HUP to reload`,
		Args: noArgs("apply", "amtctl apply -f FILE [--prune] [--dry-run | --watch [--resync D]]"),
		RunE: func(c *cobra.Command, _ []string) error {
			if file == "" {
				return usagef(`apply needs -f FILE (a YAML or JSON file, or "-" for standard input); see "amtctl apply --help"`)
			}
			if err := checkDNSFlag(o.dns); err != nil {
				return err
			}
			if !watch {
				if c.Flags().Changed("resync") {
					return usagef("--resync only applies with --watch; add --watch, or leave --resync out")
				}
				return o.runApply(c, file, prune, dry)
			}
			switch {
			case dry:
				return usagef("--dry-run and --watch cannot be combined; use --dry-run alone to see the plan")
			case file == "-":
				return usagef(`--watch needs a file it can read again on SIGHUP; -f - reads standard input once (give a path)`)
			case resync < minResync:
				return usagef("--resync %s: too short; use %s or more, such as 30s (notifications do the rest)", resync, minResync)
			}
			return o.runApplyWatch(c, file, prune, resync)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", `YAML or JSON file of links; "-" reads standard input`)
	c.Flags().StringVar(&o.dns, "dns", "", "for discovery: driad:SOURCE, ask this name server, ADDR or ADDR:PORT, instead of those of resolv.conf")
	c.Flags().BoolVar(&prune, "prune", false, "also delete the AMT links the file does not name (in the namespaces it mentions)")
	c.Flags().BoolVar(&dry, "dry-run", false, "print the plan, change nothing")
	c.Flags().BoolVar(&watch, "watch", false, "stay and keep converging, on the kernel's notifications and every --resync; SIGHUP re-reads FILE")
	c.Flags().DurationVar(&resync, "resync", DefaultResync, "with --watch: how often every namespace is converged whatever the notifications said")
	_ = c.MarkFlagFilename("file", "yaml", "yml", "json")
	return c
}

// nsState is one namespace the file mentions, with its links.
type nsState struct {
	name  string // as written, "" for the current namespace
	shown string // name in plan lines: "" for -n's namespace (or the current one)
	b     Backend
	links []*fileLink
	used  map[string]bool // names(): the device names the links use
}

// desired is an apply file read and checked: its namespaces in the order
// the file first mentions them, each with its links and its Backend.
type desired struct {
	display string // the file as messages name it
	spaces  []*nsState
	byName  map[string]*nsState
	links   int
}

// close closes every Backend d opened.
func (d *desired) close() {
	for _, ns := range d.spaces {
		if ns.b != nil {
			ns.b.Close()
			ns.b = nil
		}
	}
}

// loadApply reads file ("-": c's standard input) and checks it, opening
// each namespace it mentions: one that does not exist is a mistake in the
// file, except with watch, where a namespace the file names is waited for
// (its nsState has no Backend until it appears). An invalid file prints its
// problems on c's stderr, one line each, closes what was opened and
// returns the usage error.
func (o *options) loadApply(c *cobra.Command, file string, watch bool) (*desired, error) {
	var r io.Reader
	display := file
	if file == "-" {
		r, display = c.InOrStdin(), "stdin"
	} else {
		f, err := os.Open(file)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, usagef("apply: file %q not found", file)
			}
			return nil, runErr(fmt.Errorf("apply: %w", err))
		}
		defer f.Close()
		r = f
	}
	links, probs := parseApplyFile(r)
	probs = validateLinks(links, probs, o.netns)

	// Opening the namespaces is part of checking the file.
	d := &desired{display: display, byName: map[string]*nsState{}, links: len(links)}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	for _, l := range links {
		name := l.nsOr(o.netns)
		ns := d.byName[name]
		if ns == nil {
			ns = &nsState{name: name}
			if name != o.netns {
				ns.shown = name
			}
			d.byName[name] = ns
			d.spaces = append(d.spaces, ns)
			b, err := o.open(name)
			switch {
			case err == nil:
				ns.b = b
			case errors.Is(err, os.ErrNotExist) && l.netns != "" && watch:
				// Waited for: created later (ip netns add).
			case errors.Is(err, os.ErrNotExist) && l.netns != "":
				probs = append(probs, problem{line: l.lineOf("netns"), link: l.spec.Name, msg: fmt.Sprintf("netns %q not found (ip netns add %s?)", name, name)})
			case errors.Is(err, os.ErrNotExist):
				return nil, usagef("apply: network namespace %q (-n) not found (ip netns add %s?)", name, name)
			default:
				return nil, runErr(fmt.Errorf("apply: open network namespace%s: %w", nsSuffix(name), err))
			}
		}
		ns.links = append(ns.links, l)
	}
	if len(probs) > 0 {
		sortProblems(probs)
		w := c.ErrOrStderr()
		for i, p := range probs {
			if i == maxProblems {
				break
			}
			fmt.Fprintln(w, "amtctl: "+p.format(display))
		}
		more := ""
		if len(probs) > maxProblems {
			more = fmt.Sprintf(" (%d more not shown)", len(probs)-maxProblems)
		}
		return nil, usagef("apply: %s has %d problem(s)%s; nothing was changed", display, len(probs), more)
	}
	ok = true
	return d, nil
}

func (o *options) runApply(c *cobra.Command, file string, prune, dry bool) error {
	d, err := o.loadApply(c, file, false)
	if err != nil {
		return err
	}
	defer d.close()
	// The names first: a failed lookup leaves its link out of the plan.
	lookups := 0
	for _, ns := range d.spaces {
		for _, l := range ns.links {
			if _, msg := o.lookupDue(ns, l, time.Time{}); msg != "" {
				lookups++
				fmt.Fprintln(c.ErrOrStderr(), "amtctl: "+msg)
			}
		}
	}
	var plan []action
	for _, ns := range d.spaces {
		have, err := ns.b.List()
		if err != nil {
			return runErr(fmt.Errorf("apply: list amt links%s: %w", nsSuffix(ns.name), err))
		}
		plan = append(plan, planNS(ns, have, prune)...)
	}
	out := c.OutOrStdout()
	lookupErr := func() error {
		if lookups > 0 {
			return runErrf("apply: %d DNS lookup(s) failed (see above); those links were left as they are", lookups)
		}
		return nil
	}
	if len(plan) == 0 {
		fmt.Fprintln(out, "no changes")
		return lookupErr()
	}
	if dry {
		for _, a := range plan {
			fmt.Fprintln(out, a.String())
		}
		fmt.Fprintf(out, "dry run: %d change(s) planned, nothing changed\n", len(plan))
		return lookupErr()
	}
	failed := 0
	for _, a := range plan {
		fmt.Fprintln(out, a.String())
		if err := a.do(d.byName[a.ns].b); err != nil {
			failed++
			fmt.Fprintln(c.ErrOrStderr(), "amtctl: "+oneLine(err))
		}
	}
	if failed > 0 {
		return runErrf("apply: %d of %d change(s) failed (see above); the others were made", failed, len(plan))
	}
	return lookupErr()
}

func nsSuffix(ns string) string {
	if ns == "" {
		return ""
	}
	return fmt.Sprintf(" (netns %s)", ns)
}

type actionKind int

const (
	actDelete actionKind = iota
	actReplace
	actCreate
	actSet
)

// action is one change of the plan.
type action struct {
	kind  actionKind
	ns    string // namespace, "" for the current one
	shown string // namespace as plan lines name it; "" for -n's
	name  string
	spec  amtlink.Spec   // create, replace: the link to make
	old   *amtlink.Link  // replace, delete: the link as it is
	ch    amtlink.Change // set
	diffs []string       // replace, set: "attr old → new"
}

// actionVerbs are each kind's words: planned (apply's lines), and done
// (apply --watch's log).
var actionVerbs = [...]struct{ plan, done string }{
	actDelete:  {"delete", "deleted"},
	actReplace: {"replace", "replaced"},
	actCreate:  {"create", "created"},
	actSet:     {"set", "set"},
}

// String is the change as apply prints it before making it.
func (a action) String() string {
	return actionVerbs[a.kind].plan + " " + a.name + nsSuffix(a.shown) + ": " + a.detail()
}

// doneString is the change as apply --watch logs it once made.
func (a action) doneString() string {
	return actionVerbs[a.kind].done + " " + a.name + nsSuffix(a.shown) + ": " + a.detail()
}

// detail is what the change does, after "create NAME: ".
func (a action) detail() string {
	switch a.kind {
	case actDelete:
		return "not in the file (--prune)"
	case actReplace:
		return strings.Join(a.diffs, ", ") + " " + replaceWhy
	case actCreate:
		return specWords(a.spec)
	default:
		return strings.Join(a.diffs, ", ")
	}
}

// do makes the change on b. Errors name the link and carry the kernel's
// reason.
func (a action) do(b Backend) error {
	switch a.kind {
	case actDelete:
		if err := b.Delete(a.name); err != nil {
			return a.failure("delete").error(err)
		}
	case actCreate:
		if err := b.Add(a.spec); err != nil {
			return a.failure("create").error(err)
		}
	case actSet:
		if _, err := b.Set(a.name, a.ch); err != nil {
			return a.failure("set").error(err)
		}
	case actReplace:
		if err := b.Delete(a.name); err != nil {
			return a.failure("replace (delete)").error(err)
		}
		if err := b.Add(a.spec); err != nil {
			// Put the old link back, so that a failed replace leaves
			// the namespace as it found it.
			restore := "the old link was restored"
			if rerr := b.Add(specOf(*a.old)); rerr != nil {
				restore = "restoring the old link failed too: " + oneLine(rerr)
			}
			return runErrf("%s (%s)", oneLine(a.failure("replace (re-create)").error(err)), restore)
		}
	}
	return nil
}

// failure is the context of the change a for the step op of it.
func (a action) failure(op string) failure {
	f := failure{op: op, name: a.name, netns: a.ns, shown: a.shown, planned: true}
	switch a.kind {
	case actCreate, actReplace:
		if op != "replace (delete)" {
			f.spec = &a.spec
		}
	case actSet:
		f.ch = &a.ch
	}
	return f
}

// planNS compares the file's links for ns with the kernel's and returns the
// changes: prune deletes first (they may free names and ports), then the
// file's links in file order.
func planNS(ns *nsState, have []amtlink.Link, prune bool) []action {
	byName := make(map[string]*amtlink.Link, len(have))
	for i := range have {
		byName[have[i].Name] = &have[i]
	}
	var plan []action
	if prune {
		named := make(map[string]bool, len(ns.links))
		for _, l := range ns.links {
			named[l.spec.Name] = true
		}
		for i := range have {
			if !named[have[i].Name] {
				plan = append(plan, action{kind: actDelete, ns: ns.name, shown: ns.shown, name: have[i].Name, old: &have[i]})
			}
		}
	}
	for _, l := range ns.links {
		if needsLookup(&l.spec) {
			continue // its lookup failed: left as it is, and said so
		}
		cur := byName[l.spec.Name]
		if cur == nil {
			plan = append(plan, action{kind: actCreate, ns: ns.name, shown: ns.shown, name: l.spec.Name, spec: l.spec})
			continue
		}
		if d := diffAMT(l, cur); len(d) > 0 {
			s := l.spec
			// Keys the file leaves out keep the old link's state.
			if l.up == nil {
				s.Up = cur.Up()
			}
			if l.mstr == nil {
				s.Master = cur.Master
			}
			if s.Alias == "" && !ourAlias(cur.Alias) {
				s.Alias = cur.Alias // the user's, kept
			}
			plan = append(plan, action{kind: actReplace, ns: ns.name, shown: ns.shown, name: l.spec.Name, spec: s, old: cur,
				diffs: append(d, diffGeneric(l, cur, nil)...)})
			continue
		}
		var ch amtlink.Change
		if d := diffGeneric(l, cur, &ch); len(d) > 0 {
			plan = append(plan, action{kind: actSet, ns: ns.name, shown: ns.shown, name: l.spec.Name, ch: ch, diffs: d})
		}
	}
	return plan
}

// diffGeneric lists the differences in up, mtu and master, and records them
// in ch when it is not nil.
func diffGeneric(l *fileLink, cur *amtlink.Link, ch *amtlink.Change) []string {
	var d []string
	if l.up != nil && *l.up != cur.Up() {
		d = append(d, fmt.Sprintf("%s → %s", upString(cur.Up()), upString(*l.up)))
		if ch != nil {
			ch.Up = ifla.Ptr(*l.up)
		}
	}
	if l.spec.MTU != 0 && l.spec.MTU != cur.MTU {
		d = append(d, fmt.Sprintf("mtu %d → %d", cur.MTU, l.spec.MTU))
		if ch != nil {
			ch.MTU = ifla.Ptr(l.spec.MTU)
		}
	}
	if l.mstr != nil && *l.mstr != cur.Master {
		d = append(d, fmt.Sprintf("master %s → %s", orNone(cur.Master), orNone(*l.mstr)))
		if ch != nil {
			ch.Master = ifla.Ptr(*l.mstr)
		}
	}
	// The alias records where a discovery address came from: it follows
	// the file's discovery. One amtctl did not write is the user's: kept
	// when the file gives an address, replaced (and said so) when it
	// gives a name.
	if want := l.spec.Alias; l.has("discovery") && want != cur.Alias && (want != "" || ourAlias(cur.Alias)) {
		line := fmt.Sprintf("alias %s → %s", orNone(cur.Alias), orNone(want))
		if !ourAlias(cur.Alias) {
			line += " (replacing an alias amtctl did not set)"
		}
		d = append(d, line)
		if ch != nil {
			ch.Alias = ifla.Ptr(want)
		}
	}
	return d
}

// specOf is the Spec that re-creates l as it was.
func specOf(l amtlink.Link) amtlink.Spec {
	a := l.AMT
	a.Link, a.Remote, a.Unknown = nil, netip.Addr{}, nil
	if a.Mode != nil && *a.Mode == ifla.ModeRelay {
		a.Discovery = netip.Addr{}
	} else if a.MaxTunnels != nil {
		a.MaxTunnels = nil // a gateway reports the default; Validate refuses it
	}
	return amtlink.Spec{Name: l.Name, AMT: a, Dev: l.LowerName, Master: l.Master, MTU: l.MTU, Up: l.Up(), Alias: l.Alias}
}

func modeString(m *ifla.Mode) string {
	if m == nil {
		return "(none)"
	}
	return m.String()
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}

// portString counts an unreported port as the kernel's default.
func portString(p *uint16) string {
	if p == nil {
		return strconv.Itoa(int(ifla.DefaultPort))
	}
	return strconv.Itoa(int(*p))
}

func tunnelsString(n *uint32) string {
	if n == nil {
		return strconv.FormatUint(uint64(ifla.DefaultMaxTunnels), 10)
	}
	return strconv.FormatUint(uint64(*n), 10)
}

func upString(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
