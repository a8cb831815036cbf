package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amtctl/amtctl/pkg/amtmetrics/serving"
	"github.com/spf13/cobra"
)

// options are the global flags, shared by every subcommand, with the
// Opener and the test hooks.
type options struct {
	netns  string
	json   bool
	pretty bool
	open   Opener
	// dns is add's and apply's --dns: the name server for discovery
	// driad:SOURCE, "" for resolv.conf's.
	dns string
	// args are the command line as Main was given it, which metrics
	// passes on to amtctl-metrics; nil means os.Args[1:].
	args []string
	settings
	hooks
}

// settings are what the Options of MainWith and NewRootCommand set.
type settings struct {
	// metricsServer serves "amtctl metrics" in-process; nil (amtctl)
	// execs amtctl-metrics instead.
	metricsServer serving.Server
}

// An Option changes the command tree MainWith or NewRootCommand builds.
type Option func(*settings)

// WithMetricsServer makes "amtctl metrics" serve in-process with s (in
// amtctl-metrics, amtmetrics.Serve) instead of exec'ing amtctl-metrics.
// The command line is checked, and every line worded, the same either
// way.
func WithMetricsServer(s serving.Server) Option {
	return func(st *settings) { st.metricsServer = s }
}

// hooks let tests watch or steer the commands; NewRootCommand leaves them
// zero, which is production behaviour. They live on the options, not in
// package variables, so that tests can run in parallel.
type hooks struct {
	// noQuick sends every batch line through the command tree (see
	// quickLine), so that tests can compare the two paths.
	noQuick bool
	// monitorReady, when not nil, is called once monitor watches.
	monitorReady func()
	// watchSignals, when not nil, replaces apply --watch's signals
	// (SIGHUP, SIGINT, SIGTERM); watchTick its resync ticker.
	watchSignals <-chan os.Signal
	watchTick    <-chan time.Time
	// watchReady, when not nil, is called once apply --watch has
	// converged and watches; watchIdle each time it waits for something
	// to happen.
	watchReady, watchIdle func()
	// getenv, when not nil, replaces os.Getenv for apply --watch's
	// systemd variables ($NOTIFY_SOCKET, $WATCHDOG_USEC).
	getenv func(string) string
	// metricsSignals, when not nil, ends metrics like SIGTERM; a
	// metricsRecheck not 0 replaces how often it rechecks namespaces;
	// metricsReady, when not nil, is told the address it serves on.
	metricsSignals <-chan struct{}
	metricsRecheck time.Duration
	metricsReady   func(addr string)
	// metricsExec, when not nil, replaces syscall.Exec of amtctl-metrics;
	// metricsExecutable os.Executable; metricsLibexec, when not "",
	// /usr/libexec/amtctl.
	metricsExec       func(path string, argv, env []string) error
	metricsExecutable func() (string, error)
	metricsLibexec    string
	// netnsDir is where named namespaces are looked for to complete -n;
	// "" means /run/netns, where "ip netns add" bind-mounts them.
	netnsDir string
	// relay steers the DNS lookups of discovery driad:SOURCE (add,
	// apply) as relay lookup's environment does.
	relay relayEnv
}

// backend opens the Backend for the namespace chosen with -n.
func (o *options) backend() (Backend, error) {
	b, err := o.open(o.netns)
	if err != nil {
		return nil, runErr(err)
	}
	return b, nil
}

const rootLong = `amtctl manages Linux AMT (RFC 7450 Automatic Multicast Tunneling) links.

It speaks iproute2's words: "amtctl add NAME mode relay local 10.0.0.1 dev eth0"
does what "ip link add NAME type amt mode relay local 10.0.0.1 dev eth0" does,
but checks every value before anything reaches the kernel, explains each
mistake on one line, and shows AMT links as a table or as the same JSON that
"ip -d -s -j link show" prints.

Exit status: 0 success; 1 the request failed (kernel refused it, link or
namespace not found, permission denied, no AMT driver); 2 usage error (bad
command, keyword or value; nothing was sent to the kernel).`

const rootExample = `  # a relay and a gateway that discovers it
  amtctl add amtr mode relay local 10.0.0.1 dev eth0 up
  amtctl add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 up

  # in a named network namespace (ip netns add gw), as JSON
  amtctl -n gw show -j -p

  # change the state, MTU or master in place; watch what happens
  amtctl set amtg mtu 1400 master br0 up
  amtctl -n gw monitor

  amtctl del amtg

  # shell completion of keywords, modes, devices, links and namespaces
  source <(amtctl completion bash)`

