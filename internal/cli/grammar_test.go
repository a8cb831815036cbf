package cli

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// TestGrammarReachesEveryConsumer walks add's grammar and proves that every
// consumer knows every keyword, so that adding a keyword is adding a row:
// usage, help, the parser, apply's file keys, completion, set's refusal or
// acceptance, apply's plans and diffs, and cmd/amtctl/doc.go.
func TestGrammarReachesEveryConsumer(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../cmd/amtctl/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	add := newAddCommand(&options{})
	describe(add)
	help := add.Long
	// full gives every keyword a value, in a relay (which takes all but
	// discovery) and a gateway (discovery).
	relay := relay("relay_port", "2270", "gateway_port", "2271", "max_tunnels", "64", "master", "br0", "mtu", "1400", "up")[1:]
	full, err := parseAdd(relay)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := parseAdd(gateway()[1:])
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	completions, _ := (&options{open: f.open}).completeAdd(nil, []string{"amtx"}, "")
	for _, k := range addKeywords {
		if k.pasteOnly {
			if slices.Contains(fileKeys(), k.name) || slices.Contains(completions, k.name) {
				t.Errorf("%s: paste-only, yet offered", k.name)
			}
			continue
		}
		word := strings.TrimSpace(k.name + " " + k.arg)
		if !strings.Contains(add.Use, word) {
			t.Errorf("%s: add's usage %q lacks %q", k.name, add.Use, word)
		}
		if !strings.Contains(help, "\n  "+word+" ") && !strings.Contains(help, "\n  "+word+"\n") {
			t.Errorf("%s: add's help lacks its line", k.name)
		}
		if !strings.Contains(keywordNames(), k.name) {
			t.Errorf("%s: not in add's list of keywords", k.name)
		}
		if !slices.Contains(fileKeys(), k.name) {
			t.Errorf("%s: not a key of apply files", k.name)
		}
		if fileValueHelp(k.name) == "a value" {
			t.Errorf("%s: apply files do not describe its value", k.name)
		}
		if !slices.Contains(completions, k.name) {
			t.Errorf("%s: completion does not offer it (%q)", k.name, completions)
		}
		if !strings.Contains(string(doc), k.name) {
			t.Errorf("%s: cmd/amtctl/doc.go does not mention it", k.name)
		}
		s := full
		if k.name == "discovery" {
			s = gw
		}
		if v, ok := k.show(&s); !ok || !strings.Contains(" "+specWords(s)+" ", " "+strings.TrimSpace(k.name+" "+map[bool]string{true: v}[k.arg != ""])+" ") {
			t.Errorf("%s: specWords(%+v) = %q lacks it", k.name, s, specWords(s))
		}
		// set refuses the AMT keywords and has a word for each generic one.
		if _, _, err := parseSet([]string{"amtx", k.name, "x"}); k.amt != (err != nil && strings.Contains(err.Error(), "cannot be changed")) {
			t.Errorf("%s: amt %v, but set says %v", k.name, k.amt, err)
		}
		if !k.amt && !slices.ContainsFunc(setWords, func(w setWord) bool { return w.setting == k.name }) {
			t.Errorf("%s: a generic keyword set has no word for", k.name)
		}
	}

	// diffAMT compares every AMT keyword the file gives; diffGeneric the
	// generic ones.
	for _, base := range []amtlink.Spec{full, gw} {
		l := &fileLink{lines: map[string]int{}, spec: base}
		for _, k := range addKeywords {
			l.lines[k.name] = 1
		}
		cur := amtlink.Link{Name: base.Name, MTU: 1476, LowerName: "eth9", AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.9"), Discovery: netip.MustParseAddr("10.0.0.8"),
			RelayPort: ifla.Ptr[uint16](1), GatewayPort: ifla.Ptr[uint16](1), MaxTunnels: ifla.Ptr[uint32](1)}}
		if *base.AMT.Mode == ifla.ModeRelay {
			cur.AMT.Mode = ifla.Ptr(ifla.ModeGateway)
		}
		up, mstr := true, "br0"
		l.up, l.mstr = &up, &mstr
		d := strings.Join(append(diffAMT(l, &cur), diffGeneric(l, &cur, nil)...), ", ")
		for _, k := range addKeywords {
			if k.pasteOnly || k.name == "up" {
				continue
			}
			if _, given := k.show(&base); !given {
				continue
			}
			if !strings.Contains(d, k.name+" ") {
				t.Errorf("%s: the diff %q does not compare it", k.name, d)
			}
		}
		if !strings.Contains(d, "down → up") {
			t.Errorf("up: the diff %q does not compare it", d)
		}
	}
}

