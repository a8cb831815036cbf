package testenv

import (
	"errors"
	"os"
	"testing"
)

func TestKernelRelease(t *testing.T) {
	if r := KernelRelease(); r == "" || r == "unknown" {
		t.Fatalf("KernelRelease() = %q", r)
	}
}

func TestRequireKernel(t *testing.T) {
	t.Setenv(RequireKernelEnv, "1")
	if !RequireKernel() {
		t.Fatal("RequireKernel() = false with the variable set")
	}
	t.Setenv(RequireKernelEnv, "")
	if RequireKernel() {
		t.Fatal("RequireKernel() = true with the variable empty")
	}
}

// TestIntegrationNetNS checks that a new namespace is separate from ours and
// that the AMT probe gives a definite answer.
func TestIntegrationNetNS(t *testing.T) {
	f := NewNetNS(t)
	var a, b os.FileInfo
	var err error
	if a, err = f.Stat(); err != nil {
		t.Fatal(err)
	}
	if b, err = os.Stat("/proc/self/ns/net"); err != nil {
		t.Fatal(err)
	}
	if os.SameFile(a, b) {
		t.Fatal("NewNetNS returned the current namespace")
	}
	err = ProbeAMT()
	t.Logf("kernel %s: ProbeAMT() = %v", KernelRelease(), err)
	if err != nil && !errors.Is(err, ErrNoAMT) {
		t.Fatalf("ProbeAMT: %v", err)
	}
	if RequireKernel() && err != nil {
		t.Fatalf("in the VM the kernel must have AMT: %v", err)
	}
}
