package cli

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsFake answers every AMTRELAY query on loopback with one type 1 record
// naming its current relay, TTL 1; with no relay it never answers.
type dnsFake struct {
	addr  netip.AddrPort
	relay atomic.Value // netip.Addr
}

func newDNSFake(t *testing.T, relay string) *dnsFake {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	d := &dnsFake{addr: netip.MustParseAddrPort(c.LocalAddr().String())}
	d.set(relay)
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			a := d.relay.Load().(netip.Addr)
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil || !a.IsValid() {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			v := a.As4()
			_ = b.UnknownResource(dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: q.Class, TTL: 1},
				dnsmessage.UnknownResource{Type: q.Type, Data: []byte{10, 1, v[0], v[1], v[2], v[3]}})
			msg, _ := b.Finish()
			_, _ = c.WriteTo(msg, from)
		}
	}()
	return d
}

// set changes the relay the server answers with; "" makes it silent.
func (d *dnsFake) set(relay string) {
	var a netip.Addr
	if relay != "" {
		a = netip.MustParseAddr(relay)
	}
	d.relay.Store(a)
}

func TestAddDiscoveryDriadAndAnycast(t *testing.T) {
	t.Parallel()
	dns := newDNSFake(t, "203.0.113.15")
	h := hooks{relay: relayEnv{timeout: 100 * time.Millisecond, attempts: 1}}
	f := newFake()
	code, out, errOut := runHooked(t, f, h, "add", "--dns", dns.addr.String(), "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "driad:198.51.100.12", "dev", "eth0")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("add: exit %d, %q, %q", code, out, errOut)
	}
	if c := f.creates[0]; c.AMT.Discovery != netip.MustParseAddr("203.0.113.15") || c.Alias != "amtctl:driad=198.51.100.12" {
		t.Errorf("created %+v", c)
	}
	if code, _, errOut := runHooked(t, f, h, "add", "amta", "mode", "gateway", "local", "10.0.0.2", "discovery", "anycast", "dev", "eth0"); code != 0 {
		t.Fatalf("add anycast: exit %d, %s", code, errOut)
	}
	if c := f.creates[1]; c.AMT.Discovery != AnycastRelay || c.Alias != "amtctl:anycast" {
		t.Errorf("created %+v", c)
	}
	_, out, _ = run(t, f, "show")
	if !strings.Contains(out, "203.0.113.15 (driad:198.51.100.12)") || !strings.Contains(out, "192.52.193.1 (anycast)") {
		t.Errorf("show:\n%s", out)
	}
	_, out, _ = run(t, f, "show", "-j")
	var v []LinkView
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 2 || v[0].Amtctl == nil || v[0].Amtctl.DiscoveryFrom != "driad:198.51.100.12" ||
		v[0].IfAlias != "amtctl:driad=198.51.100.12" || v[1].Amtctl.DiscoveryFrom != "anycast" {
		t.Errorf("show -j: %v\n%s", err, out)
	}

	// A lookup that fails is one line, exit 1, and nothing is created.
	dns.set("")
	n := len(f.creates)
	code, out, errOut = runHooked(t, f, h, "add", "--dns", dns.addr.String(), "amtx", "mode", "gateway", "local", "10.0.0.2", "discovery", "driad:198.51.100.12", "dev", "eth0")
	want := "amtctl: add amtx: discovery driad:198.51.100.12: asked " + dns.addr.String() + " for AMTRELAY 12.100.51.198.in-addr.arpa., got no answer within 100ms (1 attempts)\n"
	if code != 1 || out != "" || errOut != want || len(f.creates) != n {
		t.Errorf("failed lookup: exit %d, %q, stderr %q (want %q), %d creates", code, out, errOut, want, len(f.creates)-n)
	}
	if code, _, errOut := run(t, f, "add", "--dns", "dns.example", "amtx", "mode", "gateway", "local", "10.0.0.2", "discovery", "driad:198.51.100.12", "dev", "eth0"); code != 2 || !strings.Contains(errOut, `dns "dns.example": not an IP address`) {
		t.Errorf("bad --dns: exit %d, %q", code, errOut)
	}
}

