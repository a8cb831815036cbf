//go:build linux

package cli

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// addDummy creates an up dummy device called name holding addr/24 in ns.
func addDummy(t testing.TB, ns *os.File, name, addr string) {
	t.Helper()
	c := dialNS(t, ns)
	if err := c.Link.New(&rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: name, Info: &rtnetlink.LinkInfo{Kind: "dummy"}},
	}); err != nil {
		t.Fatalf("create dummy %s: %v", name, err)
	}
	upWithAddr(t, c, name, addr)
}

// nsClient is an amtlink client in ns, for changing and checking the
// kernel's state behind amtctl's back.
func nsClient(t *testing.T, ns *os.File) *amtlink.Client {
	t.Helper()
	c, err := amtlink.Dial(amtlink.NetNSFromFD(int(ns.Fd())))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runKernel runs amtctl in-process on the real backend with stdin.
func runKernel(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	root := NewRootCommand(OpenAMTLink)
	root.SetIn(strings.NewReader(stdin))
	code := Execute(root, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestIntegrationApply converges a fresh namespace from empty, from drift
// (a link deleted by hand, one re-created with another discovery address,
// one set down, one extra), with and without --prune, and checks that a
// second apply is a no-op.
func TestIntegrationApply(t *testing.T) {
	testenv.RequireAMT(t)
	t.Logf("kernel %s", testenv.KernelRelease())
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	addBridge(t, ns, "br0")
	path := testenv.NetNSPath(ns)
	kc := nsClient(t, ns)

	// Each link that is up binds its own UDP port.
	file := filepath.Join(t.TempDir(), "links.yaml")
	if err := os.WriteFile(file, []byte(`links:
  - name: amtr
    mode: relay
    local: 10.0.0.1
    dev: eth0
    relay_port: 2300
    max_tunnels: 16
    up: true
  - name: amtg
    mode: gateway
    local: 10.0.0.1
    discovery: 10.0.0.9
    dev: eth0
    relay_port: 2301
    gateway_port: 2301
    up: true
  - name: amts
    mode: relay
    local: 10.0.0.1
    dev: eth0
    relay_port: 2302
    mtu: 1400
    master: br0
    up: true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	apply := func(extra ...string) string {
		t.Helper()
		code, out, errOut := runKernel("", append([]string{"-n", path, "apply", "-f", file}, extra...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("apply %q: exit %d, stderr %q, stdout:\n%s", extra, code, errOut, out)
		}
		t.Logf("apply %q:\n%s", extra, out)
		return out
	}
	check := func() {
		t.Helper()
		links, err := kc.List()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]amtlink.Link{}
		for _, l := range links {
			got[l.Name] = l
		}
		r, g, s := got["amtr"], got["amtg"], got["amts"]
		if r.Name == "" || *r.AMT.Mode != ifla.ModeRelay || *r.AMT.RelayPort != 2300 || *r.AMT.MaxTunnels != 16 || !r.Up() || r.LowerName != "eth0" {
			t.Errorf("amtr as the kernel has it: %+v", r)
		}
		if g.Name == "" || *g.AMT.Mode != ifla.ModeGateway || g.AMT.Discovery.String() != "10.0.0.9" || *g.AMT.GatewayPort != 2301 || !g.Up() {
			t.Errorf("amtg as the kernel has it: %+v", g)
		}
		if s.Name == "" || s.MTU != 1400 || s.Master != "br0" || !s.Up() {
			t.Errorf("amts as the kernel has it: %+v", s)
		}
	}

	// From empty.
	out := apply()
	if strings.Count(out, "create ") != 3 {
		t.Errorf("from empty: want three creates:\n%s", out)
	}
	check()
	if out := apply(); out != "no changes\n" {
		t.Errorf("second apply: %q, want \"no changes\"", out)
	}

	// Drift, made behind amtctl's back.
	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	if err := kc.Delete("amtg"); err != nil {
		t.Fatal(err)
	}
	mode := ifla.ModeGateway
	if _, err := kc.Create(amtlink.Spec{Name: "amtg", Dev: "eth0", Up: true, AMT: ifla.AMT{Mode: &mode,
		Local: netip.MustParseAddr("10.0.0.1"), Discovery: netip.MustParseAddr("10.0.0.8"), RelayPort: ifla.Ptr[uint16](2301), GatewayPort: ifla.Ptr[uint16](2301)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Set("amts", amtlink.Change{Up: ifla.Ptr(false)}); err != nil {
		t.Fatal(err)
	}
	relay := ifla.ModeRelay
	if _, err := kc.Create(amtlink.Spec{Name: "amtx", Dev: "eth0", AMT: ifla.AMT{Mode: &relay, Local: netip.MustParseAddr("10.0.0.1"), RelayPort: ifla.Ptr[uint16](2399)}}); err != nil {
		t.Fatal(err)
	}

	// Dry run: the plan, and nothing changes.
	code, plan, errOut := runKernel("", "-n", path, "apply", "-f", file, "--dry-run", "--prune")
	wantPlan := "delete amtx: not in the file (--prune)\n" +
		"create amtr: mode relay local 10.0.0.1 dev eth0 relay_port 2300 max_tunnels 16 up\n" +
		"replace amtg: discovery 10.0.0.8 → 10.0.0.9 " + replaceWhy + "\n" +
		"set amts: down → up\n" +
		"dry run: 4 change(s) planned, nothing changed\n"
	if code != 0 || errOut != "" || plan != wantPlan {
		t.Errorf("dry run: exit %d stderr %q stdout:\n%s\nwant:\n%s", code, errOut, plan, wantPlan)
	}
	if names := strings.Join(amtLinks(t, ns), " "); names != "amts amtg amtx" {
		t.Errorf("after the dry run the links are %q, want them untouched (amts amtg amtx)", names)
	}

	// Without --prune, amtx stays.
	out = apply()
	if !strings.Contains(out, "create amtr") || !strings.Contains(out, "replace amtg: discovery 10.0.0.8 → 10.0.0.9") ||
		!strings.Contains(out, "set amts: down → up") || strings.Contains(out, "amtx") {
		t.Errorf("apply after drift:\n%s", out)
	}
	check()
	if out := apply(); out != "no changes\n" {
		t.Errorf("apply after convergence: %q, want \"no changes\"", out)
	}
	if out := apply("--prune"); out != "delete amtx: not in the file (--prune)\n" {
		t.Errorf("apply --prune: %q", out)
	}
	if out := apply("--prune"); out != "no changes\n" {
		t.Errorf("apply --prune again: %q", out)
	}
	check()

	// A link the kernel refuses is reported; the others converge.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(`links:
  - {name: amtr, mode: relay, local: 10.0.0.1, dev: eth0, relay_port: 2300, max_tunnels: 16, up: true}
  - {name: amtq, mode: relay, local: 10.0.0.1, dev: eth9}
  - {name: amtp, mode: relay, local: 10.0.0.1, dev: eth0, relay_port: 2303}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runKernel("", "-n", path, "apply", "-f", bad)
	if code != ExitError || !strings.Contains(errOut, `create amtq: dev "eth9" not found`) {
		t.Errorf("apply with a missing dev: exit %d stderr %q", code, errOut)
	}
	if names := strings.Join(amtLinks(t, ns), " "); !strings.Contains(names, "amtp") || strings.Contains(names, "amtq") {
		t.Errorf("links %q: want amtp made and no amtq", names)
	}

	// An invalid file changes nothing.
	before := strings.Join(amtLinks(t, ns), " ")
	code, _, errOut = runKernel("links:\n  - {name: amtz, mode: relay, local: 10.0.0.1, dev: eth0, max_tunels: 3}\n", "-n", path, "apply", "-f", "-", "--prune")
	if code != ExitUsage || !strings.Contains(errOut, `stdin:2: amtz: unknown key "max_tunels"`) {
		t.Errorf("invalid file: exit %d stderr %q", code, errOut)
	}
	if after := strings.Join(amtLinks(t, ns), " "); after != before {
		t.Errorf("an invalid file changed the links from %q to %q", before, after)
	}
}

// TestIntegrationBatch creates and deletes links with one batch and stops
// cleanly at a line the kernel refuses.
func TestIntegrationBatch(t *testing.T) {
	testenv.RequireAMT(t)
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	path := testenv.NetNSPath(ns)

	var b strings.Builder
	b.WriteString("# make ten, delete five\n")
	for i := 0; i < 10; i++ {
		b.WriteString("add amtb" + strconv.Itoa(i) + " mode relay local 10.0.0.1 dev eth0 relay_port " + strconv.Itoa(2400+i) + " up\n")
	}
	for i := 0; i < 10; i += 2 {
		b.WriteString("del amtb" + strconv.Itoa(i) + "\n")
	}
	code, out, errOut := runKernel(b.String(), "-n", path, "-batch", "-")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("batch: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if names := strings.Join(amtLinks(t, ns), " "); names != "amtb1 amtb3 amtb5 amtb7 amtb9" {
		t.Errorf("after the batch: %q", names)
	}

	// Line 3 names a device that does not exist: the batch stops there.
	code, _, errOut = runKernel("del amtb1\n\nadd amtc mode relay local 10.0.0.1 dev eth9\ndel amtb3\n", "-n", path, "-batch", "-")
	want := `amtctl: line 3: add amtc: dev "eth9" not found`
	if code != ExitError || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("bad line: exit %d stderr %q; want 1 and %q", code, errOut, want)
	}
	if names := strings.Join(amtLinks(t, ns), " "); names != "amtb3 amtb5 amtb7 amtb9" {
		t.Errorf("after the failed batch: %q, want amtb1 gone and amtb3 kept", names)
	}

	// With -force the rest runs.
	code, _, errOut = runKernel("add amtc mode relay local 10.0.0.1 dev eth9\ndel amtb3\n", "-n", path, "-force", "-batch", "-")
	if code != ExitError || !strings.Contains(errOut, "line 1:") || !strings.Contains(errOut, "1 of 2 commands failed") {
		t.Errorf("-force: exit %d stderr %q", code, errOut)
	}
	if names := strings.Join(amtLinks(t, ns), " "); names != "amtb5 amtb7 amtb9" {
		t.Errorf("after -force: %q", names)
	}
}
