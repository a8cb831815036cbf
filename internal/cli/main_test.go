package cli

import (
	"os"
	"testing"
)

// beAmtctlEnv, set to 1, makes the test binary amtctl itself: TestMain runs
// Main with the arguments after the program name and exits with its
// status. Kernel tests use it to run amtctl as a process of its own, which
// they can kill -9.
const beAmtctlEnv = "AMTCTL_TEST_BE_AMTCTL"

func TestMain(m *testing.M) {
	if os.Getenv(beAmtctlEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
