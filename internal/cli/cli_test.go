package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestAddRelay(t *testing.T) {
	t.Parallel()
	f := newFake()
	code, out, errOut := run(t, f, "add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0",
		"relay_port", "2270", "gateway_port", "2271", "max_tunnels", "64", "mtu", "1400", "master", "br0", "up")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("code %d, stdout %q, stderr %q; want 0 and silence", code, out, errOut)
	}
	want := []amtlink.Spec{{
		Name: "amtr", Dev: "eth0", Master: "br0", MTU: 1400, Up: true,
		AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"),
			RelayPort: ifla.Ptr[uint16](2270), GatewayPort: ifla.Ptr[uint16](2271), MaxTunnels: ifla.Ptr[uint32](64),
		},
	}}
	if diff := cmp.Diff(want, f.creates, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("Create calls (-want +got):\n%s", diff)
	}
	if len(f.opened) != 1 || f.opened[0] != "" {
		t.Errorf("opened %q, want one open of the current namespace", f.opened)
	}
	if f.adds != 1 {
		t.Errorf("%d Add calls, want 1: add prints nothing, so it need not read the link back", f.adds)
	}
}

func TestAddGatewayInNamespaceAsIPRoute2Typed(t *testing.T) {
	t.Parallel()
	f := newFake()
	// An "ip link add" line pastes unchanged, "type amt" included.
	code, _, errOut := run(t, f, "-n", "gw", "add", "amtg", "type", "amt", "mode", "gateway", "local", "10.0.0.2",
		"discovery", "10.0.0.1", "dev", "eth0")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if len(f.creates) != 1 || f.creates[0].AMT.Discovery != netip.MustParseAddr("10.0.0.1") || *f.creates[0].AMT.Mode != ifla.ModeGateway {
		t.Fatalf("Create calls %+v", f.creates)
	}
	if code, _, errOut := run(t, f, "add", "name", "amtg2", "type", "amt", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"); code != 0 || errOut != "" || f.creates[1].Name != "amtg2" {
		t.Errorf(`"add name NAME": code %d, stderr %q, creates %+v`, code, errOut, f.creates)
	}
	if diff := cmp.Diff([]string{"gw", ""}, f.opened); diff != "" {
		t.Errorf("namespaces opened (-want +got):\n%s", diff)
	}
}

func TestAddJSONPrintsCreatedLink(t *testing.T) {
	t.Parallel()
	f := newFake()
	code, out, _ := run(t, f, "-j", "add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0")
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0]["ifname"] != "amtr" {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if len(f.creates) != 1 || f.adds != 0 {
		t.Errorf("%d creates, %d of them Add: -j prints the link, so Create must read it back", len(f.creates), f.adds)
	}
}

func TestAddWarnings(t *testing.T) {
	t.Parallel()
	f := newFake()
	code, out, errOut := run(t, f, "add", "amtr", "mode", "relay", "local", "10.0.0.9", "dev", "veth0")
	if code != 0 || out != "" {
		t.Fatalf("code %d stdout %q; warnings must not fail", code, out)
	}
	want := "amtctl: warning: dev veth0 is down; bring it up: ip link set veth0 up\n" +
		"amtctl: warning: local 10.0.0.9 is not an address of dev veth0; the tunnel will not pass traffic until it is (ip addr add 10.0.0.9/24 dev veth0)\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	if len(f.links) != 1 {
		t.Errorf("links %d, want 1: warnings must not stop the create", len(f.links))
	}
	// One lookup of the dev, not a list of every device.
	if diff := cmp.Diff([]string{"veth0"}, f.lookups); diff != "" {
		t.Errorf("Interface lookups (-want +got):\n%s", diff)
	}
}

