package cli

import (
	"io"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkBatch500 measures amtctl's own cost of a 500-line batch of adds,
// against the fake: parsing, the command tree, dispatch.
func BenchmarkBatch500(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 500; i++ {
		sb.WriteString("add amt" + strconv.Itoa(i) + " mode relay local 10.0.0.1 dev eth0\n")
	}
	in := sb.String()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f := newFake()
		root := NewRootCommand(f.open)
		root.SetIn(strings.NewReader(in))
		if Execute(root, []string{"-batch", "-"}, io.Discard, io.Discard) != 0 {
			b.Fatal("batch failed")
		}
	}
}
