// Command genman writes amtctl's man pages, one per command (amtctl.1,
// amtctl-add.1, ...), generated from the cobra command tree with
// github.com/spf13/cobra/doc, so they say exactly what --help says.
//
//	go run ./internal/tools/genman -o .build/man
//
// The date in the pages' header comes from SOURCE_DATE_EPOCH when set (make
// man sets it to the last commit's time), so a rebuild of the same tree
// gives the same files. It lives apart from cmd/amtctl so that the man
// renderer is not linked into the amtctl binary.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/amtctl/amtctl/internal/cli"
	"github.com/spf13/cobra/doc"
)

func main() {
	dir := flag.String("o", ".build/man", "directory to write the pages to")
	flag.Parse()
	if err := generate(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "genman: "+err.Error())
		os.Exit(1)
	}
}

func generate(dir string) error {
	hdr := &doc.GenManHeader{Title: "AMTCTL", Section: "1", Source: "amtctl", Manual: "amtctl manual"}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", s)
		}
		t := time.Unix(sec, 0).UTC()
		hdr.Date = &t
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root := cli.NewRootCommand(cli.OpenAMTLink)
	root.DisableAutoGenTag = true
	// The completion commands cobra adds at Execute time belong in the
	// pages too.
	root.InitDefaultCompletionCmd()
	return doc.GenManTree(root, hdr, dir)
}
