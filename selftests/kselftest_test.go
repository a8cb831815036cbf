package selftests

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// Case results, for the summary and the standalone exit code.
var results struct {
	sync.Mutex
	pass, fail, skip, xfail int
	elapsed                 time.Duration
}

// knownIssue names a driver behaviour a case checks for and that current
// kernels are known to get wrong, with where in drivers/net/amt.c.
type knownIssue string

// xfails maps a case's *testing.T to the known issue it ran into.
var xfails sync.Map

// xfail ends the case as an expected failure: the check found the driver
// doing what issue describes. kselftest reports such a case as [XFAIL]
// (tools/testing/selftests/kselftest.h ksft_test_result_xfail) and does not
// count it as a failure; go test shows it as skipped, with the details. A
// kernel that fixes the issue turns the case into a plain pass.
func xfail(t *testing.T, issue knownIssue, err error) {
	t.Helper()
	xfails.Store(t, issue)
	t.Skipf("XFAIL, known driver issue: %s\nobserved: %v", issue, err)
}

func TestMain(m *testing.M) {
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
	pass, fail, skip, xf, elapsed := results.pass, results.fail, results.skip, results.xfail, results.elapsed
	results.Unlock()
	if pass+fail+skip+xf > 0 {
		fmt.Printf("# %d passed, %d failed, %d skipped, %d expected failures (%.1fs in cases)\n", pass, fail, skip, xf, elapsed.Seconds())
	}
	// Under `go test` a non-zero status means failure, so only a standalone
	// binary says "skipped" with kselftest's 4. cmd/go always passes
	// -test.paniconexit0; a CI running the binary itself does not.
	if code == 0 && !underGoTest() && pass == 0 && fail == 0 && xf == 0 && skip > 0 {
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
)

// printResult prints amt.sh's result line and counts it.
func printResult(name string, s status, took time.Duration) {
	label := map[status]string{statusOK: "[ OK ]", statusFail: "[FAIL]", statusSkip: "[SKIP]", statusXFail: "[XFAIL]"}[s]
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
	current.Store(name)
	defer current.Store("")
	start := time.Now()
	ok := t.Run(name, func(t *testing.T) {
		ran = true
		defer func() {
			skipped = t.Skipped()
			_, expected = xfails.Load(t)
		}()
		fn(t)
	})
	took := time.Since(start)
	if !ran {
		return ok // filtered out by -run: no line, it was not tested
	}
	t.Logf("%s: %v", name, took.Round(time.Millisecond))
	switch {
	case !ok:
		printResult(name, statusFail, took)
	case skipped && expected:
		printResult(name, statusXFail, took)
	case skipped:
		printResult(name, statusSkip, took)
	default:
		printResult(name, statusOK, took)
	}
	return ok
}
