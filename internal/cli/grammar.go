package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// keyword is one row of add's grammar. Everything that knows add's words is
// derived from the rows: add's usage, long help, parser and completion, the
// keys of an apply file, apply's plans and diffs, and which words set
// refuses. Which keywords are required, and in which mode, is the
// library's (amtlink.Spec.Missing). Adding a keyword is adding a row;
// TestGrammarReachesEveryConsumer checks that every consumer knows it.
type keyword struct {
	name string
	// arg names the value in usage and help ("ADDR"); "" means the
	// keyword takes no value.
	arg string
	// value describes the value for "needs a value" errors.
	value string
	// need describes a required keyword that is missing, when that says
	// more than value.
	need string
	// help is the keyword's line in add's long help.
	help string
	// amt marks an AMT attribute (or the lower device, IFLA_AMT_LINK),
	// fixed at creation: the driver has no changelink, so set refuses it
	// and apply re-creates a link whose value differs. The others (up,
	// mtu, master) are generic link attributes set can change in place.
	amt bool
	// pasteOnly marks a word accepted so that iproute2 lines paste
	// unchanged ("type amt"), but never offered, listed or written.
	pasteOnly bool
	// set stores v into s. It only maps; values are parsed by pkg/ifla
	// and pkg/amtlink.
	set func(s *amtlink.Spec, v string) error
	// show formats the keyword's value in s, for plans and diffs, and
	// reports whether s gives it (an unset port shows as the default).
	show func(s *amtlink.Spec) (string, bool)
	// compare, when not nil, is what apply compares instead of show's
	// text: discovery compares the address, not where it came from.
	compare func(s *amtlink.Spec) string
	// values are the values completion offers; nil for a free value.
	values func(o *options) []string
}

const (
	valueAddr = "an IPv4 address such as 192.0.2.1"
	valuePort = "a UDP port from 1 to 65535, such as 2268"
)

// valueMTU describes an MTU, with the library's bounds.
var valueMTU = "a number from " + strconv.Itoa(amtlink.MinMTU) + " to " + strconv.Itoa(amtlink.MaxMTU)

