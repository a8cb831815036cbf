//go:build linux

package selftests

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/cli"

	"github.com/amtctl/amtctl/internal/testenv"
)

// kselftest exit codes (tools/testing/selftests/kselftest.h).
const (
	ksftPass = 0
	ksftFail = 1
	ksftSkip = 4
)

var tortureBytes = flag.Int64("amt.torture-bytes", 4<<20,
	"bytes each torture case pushes through the tunnel (amt.sh uses 1 GiB: 1073741824)")

var strict = flag.Bool("amt.strict", false,
	"report a case that runs into a known driver issue as [FAIL] instead of [XFAIL], and one that passes "+
		"despite declaring a known issue as [ OK ] instead of [XPASS]: for testing a kernel with driver fixes")

// Case results, for the summary and the standalone exit code.
var results struct {
	sync.Mutex
	pass, fail, skip, xfail, xpass int
	elapsed                        time.Duration
}

// knownIssue names a driver behaviour a case checks for and that current
// kernels are known to get wrong, with where in drivers/net/amt.c.
type knownIssue string

var (
	// declared maps a case's *testing.T to the known issues it declared
	// with expectIssue ([]knownIssue).
	declared sync.Map
	// xfails maps a case's *testing.T to the known issue it ran into.
	xfails sync.Map
)

// expectIssue declares, at the start of a case, the known issues the case
// checks for: the only ones it may end on with xfail. When the case then
// passes, the issue did not reproduce and the case is reported as [XPASS]
// (kselftest.h's KSFT_XPASS), with a comment line naming the issue, so that
// a kernel fixing it does not go unnoticed.
func expectIssue(t testing.TB, issues ...knownIssue) {
	t.Helper()
	if len(issues) == 0 {
		t.Fatal("test bug: expectIssue without an issue")
	}
	var have []knownIssue
	if v, ok := declared.Load(t); ok {
		have = v.([]knownIssue)
	}
	declared.Store(t, append(have, issues...))
}

// declaredIssues returns what t declared with expectIssue.
func declaredIssues(t testing.TB) []knownIssue {
	v, _ := declared.Load(t)
	issues, _ := v.([]knownIssue)
	return issues
}

// xfail ends the case as an expected failure: the check found the driver
// doing what issue describes. kselftest reports such a case as [XFAIL]
// (tools/testing/selftests/kselftest.h ksft_test_result_xfail) and does not
// count it as a failure; go test shows it as skipped, with the details. A
// kernel that fixes the issue turns the case into an [XPASS].
//
// With -amt.strict the case fails instead, with the same message. An issue
// the case did not declare with expectIssue is a bug in the case: it fails.
func xfail(t testing.TB, issue knownIssue, err error) {
	t.Helper()
	if !slices.Contains(declaredIssues(t), issue) {
		t.Fatalf("test bug: the case ran into a known issue it did not declare with expectIssue (it declared %d): %s\nobserved: %v",
			len(declaredIssues(t)), issue, err)
	}
	if *strict {
		t.Fatalf("known driver issue (an XFAIL without -amt.strict): %s\nobserved: %v", issue, err)
	}
	xfails.Store(t, issue)
	t.Skipf("XFAIL, known driver issue: %s\nobserved: %v", issue, err)
}

func TestMain(m *testing.M) {
	if os.Getenv(amtctlEnv) == "1" {
		// The test binary run again as amtctl itself (runAmtctl).
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		if name, ok := current.Load().(string); ok && name != "" {
			printResult(name, statusFail, 0)
		}
		fmt.Fprintf(os.Stdout, "# %v: tearing down the namespaces and exiting\n", s)
		closeAllForSignal()
		os.Exit(ksftFail)
	}()

	fmt.Printf("# amtctl selftests (port of tools/testing/selftests/net/amt.sh) on kernel %s\n", testenv.KernelRelease())
	code := m.Run()

	results.Lock()
	pass, fail, skip, xf, xp, elapsed := results.pass, results.fail, results.skip, results.xfail, results.xpass, results.elapsed
	results.Unlock()
	if pass+fail+skip+xf+xp > 0 {
		fmt.Printf("# %d passed, %d failed, %d skipped, %d expected failures, %d unexpected passes (%.1fs in cases)\n",
			pass, fail, skip, xf, xp, elapsed.Seconds())
	}
	// Under `go test` a non-zero status means failure, so only a standalone
	// binary says "skipped" with kselftest's 4. cmd/go always passes
	// -test.paniconexit0; a CI running the binary itself does not. An XPASS
	// counts as a pass here, not as kselftest's KSFT_XPASS (3): a fixed
	// driver is good news, and its comment line says so.
	if code == 0 && !underGoTest() && pass == 0 && fail == 0 && xf == 0 && xp == 0 && skip > 0 {
		code = ksftSkip
	}
	os.Exit(code)
}

func underGoTest() bool {
	f := flag.Lookup("test.paniconexit0")
	return f != nil && f.Value.String() == "true"
}

type status int

const (
	statusOK status = iota
	statusFail
	statusSkip
	statusXFail
	statusXPass
)