// NewRootCommand builds the amtctl command tree. open is called at most once
// per command, after the command line has been fully checked.
func NewRootCommand(open Opener, opts ...Option) *cobra.Command {
	root := newRootCommand(open, hooks{}, opts...)
	describe(root)
	return root
}

// describedLater is the annotation of a command whose Use and Long are
// written by describe: its value names the describer.
const describedLater = "amtctl-described-later"

// describers write a command's Use and Long, which cost start-up time to
// build (add's come from the grammar table).
var describers = map[string]func(*cobra.Command){"add": describeAdd, "probe": describeProbe}

// describe writes the Use and Long of c and of the commands under it that
// have them written later, and adds their flags added later. Help, usage
// and NewRootCommand call it; a command that only runs never does.
func describe(c *cobra.Command) {
	if name, ok := c.Annotations[describedLater]; ok {
		describers[name](c)
		delete(c.Annotations, describedLater)
	}
	addFlagsLater(c)
	for _, sub := range c.Commands() {
		describe(sub)
	}
}

// flagsLater holds, per command, the function that adds its flags, for
// the commands whose flags cost start-up time every other command would
// pay (probe's and send's): they are added when the command is about to
// run or be completed (prepareFlags) or when help is written (describe).
// An entry goes once used; a tree that never runs its command leaves one
// behind until the process ends, and amtctl builds one tree, two with
// -batch.
var flagsLater struct {
	sync.Mutex // tests build trees in parallel
	add        map[*cobra.Command]func()
}

// leaveFlags leaves add, which adds c's flags, for addFlagsLater.
func leaveFlags(c *cobra.Command, add func()) {
	flagsLater.Lock()
	defer flagsLater.Unlock()
	if flagsLater.add == nil {
		flagsLater.add = map[*cobra.Command]func(){}
	}
	flagsLater.add[c] = add
}

// addFlagsLater adds c's flags if they were left for later.
func addFlagsLater(c *cobra.Command) {
	flagsLater.Lock()
	add := flagsLater.add[c]
	delete(flagsLater.add, c)
	flagsLater.Unlock()
	if add != nil {
		add()
	}
}

// prepareFlags adds the flags of the command args name (or, for the
// shell's completion, of the command being completed) before cobra parses
// them.
func prepareFlags(root *cobra.Command, args []string) {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		args = args[1:] // cobra adds its completion command in Execute: not in the tree yet
	}
	if c, _, err := root.Find(args); err == nil {
		addFlagsLater(c)
	}
}

// newRootCommand is NewRootCommand with test hooks.
func newRootCommand(open Opener, h hooks, opts ...Option) *cobra.Command {
	root, _ := newRoot(open, h, nil, opts...)
	return root
}

// newRoot is newRootCommand, also returning the options the commands
// share; with only, the tree holds that one command.
func newRoot(open Opener, h hooks, only *subcommand, opts ...Option) (*cobra.Command, *options) {
	o := &options{open: open, hooks: h}
	for _, opt := range opts {
		opt(&o.settings)
	}
	root := &cobra.Command{
		Use:           "amtctl",
		Short:         "Create, show and delete Linux AMT tunnel links",
		Long:          rootLong,
		Example:       rootExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Suggestions are multi-line; amtctl prints one line per error.
		DisableSuggestions: true,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&o.netns, "netns", "n", "", "network namespace: a name in /run/netns (as ip netns add) or an absolute path such as /proc/PID/ns/net")
	pf.BoolVarP(&o.json, "json", "j", false, "print JSON shaped like \"ip -d -s -j link show\"")
	pf.BoolVarP(&o.pretty, "pretty", "p", false, "indent JSON output (with -j)")
	_ = root.RegisterFlagCompletionFunc("netns", o.completeNetNS)
	help, usage := root.HelpFunc(), root.UsageFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) { describe(c.Root()); help(c, args) })
	root.SetUsageFunc(func(c *cobra.Command) error { describe(c.Root()); return usage(c) })
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v; see \"%s --help\"", err, c.CommandPath())
	})

	if only != nil {
		// One command runs: cobra's completion command (and its four
		// shells' commands) would be built for nothing.
		root.CompletionOptions.DisableDefaultCmd = true
		root.AddCommand(only.build(o))
	} else {
		for _, sc := range subcommands {
			root.AddCommand(sc.build(o))
		}
	}
	addBatch(root, o)
	return root, o
}

