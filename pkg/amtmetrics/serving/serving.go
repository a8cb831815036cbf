// Package serving is the Prometheus-free half of package amtmetrics: what
// a metrics server is asked ([Request]), what it reads ([Source]), what it
// tells while it runs ([Report]) and how its listen failure looks
// ([ListenError]).
//
// It exists so that a command can word everything a metrics server says
// without linking the server: amtctl's "metrics" command (internal/cli)
// imports this package only, and is handed a [Server] (amtmetrics.Serve,
// in the amtctl-metrics binary); the amtctl binary itself gets none and
// execs amtctl-metrics instead. Importing client_golang, or net/http,
// costs every amtctl command its init at start-up (README.md, "Why
// amtctl-metrics is a separate binary"), so nothing here imports either.
// Package amtmetrics re-exports Source, Opener, Report and ReportKind
// under the same names.
package serving

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
)

// Source is one namespace's amt links as the Collector reads them.
// amtctl's backend (an *amtlink.Client with the namespace it was opened
// in) satisfies it.
type Source interface {
	// List returns every amt link of the namespace with its counters
	// (amtlink.Client.List).
	List() ([]amtlink.Link, error)
	// Watch reports changes to the namespace's amt links until ctx ends
	// (amtlink.Client.Watch).
	Watch(ctx context.Context, opt amtlink.WatchOptions, fn func(amtlink.Event) error) error
	// NetNSGone reports whether the namespace can no longer be reached
	// by the name or path it was opened with (amtlink.NetNS.Gone); always
	// false for the caller's own namespace.
	NetNSGone() bool
	// Close releases the source, and with it the namespace.
	Close() error
}

// Opener opens the Source of the namespace netns: "" is the caller's own,
// anything else a name or a path as the caller's users give them.
type Opener func(netns string) (Source, error)

// ReportKind says what a Report is about.
type ReportKind int

const (
	// ReportGone: the namespace is gone; its series were dropped.
	ReportGone ReportKind = iota
	// ReportBack: a namespace that was gone is there again.
	ReportBack
	// ReportListFailed: reading the namespace's links failed (Err);
	// amt_netns_up is 0 until it works again.
	ReportListFailed
	// ReportWatchFailed: watching the namespace's links failed (Err); it
	// is tried again at the next recheck, and relay events meanwhile are
	// not counted.
	ReportWatchFailed
	// ReportRecovered: reading or watching works again after a failure.
	ReportRecovered
)

// String returns the kind's name: "gone", "back", "list-failed",
// "watch-failed" or "recovered".
func (k ReportKind) String() string {
	switch k {
	case ReportGone:
		return "gone"
	case ReportBack:
		return "back"
	case ReportListFailed:
		return "list-failed"
	case ReportWatchFailed:
		return "watch-failed"
	case ReportRecovered:
		return "recovered"
	}
	return fmt.Sprintf("unknown report kind (%d)", int(k))
}

// Report is one change in a namespace's state, for logging.
type Report struct {
	Kind  ReportKind
	NetNS string // as given in Options.NetNS
	Err   error  // the failure of ReportListFailed and ReportWatchFailed
}

// Request is what a Server is asked to serve.
type Request struct {
	// Listen is the TCP address to serve on, HOST:PORT.
	Listen string
	// Open, NetNS, PollInterval, Recheck and Report are the Collector's
	// (amtmetrics.Options).
	Open         Opener
	NetNS        []string
	PollInterval time.Duration
	Recheck      time.Duration
	Report       func(Report)
	// Ready, when not nil, is called once with the address served on
	// (the port chosen, for port 0), when requests are answered.
	Ready func(addr net.Addr)
}

// Server serves the metrics of r.NetNS on r.Listen until ctx ends, then
// shuts down gracefully and returns nil. An error of r.Open at the start
// is returned as Open returned it; a failure to listen is a
// *ListenError.
type Server func(ctx context.Context, r Request) error

// ListenError is a Server's failure to listen on Addr.
type ListenError struct {
	Addr string // as in Request.Listen
	Err  error  // net.Listen's, a *net.OpError
}

func (e *ListenError) Error() string { return fmt.Sprintf("listen on %s: %v", e.Addr, e.Err) }

// Unwrap returns Err.
func (e *ListenError) Unwrap() error { return e.Err }