// printResult prints amt.sh's result line and counts it.
func printResult(name string, s status, took time.Duration) {
	label := map[status]string{statusOK: "[ OK ]", statusFail: "[FAIL]", statusSkip: "[SKIP]", statusXFail: "[XFAIL]", statusXPass: "[XPASS]"}[s]
	fmt.Printf("TEST: %-60s  %s\n", name, label)
	results.Lock()
	defer results.Unlock()
	results.elapsed += took
	switch s {
	case statusOK:
		results.pass++
	case statusFail:
		results.fail++
	case statusXFail:
		results.xfail++
	case statusXPass:
		results.xpass++
	default:
		results.skip++
	}
}

// reasonTB records why testenv skipped or failed a suite's setup, so that
// the kselftest output, which shows no test log, can say it.
type reasonTB struct {
	testing.TB
	reason *string
}

func (r reasonTB) Skipf(format string, args ...any) {
	*r.reason = "SKIP: " + fmt.Sprintf(format, args...)
	r.TB.Skipf(format, args...)
}

func (r reasonTB) Fatalf(format string, args ...any) {
	*r.reason = "FAIL: " + fmt.Sprintf(format, args...)
	r.TB.Fatalf(format, args...)
}

// setupReason is what the running suite's prerequisites said, if anything.
var setupReason string

// requireAMT is testenv.RequireAMT for a suite's setup.
func requireAMT(t *testing.T) {
	t.Helper()
	testenv.RequireAMT(reasonTB{TB: t, reason: &setupReason})
}

// requireRoot is testenv.RequireRoot for a suite's setup.
func requireRoot(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(reasonTB{TB: t, reason: &setupReason})
}

// suiteCase is one named case run against a shared environment E.
type suiteCase[E any] struct {
	name string
	run  func(t *testing.T, env E)
}

// runSuite runs setup in t, then every case in order as a subtest on what
// setup returned, printing one kselftest line per case. When setup skips
// (no root, no AMT) or fails, every case is printed as skipped or failed, so
// a CI log always shows the full list.
func runSuite[E any](t *testing.T, setup func(t *testing.T) E, cases ...suiteCase[E]) {
	t.Helper()
	ready := false
	start := time.Now()
	setupReason = ""
	defer func() {
		if ready {
			return
		}
		if setupReason != "" {
			fmt.Printf("# %s\n", setupReason)
		}
		// setup ended the test (Skip, Fatal, or a panic on its way up).
		s := statusFail
		if t.Skipped() {
			s = statusSkip
		}
		for _, c := range cases {
			printResult(c.name, s, 0)
		}
		results.Lock()
		results.elapsed += time.Since(start)
		results.Unlock()
	}()
	env := setup(t)
	t.Logf("setup took %v", time.Since(start).Round(time.Millisecond))
	results.Lock()
	results.elapsed += time.Since(start)
	results.Unlock()
	ready = true
	for _, c := range cases {
		runCase(t, c.name, func(t *testing.T) { c.run(t, env) })
	}
}

// current is the name of the case running now ("" between cases), so that
// an interrupted run still prints a result line for it.
var current atomic.Value

// runCase runs fn as subtest name and prints its kselftest line once it has
// finished, cleanups included.
func runCase(t *testing.T, name string, fn func(t *testing.T)) bool {
	t.Helper()
	ran, skipped, expected := false, false, false
	var issues []knownIssue
	current.Store(name)
	defer current.Store("")
	start := time.Now()
	ok := t.Run(name, func(t *testing.T) {
		ran = true
		defer func() {
			skipped = t.Skipped()
			_, expected = xfails.LoadAndDelete(t)
			issues = declaredIssues(t)
			declared.Delete(t)
		}()
		fn(t)
	})
	took := time.Since(start)
	if !ran {
		return ok // filtered out by -run: no line, it was not tested
	}
	t.Logf("%s: %v", name, took.Round(time.Millisecond))
	s := outcome(ok, skipped, expected, len(issues) > 0, *strict)
	if s == statusXPass {
		msg := xpassComment(issues)
		t.Logf("%s: %s", name, msg)
		fmt.Printf("# %s\n", msg)
	}
	printResult(name, s, took)
	return ok
}

// outcome is a finished case's kselftest result: whether it passed (ok;
// skips pass), was skipped, ended with xfail, declared known issues, and
// whether -amt.strict is on (xfail has then failed the case already).
func outcome(ok, skipped, xfailed, declaredIssues, strict bool) status {
	switch {
	case !ok:
		return statusFail
	case skipped && xfailed:
		return statusXFail
	case skipped:
		return statusSkip
	case declaredIssues && !strict:
		return statusXPass
	default:
		return statusOK
	}
}

// xpassComment is the comment line above an [XPASS]: which known issues
// the case checked for and did not find.
func xpassComment(issues []knownIssue) string {
	s := make([]string, len(issues))
	for i, is := range issues {
		s[i] = string(is)
	}
	return fmt.Sprintf("XPASS: known driver issue no longer reproduces on kernel %s; check whether the kernel fixed it: %s",
		testenv.KernelRelease(), strings.Join(s, " | "))
}