// A subcommand is one of amtctl's commands: the words that name it (its
// name, then its aliases) and the function that builds it.
type subcommand struct {
	words []string
	build func(*options) *cobra.Command
}

// subcommands are amtctl's commands, in the order help lists them.
// TestSubcommandWords checks each row's words against the command it
// builds.
var subcommands = []subcommand{
	{[]string{"add"}, newAddCommand},
	{[]string{"show", "list", "ls"}, newShowCommand},
	{[]string{"del", "delete"}, newDelCommand},
	{[]string{"version"}, func(*options) *cobra.Command { return newVersionCommand() }},
	{[]string{"apply"}, newApplyCommand},
	{[]string{"set"}, newSetCommand},
	{[]string{"monitor"}, newMonitorCommand},
	{[]string{"metrics"}, newMetricsCommand},
	{[]string{"relay"}, func(*options) *cobra.Command { return newRelayCommand(relayEnv{}) }},
	{[]string{"probe"}, newProbeCommand},
	{[]string{"send"}, newSendCommand},
}

// onlyCommand is the subcommand args run when amtctl can tell it from the
// words alone, so that only that command is built: each command costs
// every other one start-up time, which is a good part of a short
// command's run. It is nil, and the whole tree is built, for anything
// that needs the whole tree or that it does not recognise: help, shell
// completion, -batch, no command, an unknown word or flag. Within one
// command's tree cobra finds, parses and runs that command as in the
// whole tree (TestOnlyCommandSameAsTree).
func onlyCommand(args []string) *subcommand {
	word := ""
	for i := 0; i < len(args) && word == ""; i++ {
		switch a := args[i]; {
		case a == "-b" || a == "--batch":
			return nil // a batch's lines need the whole tree
		case globalTakesValue(a):
			i++ // its value (-n NS)
		case strings.HasPrefix(a, "--netns=") || strings.HasPrefix(a, "-n"),
			a == "-j", a == "-p", a == "-jp", a == "-pj", a == "--json", a == "--pretty":
		case strings.HasPrefix(a, "-"):
			return nil // -batch, -h, --, or a flag cobra must judge
		default:
			word = a
		}
	}
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return nil // help lists the other commands
		}
	}
	for i := range subcommands {
		if slices.Contains(subcommands[i].words, word) {
			return &subcommands[i]
		}
	}
	return nil
}

// globalTakesValue reports whether a, a word before the command, is a
// global flag whose value is the next word.
func globalTakesValue(a string) bool {
	return a == "-n" || a == "--netns" || a == "-b" || a == "--batch"
}

// Execute runs root with args, printing any error as one "amtctl: " line on
// stderr, and returns the exit status.
func Execute(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	args = batchArgs(args)
	prepareFlags(root, args)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err != nil {
		fmt.Fprintln(stderr, "amtctl: "+errorLine(err))
	}
	return exitCode(err)
}

// errorLine is the one line amtctl prints for err, without "amtctl: ".
func errorLine(err error) string {
	msg := oneLine(err)
	if !isOurs(err) && !strings.Contains(msg, "--help") {
		// cobra's own errors (unknown command, wrong argument
		// count) name the problem but not the fix.
		msg += "; see \"amtctl --help\""
	}
	return msg
}

// Main is the whole of amtctl: it builds the command tree on the real
// kernel backend and runs it.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainWith(args, stdout, stderr)
}

// MainWith is Main with opts: amtctl-metrics is
// MainWith(args, stdout, stderr, WithMetricsServer(amtmetrics.Serve)).
func MainWith(args []string, stdout, stderr io.Writer, opts ...Option) int {
	return mainWith(args, stdout, stderr, hooks{}, opts...)
}

// mainWith is MainWith with test hooks.
func mainWith(args []string, stdout, stderr io.Writer, h hooks, opts ...Option) int {
	root, o := newRoot(OpenAMTLink, h, onlyCommand(args), opts...)
	o.args = args
	return Execute(root, args, stdout, stderr)
}