func TestAddHelp(t *testing.T) {
	t.Parallel()
	// add's usage line and keyword table are written only when help asks
	// for them (describe): every way to ask gets them.
	for _, args := range [][]string{{"add", "--help"}, {"add", "amtr", "mode", "relay", "help"}, {"add", "help"}, {"help", "add"}} {
		f := newFake()
		code, out, errOut := run(t, f, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Examples:") || !strings.Contains(out, "max_tunnels N") {
			t.Errorf("amtctl %q: code %d, stderr %q, stdout lacks examples:\n%s", args, code, errOut, out)
		}
		if !strings.Contains(out, "Usage:\n  "+addUsage()+" [flags]\n") || !strings.Contains(out, "\n"+addKeywordHelp()+"\n") {
			t.Errorf("amtctl %q: no usage line %q or keyword table:\n%s", args, addUsage(), out)
		}
		if len(f.opened) != 0 {
			t.Errorf("amtctl %q opened a backend", args)
		}
	}
}

func TestShowTableGolden(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.links = sampleLinks()
	for _, args := range [][]string{{"show"}, {"list"}, {"ls"}} {
		code, out, errOut := run(t, f, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("amtctl %q: code %d stderr %q", args, code, errOut)
		}
		golden(t, "show.golden", out)
	}
}

func TestShowEmptyIsHeaderOnly(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, newFake(), "show")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	if want := strings.Join(tableHeader, "  ") + "\n"; out != want {
		t.Errorf("stdout %q, want the header alone %q", out, want)
	}
	code, out, _ = run(t, newFake(), "show", "-j")
	if code != 0 || out != "[]\n" {
		t.Errorf("show -j with no links: code %d stdout %q, want []", code, out)
	}
}

func TestShowJSONGolden(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.links = sampleLinks()
	_, out, _ := run(t, f, "show", "-j")
	golden(t, "show.json", out)
	_, out, _ = run(t, f, "-j", "-p", "show")
	golden(t, "show-pretty.json", out)
	_, out, _ = run(t, f, "--json", "show", "amtg2")
	golden(t, "show-amtg2.json", out)
}

// TestShowJSONKeysAndTypes checks the contract with iproute2's amt_print_opt:
// which keys exist, and which are JSON strings and which numbers.
func TestShowJSONKeysAndTypes(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.links = sampleLinks()
	_, out, _ := run(t, f, "show", "-j")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(got) != 3 {
		t.Fatalf("%d objects, want 3", len(got))
	}
	str := func(v any) bool { _, ok := v.(string); return ok }
	num := func(v any) bool { _, ok := v.(float64); return ok }
	wantTypes := map[string]func(any) bool{
		"mode": str, "gateway_port": num, "relay_port": num, "local": str,
		"discovery": str, "link": str, "max_tunnels": num, "remote": str,
	}
	for i, obj := range got {
		for k, ok := range map[string]func(any) bool{"ifindex": num, "ifname": str, "mtu": num, "operstate": str} {
			if !ok(obj[k]) {
				t.Errorf(".[%d].%s = %#v: wrong type or missing", i, k, obj[k])
			}
		}
		if _, ok := obj["flags"].([]any); !ok {
			t.Errorf(".[%d].flags = %#v, want an array", i, obj["flags"])
		}
		li := obj["linkinfo"].(map[string]any)
		if li["info_kind"] != "amt" {
			t.Errorf(".[%d].linkinfo.info_kind = %v", i, li["info_kind"])
		}
		data := li["info_data"].(map[string]any)
		for k, v := range data {
			check, known := wantTypes[k]
			if !known {
				t.Errorf(".[%d].linkinfo.info_data has key %q, which iproute2 never prints", i, k)
			} else if !check(v) {
				t.Errorf(".[%d].linkinfo.info_data.%s = %#v: wrong JSON type", i, k, v)
			}
		}
		rx := obj["stats64"].(map[string]any)["rx"].(map[string]any)
		if !num(rx["packets"]) || !num(rx["bytes"]) {
			t.Errorf(".[%d].stats64.rx = %v", i, rx)
		}
	}
	// Remote: absent for a relay and for a gateway still discovering
	// (the kernel omits a zero IFLA_AMT_REMOTE_IP), the relay once found.
	for i, want := range []any{nil, nil, "10.0.0.1"} {
		if r := got[i]["linkinfo"].(map[string]any)["info_data"].(map[string]any)["remote"]; r != want {
			t.Errorf(".[%d].linkinfo.info_data.remote = %#v, want %#v", i, r, want)
		}
	}
	if d := got[0]["linkinfo"].(map[string]any)["info_data"].(map[string]any); d["mode"] != "relay" || d["discovery"] != "0.0.0.0" || d["link"] != "veth-r" || d["max_tunnels"] != 128.0 {
		t.Errorf("relay info_data = %v", d)
	}
	if d := got[2]["linkinfo"].(map[string]any)["info_data"].(map[string]any); d["link"] != "if9" {
		t.Errorf("lower device without a name: link = %v, want iproute2's \"if9\"", d["link"])
	}
	if got[2]["master"] != "br0" || got[0]["master"] != nil {
		t.Errorf("master: %v, %v", got[2]["master"], got[0]["master"])
	}
	if diff := cmp.Diff([]any{"POINTOPOINT", "NOARP", "UP", "LOWER_UP"}, got[0]["flags"]); diff != "" {
		t.Errorf("relay flags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"NO-CARRIER", "POINTOPOINT", "NOARP", "UP"}, got[2]["flags"]); diff != "" {
		t.Errorf("up gateway without carrier, flags (-want +got):\n%s", diff)
	}
}

func TestFlagNames(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"LOOPBACK", "UP", "LOWER_UP", "80000000"}, flagNames(iffLoopback|iffUp|iffRunning|iffLowerUp|0x80000000)); diff != "" {
		t.Error(diff)
	}
	if got := flagNames(0); got == nil || len(got) != 0 {
		t.Errorf("flagNames(0) = %#v, want an empty, non-nil slice (JSON [])", got)
	}
}

