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
		if !strings.Contains(help, "\n  "+word+" ") {
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