// addKeywords is the add grammar in the order add's errors and completion
// list it: iproute2's amt words, then the generic link words amtctl also
// accepts. Usage, help, apply files and plans list it as [listed] does.
var addKeywords = []keyword{
	{name: "mode", arg: "gateway|relay", value: "gateway or relay", amt: true,
		help: "a gateway discovers a relay and receives multicast through it",
		set: func(s *amtlink.Spec, v string) error {
			m, err := ifla.ParseMode(v)
			s.AMT.Mode = &m
			return err
		},
		show:   func(s *amtlink.Spec) (string, bool) { return modeString(s.AMT.Mode), s.AMT.Mode != nil },
		values: func(*options) []string { return []string{"gateway", "relay"} }},
	{name: "local", arg: "ADDR", value: valueAddr, amt: true,
		need: "this host's IPv4 address the tunnel uses, such as 192.0.2.1",
		help: "this host's IPv4 unicast address for the tunnel",
		set: func(s *amtlink.Spec, v string) (err error) {
			s.AMT.Local, err = ifla.ParseAddr("local", v)
			return err
		},
		show: func(s *amtlink.Spec) (string, bool) { return addrOrNone(s.AMT.Local), s.AMT.Local.IsValid() }},
	{name: "discovery", arg: "ADDR|driad:SOURCE|anycast", amt: true,
		value: `an IPv4 address such as 192.0.2.1, "driad:SOURCE" or "anycast"`,
		need:  `the relay's IPv4 address such as 192.0.2.1, "driad:SOURCE" or "anycast"`,
		help: "the relay's discovery address: an address; driad:SOURCE, the\n" +
			"relay DNS names for multicast source SOURCE (RFC 8777 AMTRELAY\n" +
			"records), looked up when the link is made (--dns ADDR[:PORT] asks\n" +
			"that server); anycast, 192.52.193.1 (RFC 7450 section 7)",
		set: parseDiscovery,
		show: func(s *amtlink.Spec) (string, bool) {
			_, named := discoveryOrigin(s)
			return discoveryString(s), named || s.AMT.Discovery.IsValid()
		},
		compare: func(s *amtlink.Spec) string { return addrOrNone(s.AMT.Discovery) },
		values:  func(*options) []string { return []string{"anycast", "driad:"} }},
	{name: "dev", arg: "IF", value: "the device the tunnel runs over, such as eth0", amt: true,
		help: "the device the tunnel runs over",
		set: func(s *amtlink.Spec, v string) error {
			s.Dev = v
			return amtlink.CheckName("dev", v)
		},
		show:   func(s *amtlink.Spec) (string, bool) { return orNone(s.Dev), s.Dev != "" },
		values: (*options).deviceNames},
	{name: "relay_port", arg: "N", value: valuePort, amt: true,
		help: "UDP port of the relay side (default " + strconv.Itoa(int(ifla.DefaultPort)) + ")",
		set: func(s *amtlink.Spec, v string) error {
			p, err := ifla.ParsePort("relay_port", v)
			s.AMT.RelayPort = &p
			return err
		},
		show: func(s *amtlink.Spec) (string, bool) { return portString(s.AMT.RelayPort), s.AMT.RelayPort != nil }},
	{name: "gateway_port", arg: "N", value: valuePort, amt: true,
		help: "UDP port of the gateway side (default " + strconv.Itoa(int(ifla.DefaultPort)) + ")",
		set: func(s *amtlink.Spec, v string) error {
			p, err := ifla.ParsePort("gateway_port", v)
			s.AMT.GatewayPort = &p
			return err
		},
		show: func(s *amtlink.Spec) (string, bool) { return portString(s.AMT.GatewayPort), s.AMT.GatewayPort != nil }},
	{name: "max_tunnels", arg: "N", value: "a number such as 128", amt: true,
		help: "relay mode: most gateways served at once (default " + strconv.FormatUint(uint64(ifla.DefaultMaxTunnels), 10) + ")",
		set: func(s *amtlink.Spec, v string) error {
			n, err := ifla.ParseMaxTunnels(v)
			s.AMT.MaxTunnels = &n
			return err
		},
		show: func(s *amtlink.Spec) (string, bool) { return tunnelsString(s.AMT.MaxTunnels), s.AMT.MaxTunnels != nil }},
	{name: "master", arg: "BR", value: "a bridge or VRF device name such as br0",
		help: "enslave the new link to bridge or VRF BR",
		set: func(s *amtlink.Spec, v string) error {
			s.Master = v
			return amtlink.CheckName("master", v)
		},
		show:   func(s *amtlink.Spec) (string, bool) { return orNone(s.Master), s.Master != "" },
		values: (*options).deviceNames},
	{name: "mtu", arg: "N", value: valueMTU + ", such as 1500",
		help: "MTU of the new link",
		set: func(s *amtlink.Spec, v string) (err error) {
			s.MTU, err = amtlink.ParseMTU(v)
			return err
		},
		show: func(s *amtlink.Spec) (string, bool) { return strconv.FormatUint(uint64(s.MTU), 10), s.MTU != 0 }},
	{name: "up",
		help: "bring the link up once created",
		set: func(s *amtlink.Spec, _ string) error {
			s.Up = true
			return nil
		},
		show: func(s *amtlink.Spec) (string, bool) { return upString(s.Up), s.Up }},
	{name: "type", arg: "amt", value: "amt", amt: true, pasteOnly: true,
		help: "accepted and ignored, as is \"name\" before NAME, so\n\"ip link add name NAME type amt ...\" lines paste unchanged",
		set: func(_ *amtlink.Spec, v string) error {
			if v != "amt" {
				return &ifla.FieldError{Field: "type", Value: v, Reason: "amtctl only makes amt links", Fix: `use "type amt" or leave "type" out`}
			}
			return nil
		},
		values: func(*options) []string { return []string{"amt"} }},
}

// readOnlyWord is the AMT attribute the kernel reports but takes from no
// one: add, set and apply explain it instead of calling it unknown.
const readOnlyWord = "remote"