// TestGrammarDiscoveryForms walks the value forms of discovery (an address,
// driad:SOURCE, anycast) through every consumer of the row: add's parser,
// apply files, plans, diffs, completion, help and cmd/amtctl/doc.go.
func TestGrammarDiscoveryForms(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../cmd/amtctl/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	add := newAddCommand(&options{})
	describe(add)
	help := add.Long
	f := newFake()
	values, _ := (&options{open: f.open}).completeAdd(nil, []string{"amtx", "discovery"}, "")
	for _, c := range []struct {
		value, alias, addr, shown string
	}{
		{"10.0.0.1", "", "10.0.0.1", "10.0.0.1"},
		{"anycast", "amtctl:anycast", "192.52.193.1", "192.52.193.1 (anycast)"},
		{"driad:198.51.100.12", "amtctl:driad=198.51.100.12", "", "driad:198.51.100.12"},
		{"driad:2001:db8::12", "amtctl:driad=2001:db8::12", "", "driad:2001:db8::12"},
	} {
		args := append(gateway()[1:], "discovery", c.value)
		args = slices.Delete(args, slices.Index(args, "discovery"), slices.Index(args, "discovery")+2)
		s, err := parseAdd(args)
		if err != nil {
			t.Errorf("add ... discovery %s: %v", c.value, err)
			continue
		}
		if s.Alias != c.alias || addrOrNone(s.AMT.Discovery) != orNone(c.addr) {
			t.Errorf("discovery %s: alias %q, address %v; want %q, %q", c.value, s.Alias, s.AMT.Discovery, c.alias, c.addr)
		}
		if w := specWords(s); !strings.Contains(w, "discovery "+c.shown) {
			t.Errorf("discovery %s: plan words %q lack %q", c.value, w, "discovery "+c.shown)
		}
		if needsLookup(&s) != (c.addr == "") {
			t.Errorf("discovery %s: needsLookup %v", c.value, needsLookup(&s))
		}
		links, probs := parseApplyFile(strings.NewReader("links:\n  - name: amtg\n    mode: gateway\n    local: 10.0.0.2\n    dev: veth0\n    discovery: \"" + c.value + "\"\n"))
		probs = validateLinks(links, probs, "")
		if len(probs) != 0 || len(links) != 1 || links[0].spec.Alias != c.alias {
			t.Errorf("apply file with discovery %s: %+v, %v", c.value, links, probs)
		}
		if word, _, _ := strings.Cut(c.value, ":"); c.alias != "" && !strings.Contains(help, word) || !strings.Contains(string(doc), word) {
			t.Errorf("discovery %s: add's help or cmd/amtctl/doc.go does not mention %q", c.value, word)
		}
	}
	for _, v := range []string{"anycast", "driad:"} {
		if !slices.Contains(values, v) {
			t.Errorf("completion of discovery's value %q lacks %q", values, v)
		}
	}
	for v, want := range map[string]string{
		"driad:":               `discovery "driad:": driad: needs the multicast source's IP address`,
		"driad:source.example": `discovery "driad:source.example": driad: needs`,
		"relay.example":        `discovery "relay.example": not an IP address; use the relay's IPv4 address such as 192.0.2.1, "driad:SOURCE"`,
	} {
		args := append(slices.Clone(gateway()[1:]), "discovery", v)
		args = slices.Delete(args, slices.Index(args, "discovery"), slices.Index(args, "discovery")+2)
		if _, err := parseAdd(args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("discovery %s: %v; want %q", v, err, want)
		}
	}
	// A relay refuses the driad: form as it refuses an address, naming it.
	if _, err := parseAdd(relay("discovery", "driad:198.51.100.12")[1:]); err == nil || !strings.Contains(err.Error(), `discovery "driad:198.51.100.12": only a gateway uses it`) {
		t.Errorf("relay with driad: %v", err)
	}
}
