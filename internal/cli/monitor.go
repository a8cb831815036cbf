package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/spf13/cobra"
)

// minInterval is the shortest --interval accepted: polling faster only
// loads the kernel.
const minInterval = 10 * time.Millisecond

const monitorLong = `Print one line per event on the AMT links of the namespace, until
interrupted (Ctrl-C, SIGINT or SIGTERM end it with exit status 0):

  created NAME MODE local ADDR dev DEV   a link appeared
  deleted NAME                           a link went away
  up NAME, down NAME                     it was brought up or down
  relay-discovered NAME ADDR             a gateway found its relay
  relay-changed NAME ADDR (was OLD)      a gateway's relay changed
  relay-lost NAME (was OLD)              a gateway lost its relay (it went
                                         down, or the relay stopped answering)
  resynced                               the kernel dropped notifications
                                         (receive buffer overrun); the links
                                         were listed again, and the events
                                         that follow are what changed

With -j each event is one JSON object per line instead, e.g.
  {"time":"2026-01-02T15:04:05.123456789Z","event":"relay-discovered","ifindex":7,"ifname":"amtg","mode":"gateway","local":"10.0.0.2","discovery":"10.0.0.1","dev":"veth-g","up":true,"remote":"10.0.0.1"}
("previous" holds the old relay of relay-changed and relay-lost;
resynced is {"time":"...","event":"resynced"}).

Once it watches, monitor says so on stderr ("amtctl: monitoring amt links
in ..."); a script can wait for that line before it changes links. Links
that exist when monitor starts are not reported; their changes are.
created, deleted, up and down come from the kernel's link notifications as
they happen. The kernel sends no notification when a gateway discovers,
changes or loses its relay, so while gateway links exist monitor asks the
kernel for their relay every --interval (default 200ms): relay events are
noticed at most one interval late. Without gateways nothing is polled.`

func newMonitorCommand(o *options) *cobra.Command {
	var interval time.Duration
	c := &cobra.Command{
		Use:   "monitor",
		Short: "Print AMT link events (created, up, relay-discovered, ...) as they happen",
		Long:  monitorLong,
		Example: `  amtctl monitor
  amtctl -n gw monitor -j | jq -r 'select(.event == "relay-discovered") | .remote'
  amtctl monitor --interval 1s`,
		Args:              noArgs("monitor", "amtctl [-n NS] monitor [-j] [--interval D]"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			if interval < minInterval {
				return usagef("--interval %s: too short; use %s or more, such as 200ms (how late relay changes may be noticed)", interval, minInterval)
			}
			return o.runMonitor(c, interval)
		},
	}
	c.Flags().DurationVar(&interval, "interval", amtlink.DefaultPollInterval,
		"how often gateways are polled for their relay (the kernel sends no notification for it); relay events are at most this late")
	return c
}

func (o *options) runMonitor(c *cobra.Command, interval time.Duration) error {
	// Signals first: from here on SIGINT and SIGTERM end monitor cleanly
	// instead of killing it.
	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := o.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	out := c.OutOrStdout()
	where := "this network namespace"
	if o.netns != "" {
		where = fmt.Sprintf("network namespace %q", o.netns)
	}
	opt := amtlink.WatchOptions{PollInterval: interval, Ready: func() {
		// Like tcpdump's "listening on": on stderr, so stdout stays
		// events only, and a script can wait for it before it acts.
		fmt.Fprintf(c.ErrOrStderr(), "amtctl: monitoring amt links in %s (gateways' relay polled every %s); stop with Ctrl-C\n", where, interval)
		if o.monitorReady != nil {
			o.monitorReady()
		}
	}}
	err = b.Watch(ctx, opt, func(e amtlink.Event) error {
		var err error
		if o.json {
			err = writeEventJSON(out, e)
		} else {
			_, err = io.WriteString(out, formatEvent(e)+"\n")
		}
		if err != nil {
			return &runError{err: fmt.Errorf("monitor: writing output: %w", err)}
		}
		return nil
	})
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	var re *runError
	if errors.As(err, &re) {
		return err
	}
	var ae *amtlink.Error
	if errors.As(err, &ae) {
		return runErr(err) // "watch: ..." names the operation already
	}
	return runErr(fmt.Errorf("monitor: %w", err))
}

// formatEvent renders e as monitor's one text line.
func formatEvent(e amtlink.Event) string {
	l := e.Link
	switch e.Type {
	case amtlink.EventCreated:
		var sb strings.Builder
		sb.WriteString("created " + l.Name)
		if l.AMT.Mode != nil {
			sb.WriteString(" " + l.AMT.Mode.String())
		}
		if l.AMT.Local.IsValid() {
			sb.WriteString(" local " + l.AMT.Local.String())
		}
		if dev := lowerDev(l); dev != "" {
			sb.WriteString(" dev " + dev)
		}
		return sb.String()
	case amtlink.EventRelayDiscovered:
		return fmt.Sprintf("relay-discovered %s %s", l.Name, e.Remote)
	case amtlink.EventRelayChanged:
		return fmt.Sprintf("relay-changed %s %s (was %s)", l.Name, e.Remote, e.Previous)
	case amtlink.EventRelayLost:
		return fmt.Sprintf("relay-lost %s (was %s)", l.Name, e.Previous)
	case amtlink.EventResynced:
		return "resynced (the kernel dropped notifications; links listed again)"
	}
	return e.Type.String() + " " + l.Name
}

// lowerDev names the lower device: its name, or "ifindex N" when it is gone
// or in another namespace.
func lowerDev(l amtlink.Link) string {
	switch {
	case l.LowerName != "":
		return l.LowerName
	case l.AMT.Link != nil:
		return fmt.Sprintf("ifindex %d", *l.AMT.Link)
	}
	return ""
}

// eventJSON is one line of monitor -j.
type eventJSON struct {
	Time      string `json:"time"`
	Event     string `json:"event"`
	Ifindex   uint32 `json:"ifindex"`
	Ifname    string `json:"ifname"`
	Mode      string `json:"mode,omitempty"`
	Local     string `json:"local,omitempty"`
	Discovery string `json:"discovery,omitempty"`
	Dev       string `json:"dev,omitempty"`
	Up        bool   `json:"up"`
	Remote    string `json:"remote,omitempty"`
	Previous  string `json:"previous,omitempty"`
}

// resyncedJSON is monitor -j's line for EventResynced, which concerns no
// one link.
type resyncedJSON struct {
	Time  string `json:"time"`
	Event string `json:"event"`
}

func writeEventJSON(w io.Writer, e amtlink.Event) error {
	if e.Type == amtlink.EventResynced {
		b, err := json.Marshal(resyncedJSON{Time: e.Time.UTC().Format(time.RFC3339Nano), Event: e.Type.String()})
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	l := e.Link
	addr := func(a netip.Addr) string {
		if !a.IsValid() || a.IsUnspecified() {
			return ""
		}
		return a.String()
	}
	j := eventJSON{
		Time:      e.Time.UTC().Format(time.RFC3339Nano),
		Event:     e.Type.String(),
		Ifindex:   l.Index,
		Ifname:    l.Name,
		Local:     addr(l.AMT.Local),
		Discovery: addr(l.AMT.Discovery),
		Dev:       lowerDev(l),
		Up:        l.Up(),
		Remote:    addr(e.Remote),
		Previous:  addr(e.Previous),
	}
	if l.AMT.Mode != nil {
		j.Mode = l.AMT.Mode.String()
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