// listed is the grammar as usage, help, apply files and plans list it:
// add's order, except that gateway_port comes before relay_port, as in
// show's PORTS column (gateway/relay).
var listed = sync.OnceValue(func() []*keyword {
	var out []*keyword
	for i := range addKeywords {
		out = append(out, &addKeywords[i])
	}
	g := slices.IndexFunc(out, func(k *keyword) bool { return k.name == "gateway_port" })
	r := slices.IndexFunc(out, func(k *keyword) bool { return k.name == "relay_port" })
	out[g], out[r] = out[r], out[g]
	return out
})

// row is a grammar row: add's keywords and set's words.
type row interface {
	word() (name string, hidden bool)
}

func (k keyword) word() (string, bool) { return k.name, k.pasteOnly }
func (w setWord) word() (string, bool) { return w.name, false }

// indexRows maps each word of rows to its row, for lookups that cost one
// map access per word of a command line (a batch has many).
func indexRows[T row](rows []T) map[string]*T {
	m := make(map[string]*T, len(rows))
	for i := range rows {
		name, _ := rows[i].word()
		m[name] = &rows[i]
	}
	return m
}

// rowNames lists the words of rows that are not hidden, for "expected one
// of" errors.
func rowNames[T row](rows []T) string {
	names := make([]string, 0, len(rows))
	for _, r := range rows {
		if name, hidden := r.word(); !hidden {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

var keywordIndex = sync.OnceValue(func() map[string]*keyword { return indexRows(addKeywords) })

func lookupKeyword(w string) *keyword { return keywordIndex()[w] }

// keywordNames lists add's keywords for errors.
func keywordNames() string { return rowNames(addKeywords) }

// requirement is what the library says of a keyword: required always, or
// only in one mode.
type requirement struct {
	always  bool
	onlyFor string // the mode that alone requires it
}

// requirements asks amtlink which keywords a Spec needs, with no mode and
// in each mode, so that help and errors say what the library checks.
var requirements = sync.OnceValue(func() map[string]requirement {
	in := func(m *ifla.Mode) []string {
		s := amtlink.Spec{Name: "x", AMT: ifla.AMT{Mode: m}}
		return s.Missing()
	}
	r := map[string]requirement{}
	for _, k := range in(nil) {
		r[k] = requirement{always: true}
	}
	for _, m := range []ifla.Mode{ifla.ModeGateway, ifla.ModeRelay} {
		for _, k := range in(&m) {
			if !r[k].always {
				r[k] = requirement{onlyFor: m.String()}
			}
		}
	}
	return r
})

// needOf describes the required keyword key for the messages that say it
// is missing, and names the only mode that requires it, if any.
func needOf(key string) (need, onlyFor string) {
	k := lookupKeyword(key)
	if k == nil {
		return fileValueHelp(key), ""
	}
	need = k.value
	if k.need != "" {
		need = k.need
	}
	return need, requirements()[key].onlyFor
}

// grammarOrder is listed with the keywords required in every mode first,
// as usage and help give them.
func grammarOrder() []*keyword {
	out := slices.Clone(listed())
	slices.SortStableFunc(out, func(a, b *keyword) int {
		rank := func(k *keyword) int {
			switch {
			case requirements()[k.name].always:
				return 0
			case k.pasteOnly:
				return 2
			}
			return 1
		}
		return rank(a) - rank(b)
	})
	return out
}

// addUsage is add's one-line usage, from the grammar.
var addUsage = sync.OnceValue(func() string {
	w := []string{"amtctl add NAME"}
	for _, k := range grammarOrder() {
		if k.pasteOnly {
			continue
		}
		word := strings.TrimSpace(k.name + " " + k.arg)
		if !requirements()[k.name].always {
			word = "[" + word + "]"
		}
		w = append(w, word)
	}
	return strings.Join(w, " ")
})

// addKeywordHelp is the table of keywords in add's long help, built when
// help, usage or a man page asks for it (describeAdd).
func addKeywordHelp() string {
	const col = 20 // width of the keyword column
	var b strings.Builder
	b.Grow(1024)
	for i, k := range grammarOrder() {
		if i > 0 {
			b.WriteByte('\n')
		}
		word := k.name
		if k.arg != "" {
			word += " " + k.arg
		}
		b.WriteString("  ")
		b.WriteString(word)
		if len(word) >= col {
			// Too wide for the column: the text starts on a line of
			// its own.
			b.WriteString("\n  ")
			word = ""
		}
		for n := len(word); n < col; n++ {
			b.WriteByte(' ')
		}
		b.WriteByte(' ')
		switch r := requirements()[k.name]; {
		case r.always:
			b.WriteString("required; ")
		case r.onlyFor != "":
			b.WriteString(r.onlyFor + " mode: ")
		}
		for j, line := range strings.Split(k.help, "\n") {
			if j > 0 {
				b.WriteString("\n" + strings.Repeat(" ", col+3))
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

// specWords is s in add's grammar, as "amtctl add NAME ..." takes it.
func specWords(s amtlink.Spec) string {
	var w []string
	for _, k := range listed() {
		if k.show == nil {
			continue
		}
		v, ok := k.show(&s)
		switch {
		case !ok:
		case k.arg == "":
			w = append(w, k.name)
		default:
			w = append(w, k.name, v)
		}
	}
	return strings.Join(w, " ")
}

// diffAMT lists the AMT attributes the file gives that differ from the
// kernel's, as "key old → new". Keys the file leaves out are not compared,
// so kernel defaults never count as a difference; neither does the
// 0.0.0.0 discovery address the kernel reports for a relay, which a relay's
// file cannot give.
func diffAMT(l *fileLink, cur *amtlink.Link) []string {
	old := specOf(*cur)
	var d []string
	for _, k := range listed() {
		if !k.amt || k.show == nil || !l.has(k.name) {
			continue
		}
		o, _ := k.show(&old)
		n, _ := k.show(&l.spec)
		same := o == n
		if k.compare != nil {
			same = k.compare(&old) == k.compare(&l.spec)
		}
		if !same {
			d = append(d, fmt.Sprintf("%s %s → %s", k.name, o, n))
		}
	}
	return d
}

// setWord is one word of set's grammar.
type setWord struct {
	name string
	// setting is the add keyword, and the attribute, the word changes:
	// up and down both change "up", master and nomaster "master". Two
	// words of one setting contradict each other.
	setting string
	// value describes the value for "needs a value" errors; "" means the
	// word takes no value.
	value string
	// apply records the word, with its value v, in ch for the link called
	// link.
	apply func(ch *amtlink.Change, link, v string) error
}

// setWords is set's grammar, in the order help and errors list it. Every
// generic keyword of add has a word here; add's AMT keywords are refused.
var setWords = []setWord{
	{name: "up", setting: "up", apply: func(ch *amtlink.Change, _, _ string) error {
		ch.Up = ifla.Ptr(true)
		return nil
	}},
	{name: "down", setting: "up", apply: func(ch *amtlink.Change, _, _ string) error {
		ch.Up = ifla.Ptr(false)
		return nil
	}},
	{name: "mtu", setting: "mtu", value: valueMTU + ", such as 1400", apply: func(ch *amtlink.Change, _, v string) error {
		n, err := amtlink.ParseMTU(v)
		ch.MTU = &n
		return err
	}},
	{name: "master", setting: "master", value: `a bridge or VRF device name such as br0 (or use "nomaster" to detach)`,
		apply: func(ch *amtlink.Change, link, v string) error {
			if err := amtlink.CheckName("master", v); err != nil {
				return err
			}
			if v == link {
				return usagef("master %q is the link itself; name a bridge or VRF device such as br0", v)
			}
			ch.Master = &v
			return nil
		}},
	{name: "nomaster", setting: "master", apply: func(ch *amtlink.Change, _, _ string) error {
		ch.Master = ifla.Ptr("")
		return nil
	}},
}

var setWordIndex = sync.OnceValue(func() map[string]*setWord { return indexRows(setWords) })

func lookupSetWord(w string) *setWord { return setWordIndex()[w] }

// setWordNames lists set's words for errors.
func setWordNames() string { return rowNames(setWords) }

// amtOnly reports whether w is a word set cannot change: an AMT keyword of
// add, or the read-only remote.
func amtOnly(w string) bool {
	k := lookupKeyword(w)
	return w == readOnlyWord || k != nil && k.amt
}