// TestApplyDiscoveryAlias: the alias follows the file's discovery; a user's
// is kept for an address and replaced, saying so, for a name.
func TestApplyDiscoveryAlias(t *testing.T) {
	t.Parallel()
	dns := newDNSFake(t, "10.0.0.1")
	h := hooks{relay: relayEnv{timeout: 100 * time.Millisecond, attempts: 1}}
	f := newFake()
	mustCreate(t, f, "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth0")
	f.links[0].Alias = "uplink"
	named := writeFile(t, "named.yaml", "links:\n  - {name: amtg, mode: gateway, local: 10.0.0.2, discovery: \"driad:198.51.100.12\", dev: eth0}\n")
	literal := writeFile(t, "literal.yaml", "links:\n  - {name: amtg, mode: gateway, local: 10.0.0.2, discovery: 10.0.0.1, dev: eth0}\n")
	other := writeFile(t, "other.yaml", "links:\n  - {name: amtg, mode: gateway, local: 10.0.0.2, discovery: 10.0.0.3, dev: eth0}\n")

	// An address keeps the user's alias, even when the link is re-created.
	if code, out, _ := runHooked(t, f, h, "apply", "-f", literal); code != 0 || out != "no changes\n" {
		t.Errorf("literal: exit %d, %q", code, out)
	}
	if code, out, _ := runHooked(t, f, h, "apply", "-f", other); code != 0 || !strings.HasPrefix(out, "replace amtg: discovery 10.0.0.1 → 10.0.0.3 ") || f.links[0].Alias != "uplink" {
		t.Errorf("re-created: exit %d, %q, alias %q", code, out, f.links[0].Alias)
	}
	if code, _, _ := runHooked(t, f, h, "apply", "-f", literal); code != 0 {
		t.Fatal("back to 10.0.0.1")
	}
	// A name with the same address sets the alias in place, saying whose
	// it replaces.
	code, out, _ := runHooked(t, f, h, "apply", "--dns", dns.addr.String(), "-f", named)
	if code != 0 || out != "set amtg: alias uplink → amtctl:driad=198.51.100.12 (replacing an alias amtctl did not set)\n" || f.links[0].Alias != "amtctl:driad=198.51.100.12" {
		t.Errorf("named: exit %d, %q, alias %q", code, out, f.links[0].Alias)
	}
	if code, out, _ := runHooked(t, f, h, "apply", "--dns", dns.addr.String(), "-f", named); code != 0 || out != "no changes\n" {
		t.Errorf("named again: exit %d, %q", code, out)
	}
	// Back to the address: amtctl's alias goes.
	if code, out, _ := runHooked(t, f, h, "apply", "-f", literal); code != 0 || out != "set amtg: alias amtctl:driad=198.51.100.12 → (none)\n" {
		t.Errorf("literal after named: exit %d, %q", code, out)
	}
	// A failed lookup leaves the link as it is: one line, exit 1.
	dns.set("")
	n := len(f.creates) + len(f.deletes) + len(f.sets)
	code, out, errOut := runHooked(t, f, h, "apply", "--dns", dns.addr.String(), "-f", named)
	if code != 1 || out != "no changes\n" || !strings.HasPrefix(errOut, "amtctl: amtg: discovery driad:198.51.100.12: asked ") ||
		!strings.Contains(errOut, "no answer within 100ms (1 attempts); the link is left as it is\n") || len(f.creates)+len(f.deletes)+len(f.sets) != n {
		t.Errorf("failed lookup: exit %d, %q, %q", code, out, errOut)
	}
}

// TestApplyWatchDriadRelookup: apply --watch asks again when the TTL (1s)
// runs out and re-creates the gateway on a new relay; a failed lookup
// keeps it and is logged once.
func TestApplyWatchDriadRelookup(t *testing.T) {
	t.Parallel()
	dns := newDNSFake(t, "203.0.113.15")
	f := newSubFake()
	sp := &subSpaces{spaces: map[string]*subFake{"": f}}
	file := writeFile(t, "links.yaml", "links:\n  - {name: amtg, mode: gateway, local: 10.0.0.2, discovery: \"driad:198.51.100.12\", dev: eth0, up: true}\n")
	r := startApplyWatchHooked(t, sp.open, hooks{relay: relayEnv{timeout: 200 * time.Millisecond, attempts: 1}}, "apply", "--watch", "--dns", dns.addr.String(), "-f", file)
	r.expect("created amtg: mode gateway local 10.0.0.2 discovery 203.0.113.15 (driad:198.51.100.12) dev eth0 up")
	dns.set("203.0.113.16")
	r.step(func() bool { return true }) // let the loop wait for the lookup's timer
	r.expect("replaced amtg: discovery 203.0.113.15 (driad:198.51.100.12) → 203.0.113.16 (driad:198.51.100.12) " + replaceWhy)
	dns.set("")
	r.step(func() bool { return true })
	var got string
	r.step(func() bool { got = r.out.next(); return false })
	if !strings.HasPrefix(got, "failed amtg: discovery driad:198.51.100.12: asked ") || !strings.HasSuffix(got, "no answer within 200ms (1 attempts); keeping relay 203.0.113.16, asking again in 5s\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("after a failed lookup: %q", got)
	}
	if l, err := f.Get("amtg"); err != nil || l.AMT.Discovery != netip.MustParseAddr("203.0.113.16") {
		t.Errorf("the link after the failed lookup: %+v, %v", l, err)
	}
	r.stop()
}
