package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// batchOptions are the root's -batch and -force flags.
type batchOptions struct {
	file  string
	force bool
}

const batchHelp = `Batch mode, like "ip -batch": amtctl -batch FILE ("-" reads standard input)
runs one command per line, written as on the command line without the
leading "amtctl" (add ..., del ..., show ..., apply ...). Words are split at
white space; "double quotes" group words; blank lines and lines or words
starting with "#" are comments. -n, -j and -p given before -batch apply to
every line, and a line may give its own. All lines share one netlink socket
per network namespace. The first failing line is reported as
"amtctl: line N: <error>" and stops the batch with exit status 1; with -force
every line runs and the exit status is 1 if any failed.`

// addBatch gives root the -batch FILE and -force flags and runs the batch
// when -batch is given. (ip's single-dash spellings are rewritten by
// batchArgs before cobra parses the command line.)
func addBatch(root *cobra.Command, o *options) {
	bo := &batchOptions{}
	pf := root.Flags()
	pf.StringVarP(&bo.file, "batch", "b", "", `run the commands of FILE, one per line ("-" for standard input), as "ip -batch" does`)
	pf.BoolVar(&bo.force, "force", false, "with -batch: go on after a failing line; exit 1 at the end if any failed")
	_ = root.MarkFlagFilename("batch")
	root.Long += "\n\n" + batchHelp
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			if bo.file != "" {
				return usagef("-batch takes no commands on the command line, got %s; put them in the file", quoteAll(args))
			}
			return usagef("unknown command %q for \"amtctl\"; see \"amtctl --help\"", args[0])
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, _ []string) error {
		if bo.file == "" {
			if bo.force {
				return usagef("-force needs -batch FILE")
			}
			return c.Help()
		}
		return o.runBatch(c, bo)
	}
}

// batchArgs rewrites ip's single-dash long options -batch and -force (as
// long as they come before the command) into the double-dash form pflag
// parses.
func batchArgs(args []string) []string {
	// Never nil: cobra reads os.Args when given nil.
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		switch a := out[i]; {
		case a == "-force" || strings.HasPrefix(a, "-batch="):
			out[i] = "-" + a
		case a == "-batch":
			out[i] = "--batch"
			i++ // skip the value
		case a == "--":
			return out
		case globalTakesValue(a):
			i++ // skip the value
		case !strings.HasPrefix(a, "-"):
			return out // the command: the rest is its own
		}
	}
	return out
}

// sharedBackend hands the same Backend to every line of a batch: Close is a
// no-op until the batch ends. Every other method is the Backend's, except
// that the device list for add's warnings is read once per namespace, since
// a batch of adds would otherwise dump every device and address per line.
type sharedBackend struct {
	Backend
	ifs    []Interface
	ifsErr error
	read   bool
}

func (s *sharedBackend) Close() error { return nil }

func (s *sharedBackend) Interfaces() ([]Interface, error) {
	if !s.read {
		s.read = true
		s.ifs, s.ifsErr = s.Backend.Interfaces()
	}
	return s.ifs, s.ifsErr
}

// Interface answers from the device list read once per batch (see
// Interfaces): for a batch of adds one dump beats a lookup per line.
func (s *sharedBackend) Interface(name string) (*Interface, error) {
	return findInterface(s.Interfaces, name)
}

// nsCache opens each namespace once for a whole batch.
type nsCache struct {
	open  Opener
	ns    map[string]*sharedBackend
	order []*sharedBackend
}

func (n *nsCache) get(netns string) (Backend, error) {
	if b, ok := n.ns[netns]; ok {
		return b, nil
	}
	b, err := n.open(netns)
	if err != nil {
		return nil, err // not cached: the next line may find it
	}
	sb := &sharedBackend{Backend: b}
	n.ns[netns] = sb
	n.order = append(n.order, sb)
	return sb, nil
}

func (n *nsCache) close() error {
	var first error
	for _, b := range n.order {
		if err := b.Backend.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (o *options) runBatch(c *cobra.Command, bo *batchOptions) (err error) {
	// Keep the batch on one thread. The scheduler preempts a goroutine
	// that has run for 10 ms, and a batch spends that long in the kernel
	// every ten lines or so; unlocked, it is then often resumed on
	// another thread, on another CPU, which costs more than a line under
	// emulation (scripts/bench: 500 creates 672 -> 613 ms, TCG).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var r io.Reader
	if bo.file == "-" {
		r = c.InOrStdin()
	} else {
		f, err := os.Open(bo.file)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return usagef("-batch: file %q not found", bo.file)
			}
			return runErr(fmt.Errorf("-batch: %w", err))
		}
		defer f.Close()
		r = f
	}
	cache := &nsCache{open: o.open, ns: map[string]*sharedBackend{}}
	defer func() {
		if cerr := cache.close(); cerr != nil && err == nil {
			err = runErr(fmt.Errorf("-batch: close: %w", cerr))
		}
	}()
	// The command tree for lines quickLine does not take, built on the
	// first such line: a batch of plain adds never needs it.
	var tree *cobra.Command
	lineTree := func() *cobra.Command {
		if tree == nil {
			tree = newRootCommand(cache.get, o.hooks)
		}
		return tree
	}
	// The global flags given before -batch, for every line: as words for
	// the lines that go through the tree, and as options for those that
	// skip it (the plain add and del lines a large batch is made of: see
	// quickLine). Both come from the flags themselves, so a new global flag
	// needs nothing here.
	var global []string
	c.Root().PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Changed { // Visit would see none: cobra parses a merged set
			global = append(global, "--"+f.Name+"="+f.Value.String())
		}
	})
	lineOpts := *o
	lineOpts.open = cache.get

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo, ran, failed := 0, 0, 0
	for sc.Scan() {
		lineNo++
		words, err := splitBatchLine(sc.Text())
		if err == nil && len(words) == 0 {
			continue
		}
		ran++
		if err == nil {
			if done, qerr := lineOpts.quickLine(c, words); done {
				err = qerr
			} else {
				err = o.runBatchLine(c, lineTree(), append(append([]string(nil), global...), words...))
			}
		}
		if err == nil {
			continue
		}
		failed++
		msg := fmt.Sprintf("line %d: %s", lineNo, errorLine(err))
		if !bo.force {
			return &runError{err: errors.New(msg)}
		}
		fmt.Fprintln(c.ErrOrStderr(), "amtctl: "+msg)
	}
	if err := sc.Err(); err != nil {
		return runErr(fmt.Errorf("-batch: line %d: %w", lineNo+1, err))
	}
	if failed > 0 {
		return runErrf("-batch: %d of %d commands failed", failed, ran)
	}
	return nil
}

