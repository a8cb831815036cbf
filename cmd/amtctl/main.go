package main

import (
	"os"
	"runtime"

	"github.com/amtctl/amtctl/internal/cli"
)

func main() {
	// amtctl never writes a heap profile: do not sample allocations for
	// one (each sample unwinds the stack, which shows in -batch).
	runtime.MemProfileRate = 0
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
