//go:build linux

package selftests

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestOutcome checks which kselftest line each way a case can end gets.
func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		ok, skipped, xfailed, declared, strict bool
		want                                   status
	}{
		{ok: true, want: statusOK},
		{ok: true, strict: true, want: statusOK},
		{ok: false, want: statusFail},
		{ok: false, declared: true, want: statusFail},
		{ok: false, declared: true, strict: true, want: statusFail}, // xfail under -amt.strict
		{ok: true, skipped: true, want: statusSkip},
		{ok: true, skipped: true, declared: true, want: statusSkip}, // no AMT: not an XPASS
		{ok: true, skipped: true, xfailed: true, declared: true, want: statusXFail},
		{ok: true, declared: true, want: statusXPass},
		{ok: true, declared: true, strict: true, want: statusOK},
	} {
		if got := outcome(c.ok, c.skipped, c.xfailed, c.declared, c.strict); got != c.want {
			t.Errorf("outcome(ok=%v, skipped=%v, xfailed=%v, declared=%v, strict=%v) = %v, want %v",
				c.ok, c.skipped, c.xfailed, c.declared, c.strict, got, c.want)
		}
	}
}

// recordTB is a testing.TB whose Fatalf and Skipf record the message and
// end the call with a panic that ends recovers.
type recordTB struct {
	testing.TB
	verb, msg string
}

type stop struct{}

func (r *recordTB) Helper() {}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.verb, r.msg = "fatal", fmt.Sprintf(format, args...)
	panic(stop{})
}
func (r *recordTB) Skipf(format string, args ...any) {
	r.verb, r.msg = "skip", fmt.Sprintf(format, args...)
	panic(stop{})
}

// TestXFail checks xfail's three ways out: a skip recorded as an expected
// failure, a failure under -amt.strict, and a failure for an issue the case
// did not declare.
func TestXFail(t *testing.T) {
	const issueA, issueB knownIssue = "issue A: the driver does A", "issue B: the driver does B"
	observed := errors.New("saw A")
	for _, c := range []struct {
		name     string
		declare  []knownIssue
		strict   bool
		wantVerb string
		wantMsg  []string
		wantXF   bool
	}{
		{"declared", []knownIssue{issueA}, false, "skip", []string{"XFAIL", string(issueA), "saw A"}, true},
		{"declared among two", []knownIssue{issueB, issueA}, false, "skip", []string{"XFAIL", string(issueA)}, true},
		{"strict", []knownIssue{issueA}, true, "fatal", []string{"-amt.strict", string(issueA), "saw A"}, false},
		{"undeclared", []knownIssue{issueB}, false, "fatal", []string{"test bug", string(issueA), "saw A"}, false},
		{"nothing declared", nil, true, "fatal", []string{"test bug", string(issueA)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := *strict
			*strict = c.strict
			defer func() { *strict = old }()
			r := &recordTB{}
			defer declared.Delete(r)
			defer xfails.Delete(r)
			if len(c.declare) > 0 {
				expectIssue(r, c.declare...)
			}
			func() {
				defer func() {
					if v := recover(); v != nil && v != (stop{}) {
						panic(v)
					}
				}()
				xfail(r, issueA, observed)
			}()
			if r.verb != c.wantVerb {
				t.Fatalf("xfail ended with %q (%q), want %q", r.verb, r.msg, c.wantVerb)
			}
			for _, w := range c.wantMsg {
				if !strings.Contains(r.msg, w) {
					t.Errorf("message %q lacks %q", r.msg, w)
				}
			}
			if _, xf := xfails.Load(r); xf != c.wantXF {
				t.Errorf("recorded as an expected failure: %v, want %v", xf, c.wantXF)
			}
		})
	}
}

// TestXPassComment checks that the comment above an [XPASS] names every
// declared issue and says what to do.
func TestXPassComment(t *testing.T) {
	got := xpassComment([]knownIssue{"issue A", "issue B"})
	for _, w := range []string{"issue A", "issue B", "no longer reproduces", "check whether the kernel fixed it"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q lacks %q", got, w)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("%q is more than one line", got)
	}
}