func TestShowOneAndDelete(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.links = sampleLinks()
	code, out, _ := run(t, f, "show", "amtr")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.HasPrefix(strings.Split(out, "\n")[1], "amtr ") {
		t.Fatalf("show amtr: code %d\n%s", code, out)
	}
	code, out, errOut := run(t, f, "del", "amtr")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("del amtr: code %d stdout %q stderr %q", code, out, errOut)
	}
	code, _, errOut = run(t, f, "delete", "amtg")
	if code != 0 || errOut != "" {
		t.Fatalf("delete amtg: code %d stderr %q", code, errOut)
	}
	if len(f.links) != 1 || f.links[0].Name != "amtg2" {
		t.Errorf("links left: %v", f.links)
	}
	code, _, errOut = run(t, f, "show", "amtr")
	if code != 1 || errOut != "amtctl: amt link \"amtr\" not found\n" {
		t.Errorf("show of deleted link: code %d stderr %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, newFake(), "version")
	if code != 0 || !strings.HasPrefix(out, "amtctl ") {
		t.Errorf("version: code %d %q", code, out)
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-25T04:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := versionOf(bi), "amtctl v0.1.0 revision abc123-dirty 2026-11-25T04:00:00Z go1.26.8"; got != want {
		t.Errorf("versionOf = %q, want %q", got, want)
	}
	if got := versionOf(&debug.BuildInfo{GoVersion: "go1.26.8"}); !strings.Contains(got, "(devel)") || !strings.Contains(got, "no VCS revision") {
		t.Errorf("versionOf without VCS settings = %q", got)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"gw", "relay"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"add", "amtg", ""}, []string{"mode", "local", "discovery", "dev", "relay_port", "gateway_port", "max_tunnels", "master", "mtu", "up"}},
		{[]string{"add", "amtg", "mode", ""}, []string{"gateway", "relay"}},
		{[]string{"add", "amtg", "mode", "r"}, []string{"relay"}},
		{[]string{"add", "amtg", "mode", "relay", "local", "10.0.0.1", ""}, []string{"discovery", "dev", "relay_port", "gateway_port", "max_tunnels", "master", "mtu", "up"}},
		{[]string{"add", "amtg", "mode", "relay", "dev", ""}, []string{"br0", "eth0", "lo", "veth0"}},
		{[]string{"add", "amtg", "master", "b"}, []string{"br0"}},
		{[]string{"add", "amtg", "local", ""}, nil},
		{[]string{"add", ""}, nil},
		{[]string{"show", ""}, []string{"amtr", "amtg", "amtg2"}},
		{[]string{"del", "amtg"}, []string{"amtg", "amtg2"}},
		{[]string{"-n", ""}, []string{"gw", "relay"}},
		{[]string{"show", "--netns", "r"}, []string{"relay"}},
	} {
		f := newFake()
		f.links = sampleLinks()
		code, out, errOut := runHooked(t, f, hooks{netnsDir: dir}, append([]string{"__complete"}, tc.args...)...)
		if code != 0 {
			t.Errorf("complete %q: code %d stderr %q", tc.args, code, errOut)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got := lines[:len(lines)-1] // the last line is the directive
		if len(got) == 0 {
			got = nil
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("complete %q (-want +got):\n%s", tc.args, diff)
		}
	}
}

// badInput is one command line that must fail with one line and leave
// nothing behind.
type badInput struct {
	name  string
	args  []string
	setup func(*fake)
	code  int      // ExitUsage: nothing may even be opened
	want  []string // substrings of the one stderr line: field and fix
}

func relay(extra ...string) []string {
	return append([]string{"add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"}, extra...)
}

func gateway(extra ...string) []string {
	return append([]string{"add", "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth0"}, extra...)
}

func words(s string) []string { return strings.Fields(s) }

// badInputs is shared with the kernel integration test, which replays the
// usage errors against a real namespace.
var badInputs = []badInput{
	// Grammar.
	{name: "unknown keyword", args: relay("foo", "bar"), code: 2, want: []string{`unknown keyword "foo" for add; expected one of: mode, local, discovery, dev, relay_port, gateway_port, max_tunnels, master, mtu, up`}},
	{name: "iproute2 typo", args: relay("gw_port", "1"), code: 2, want: []string{`unknown keyword "gw_port"`, "gateway_port"}},
	{name: "remote is read-only", args: gateway("remote", "10.0.0.1"), code: 2, want: []string{`"remote" is read-only`, "discovery ADDR"}},
	{name: "repeated local", args: relay("local", "10.0.0.2"), code: 2, want: []string{`"local" given twice ("10.0.0.1" and "10.0.0.2"); give it once`}},
	{name: "repeated mode", args: words("add amtr mode relay mode gateway local 10.0.0.1 dev eth0"), code: 2, want: []string{`"mode" given twice`}},
	{name: "repeated up", args: relay("up", "up"), code: 2, want: []string{`"up" given twice; give it once`}},
	{name: "repeated dev", args: relay("dev", "eth1"), code: 2, want: []string{`"dev" given twice`}},
	{name: "flag after name", args: relay("-n", "gw"), code: 2, want: []string{`flag "-n" must come before the link name`, "amtctl -n ... add NAME"}},
	{name: "type not amt", args: words("add amtr type vxlan mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`type "vxlan"`, "type amt"}},
	// Missing values.
	{name: "local without value", args: words("add amtr mode relay dev eth0 local"), code: 2, want: []string{`"local" needs a value: an IPv4 address such as 192.0.2.1`}},
	{name: "mode without value", args: words("add amtr mode"), code: 2, want: []string{`"mode" needs a value: gateway or relay`}},
	{name: "dev without value", args: words("add amtr mode relay local 10.0.0.1 dev"), code: 2, want: []string{`"dev" needs a value`, "eth0"}},
	{name: "discovery without value", args: words("add amtg mode gateway local 10.0.0.2 dev eth0 discovery"), code: 2, want: []string{`"discovery" needs a value: an IPv4 address`}},
	{name: "relay_port without value", args: relay("relay_port"), code: 2, want: []string{`"relay_port" needs a value: a UDP port from 1 to 65535`}},
	{name: "max_tunnels without value", args: relay("max_tunnels"), code: 2, want: []string{`"max_tunnels" needs a value: a number`}},
	{name: "master without value", args: relay("master"), code: 2, want: []string{`"master" needs a value`, "br0"}},
	{name: "mtu without value", args: relay("mtu"), code: 2, want: []string{`"mtu" needs a value`, "1500"}},
	// Addresses.
	{name: "local not an address", args: words("add amtr mode relay local abc dev eth0"), code: 2, want: []string{`local "abc": not an IP address`, "192.0.2.1"}},
	{name: "local IPv6", args: words("add amtr mode relay local 2001:db8::1 dev eth0"), code: 2, want: []string{`local "2001:db8::1": IPv6`, "IPv4"}},
	{name: "local IPv6 multicast", args: words("add amtr mode relay local ff02::1 dev eth0"), code: 2, want: []string{`local "ff02::1"`, "IPv4"}},
	{name: "local IPv4-mapped", args: words("add amtr mode relay local ::ffff:10.0.0.1 dev eth0"), code: 2, want: []string{`local "::ffff:10.0.0.1"`, "10.0.0.1"}},
	{name: "local multicast", args: words("add amtr mode relay local 239.1.1.1 dev eth0"), code: 2, want: []string{`local "239.1.1.1": multicast`, "unicast"}},
	{name: "local broadcast", args: words("add amtr mode relay local 255.255.255.255 dev eth0"), code: 2, want: []string{`local "255.255.255.255": broadcast`}},
	{name: "local unspecified", args: words("add amtr mode relay local 0.0.0.0 dev eth0"), code: 2, want: []string{`local "0.0.0.0"`, "192.0.2.1"}},
	{name: "local loopback", args: words("add amtr mode relay local 127.0.0.1 dev eth0"), code: 2, want: []string{`local "127.0.0.1": loopback`}},
	{name: "local link-local", args: words("add amtr mode relay local 169.254.1.1 dev eth0"), code: 2, want: []string{`local "169.254.1.1": link-local`}},
	{name: "local with prefix", args: words("add amtr mode relay local 10.0.0.1/24 dev eth0"), code: 2, want: []string{`local "10.0.0.1/24": not an IP address`}},
	{name: "local with zone", args: words("add amtr mode relay local fe80::1%eth0 dev eth0"), code: 2, want: []string{`local "fe80::1%eth0"`}},
	{name: "discovery multicast", args: words("add amtg mode gateway local 10.0.0.2 discovery 224.0.0.1 dev eth0"), code: 2, want: []string{`discovery "224.0.0.1": multicast`}},
	{name: "discovery hostname", args: words("add amtg mode gateway local 10.0.0.2 discovery relay.example dev eth0"), code: 2, want: []string{`discovery "relay.example": not an IP address`}},
	{name: "discovery IPv6", args: words("add amtg mode gateway local 10.0.0.2 discovery 2001:db8::2 dev eth0"), code: 2, want: []string{`discovery "2001:db8::2": IPv6`}},
	// Ports and numbers.
	{name: "gateway_port 0", args: relay("gateway_port", "0"), code: 2, want: []string{`gateway_port "0": port 0`, "2268"}},
	{name: "gateway_port 70000", args: relay("gateway_port", "70000"), code: 2, want: []string{`gateway_port "70000": out of range`, "1 to 65535"}},
	{name: "relay_port abc", args: relay("relay_port", "abc"), code: 2, want: []string{`relay_port "abc"`, "1 to 65535"}},
	{name: "relay_port -1", args: relay("relay_port", "-1"), code: 2, want: []string{`relay_port "-1"`, "1 to 65535"}},
	{name: "relay_port hex", args: relay("relay_port", "0x8dc"), code: 2, want: []string{`relay_port "0x8dc"`}},
	{name: "max_tunnels abc", args: relay("max_tunnels", "abc"), code: 2, want: []string{`max_tunnels "abc"`, "4294967295"}},
	{name: "max_tunnels -1", args: relay("max_tunnels", "-1"), code: 2, want: []string{`max_tunnels "-1"`}},
	{name: "max_tunnels 0", args: relay("max_tunnels", "0"), code: 2, want: []string{`max_tunnels "0"`, "default 128"}},
	{name: "max_tunnels 2^32", args: relay("max_tunnels", "4294967296"), code: 2, want: []string{`max_tunnels "4294967296": out of range`}},
	{name: "max_tunnels in gateway mode", args: gateway("max_tunnels", "10"), code: 2, want: []string{`max_tunnels "10"`, `"mode relay"`}},
	{name: "mtu abc", args: relay("mtu", "abc"), code: 2, want: []string{`mtu "abc"`, "1500"}},
	{name: "mtu 0", args: relay("mtu", "0"), code: 2, want: []string{`mtu "0"`, "68 to 65535"}},
	{name: "mtu 70000", args: relay("mtu", "70000"), code: 2, want: []string{`mtu "70000"`}},
	// Mode and required keywords.
	{name: "mode foo", args: words("add amtr mode foo local 10.0.0.1 dev eth0"), code: 2, want: []string{`mode "foo"`, `"gateway" or "relay"`}},
	{name: "mode upper case", args: words("add amtr mode RELAY local 10.0.0.1 dev eth0"), code: 2, want: []string{`mode "RELAY"`}},
	{name: "missing mode", args: words("add amtr local 10.0.0.1 dev eth0"), code: 2, want: []string{`add needs "mode": gateway or relay`}},
	{name: "missing local", args: words("add amtr mode relay dev eth0"), code: 2, want: []string{`add needs "local"`, "192.0.2.1"}},
	{name: "missing dev", args: words("add amtr mode relay local 10.0.0.1"), code: 2, want: []string{`add needs "dev"`, "eth0"}},
	{name: "gateway without discovery", args: words("add amtg mode gateway local 10.0.0.2 dev eth0"), code: 2, want: []string{`gateway mode needs "discovery"`}},
	{name: "discovery in relay mode", args: relay("discovery", "10.0.0.9"), code: 2, want: []string{`discovery "10.0.0.9"`, `remove "discovery"`}},
	// Names.
	{name: "missing name", args: words("add"), code: 2, want: []string{"add needs a link name", "amtctl add NAME"}},
	{name: "empty name", args: []string{"add", "", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"}, code: 2, want: []string{`name: empty`}},
	{name: "name too long", args: words("add amt0123456789abc mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`name "amt0123456789abc": 16 bytes long`, "at most 15"}},
	{name: "name with slash", args: words("add amt/0 mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`name "amt/0": contains "/"`}},
	{name: "name with space", args: []string{"add", "amt 0", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"}, code: 2, want: []string{`name "amt 0": contains white space`}},
	{name: "name with colon", args: words("add amt:0 mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`name "amt:0": contains ":"`}},
	{name: "name is dot-dot", args: words("add .. mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`name "..": not a valid device name`}},
	{name: "name template", args: words("add amt%d mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`name "amt%d": contains "%"`}},
	{name: "name forgotten", args: words("add mode relay local 10.0.0.1 dev eth0"), code: 2, want: []string{`name "mode": is an add keyword`, "give the name first"}},
	{name: "dev name too long", args: words("add amtr mode relay local 10.0.0.1 dev eth0123456789abcd"), code: 2, want: []string{`dev "eth0123456789abcd"`}},
	{name: "master with slash", args: relay("master", "br/0"), code: 2, want: []string{`master "br/0"`}},
	// Other commands and flags.
	{name: "unknown command", args: words("frob"), code: 2, want: []string{`unknown command "frob"`, "amtctl --help"}},
	{name: "unknown flag", args: words("--bogus show"), code: 2, want: []string{"unknown flag: --bogus", "--help"}},
	{name: "netns without value", args: words("show -n"), code: 2, want: []string{"flag needs an argument", "'n'"}},
	{name: "show two names", args: words("show a b"), code: 2, want: []string{`show takes at most one link name, got 2 ("a" "b")`}},
	{name: "show bad name", args: words("show a/b"), code: 2, want: []string{`name "a/b"`}},
	{name: "del no name", args: words("del"), code: 2, want: []string{"del needs a link name", "amtctl del NAME"}},
	{name: "del two names", args: words("del a b"), code: 2, want: []string{"del takes exactly one link name"}},
	{name: "version with args", args: words("version x"), code: 2, want: []string{`"x"`}},
	// Well-formed, refused by the kernel (the fake maps errors as amtlink does).
	{name: "existing name", args: relay(), setup: func(f *fake) { f.links = sampleLinks() }, code: 1,
		want: []string{`a link named "amtr" already exists in this network namespace`, "amtctl del amtr"}},
	{name: "unknown dev", args: words("add amtr mode relay local 10.0.0.1 dev eth9"), code: 1, want: []string{`dev "eth9" not found`, "ip link show"}},
	{name: "unknown master", args: relay("master", "br9"), code: 1, want: []string{`dev "eth0" or master "br9" not found`}},
	{name: "no AMT driver", args: relay(), setup: func(f *fake) {
		f.createErr = &amtlink.Error{Op: "create", Name: "amtr", Err: amtlink.ErrNoDriver}
	}, code: 1, want: []string{"no AMT driver", "modprobe amt"}},
	{name: "permission denied", args: relay(), setup: func(f *fake) {
		f.createErr = &amtlink.Error{Op: "create", Name: "amtr", Err: syscall.EPERM}
	}, code: 1, want: []string{"permission denied", "CAP_NET_ADMIN"}},
	{name: "port in use", args: relay("up"), setup: func(f *fake) {
		f.createErr = &amtlink.Error{Op: "create", Name: "amtr", Err: syscall.EADDRINUSE}
	}, code: 1, want: []string{"UDP port 2268 is already in use", "relay_port N"}},
	{name: "kernel extack", args: relay(), setup: func(f *fake) {
		f.createErr = &amtlink.Error{Op: "create", Name: "amtr", Message: "Invalid stream device type", Err: syscall.EINVAL}
	}, code: 1, want: []string{"create amtr: kernel: Invalid stream device type"}},
	{name: "no such namespace", args: append([]string{"-n", "nope"}, relay()...), setup: func(f *fake) {
		f.openErr = fmt.Errorf(`network namespace "nope" not found (ip netns add nope?): %w`, os.ErrNotExist)
	}, code: 1, want: []string{`network namespace "nope" not found`}},
	{name: "show missing link", args: words("show x"), code: 1, want: []string{`amt link "x" not found`}},
	{name: "del missing link", args: words("-n gw del x"), code: 1, want: []string{`amt link "x" not found in network namespace "gw"`}},
	{name: "del non-amt link", args: words("del eth0"), setup: func(f *fake) {
		f.deleteErr = &amtlink.Error{Op: "delete", Name: "eth0", Err: amtlink.ErrNotAMT}
	}, code: 1, want: []string{"eth0 is not an amt link"}},
	{name: "list fails", args: words("show"), setup: func(f *fake) {
		f.listErr = &amtlink.Error{Op: "list", Err: syscall.EPERM}
	}, code: 1, want: []string{"list: permission denied", "CAP_NET_ADMIN"}},
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	if len(badInputs) < 40 {
		t.Fatalf("only %d bad-input cases", len(badInputs))
	}
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			before := len(f.links)
			code, out, errOut := run(t, f, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			checkOneLine(t, errOut, tc.want)
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if len(f.links) != before {
				t.Errorf("links went from %d to %d: something was created", before, len(f.links))
			}
			if tc.code == ExitUsage {
				if len(f.creates) != 0 || len(f.opened) != 0 {
					t.Errorf("usage error, yet the backend was opened %d times and Create called %d times", len(f.opened), len(f.creates))
				}
			}
		})
	}
}

// checkOneLine asserts that stderr is exactly one "amtctl: " line holding
// every wanted substring.
func checkOneLine(t *testing.T, stderr string, want []string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "amtctl: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q is not one \"amtctl: \" line", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

func TestExitCodeOfWrappedErrors(t *testing.T) {
	t.Parallel()
	fe := &ifla.FieldError{Field: "local", Reason: "x"}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{usagef("x"), 2},
		{fe, 2},
		{runErr(fe), 2},
		{runErr(&amtlink.Error{Op: "create", Err: fe}), 2},
		{runErr(errors.New("x")), 1},
		{errors.New("cobra"), 2},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