// quickLine runs a batch line of the form "add NAME ..." or "del NAME" (no
// flags, no help) with the parser and run function the add and del
// commands use, and the batch's global flags in o, without the command
// tree: parsing flags and finding the command cost cobra more per line
// than the rest of amtctl's work together. It reports false, having done
// nothing, for any other line, which then goes through the tree.
// TestBatchQuickLineSameAsTree runs lines both ways.
func (o *options) quickLine(c *cobra.Command, words []string) (bool, error) {
	if o.noQuick || len(words) < 2 || strings.HasPrefix(words[1], "-") {
		return false, nil
	}
	switch words[0] {
	case "add":
		s, err := parseAdd(words[1:])
		if errors.Is(err, errHelpKeyword) {
			return false, nil // the tree prints add's help
		}
		if err != nil {
			return true, err
		}
		return true, o.runAdd(c, s)
	case "del", "delete":
		if len(words) != 2 {
			return false, nil // the tree says what is wrong
		}
		return true, o.runDel(words[1])
	}
	return false, nil
}

// runBatchLine runs one command of a batch on tree, the command tree every
// line shares (its Opener is the namespace cache). Building a tree per line
// was most of amtctl's own cost per line; instead every flag the previous
// line set is put back to its default first.
func (o *options) runBatchLine(c, tree *cobra.Command, args []string) error {
	bargs := batchArgs(args)
	for i := 0; i < len(bargs); i++ {
		switch a := bargs[i]; {
		case a == "--batch" || a == "-b" || strings.HasPrefix(a, "--batch="):
			return usagef("-batch inside a batch file; run the other file as its own batch")
		case a == "-n" || a == "--netns":
			i++ // its value
		case !strings.HasPrefix(a, "-"):
			if why, ok := notInBatch[a]; ok {
				return usagef("%q cannot run in a batch: %s", a, why)
			}
			i = len(bargs) // the command: the rest is its own
		}
	}
	if err := resetFlags(tree); err != nil {
		return runErr(fmt.Errorf("-batch: %w", err))
	}
	prepareFlags(tree, args)
	tree.SetArgs(args)
	tree.SetOut(c.OutOrStdout())
	tree.SetErr(c.ErrOrStderr())
	tree.SetIn(c.InOrStdin())
	return tree.Execute()
}

// notInBatch are the commands a batch refuses, and why; every other
// command runs in a batch as on the command line.
var notInBatch = map[string]string{
	"completion":       `it writes a shell script; run "amtctl completion SHELL" on its own`,
	"__complete":       "it answers the shell's completion, which never comes from a batch",
	"__completeNoDesc": "it answers the shell's completion, which never comes from a batch",
}

// resetFlags puts every flag of c and its subcommands that a previous run
// set back to its default.
func resetFlags(c *cobra.Command) error {
	var err error
	reset := func(f *pflag.Flag) {
		if !f.Changed || err != nil {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			err = sv.Replace(nil)
		} else {
			err = f.Value.Set(f.DefValue)
		}
		if err != nil {
			err = fmt.Errorf("reset flag --%s: %w", f.Name, err)
		}
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, sub := range c.Commands() {
		if rerr := resetFlags(sub); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// splitBatchLine splits a batch line as ip's batch mode does: words at
// spaces and tabs, "double quoted" words may hold spaces, and a word
// starting with "#" begins a comment.
func splitBatchLine(line string) ([]string, error) {
	var words []string
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ', '\t', '\r':
			i++
			continue
		case '#':
			return words, nil
		}
		if words == nil {
			words = make([]string, 0, 16)
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '"' {
			i++
		}
		if i == len(line) || line[i] != '"' {
			words = append(words, line[start:i]) // the common case: no quotes, no copy
			continue
		}
		var w strings.Builder
		w.WriteString(line[start:i])
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
			if line[i] == '"' {
				end := strings.IndexByte(line[i+1:], '"')
				if end < 0 {
					return nil, usagef("unterminated double quote; close it or remove it")
				}
				w.WriteString(line[i+1 : i+1+end])
				i += end + 2
				continue
			}
			w.WriteByte(line[i])
			i++
		}
		words = append(words, w.String())
	}
	return words, nil
}
