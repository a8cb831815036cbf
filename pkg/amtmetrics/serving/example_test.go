package serving_test

import (
	"fmt"

	"github.com/amtctl/amtctl/pkg/amtmetrics/serving"
)

// A command words a server's reports by their kind, without importing
// the server.
func ExampleReportKind_String() {
	for _, k := range []serving.ReportKind{serving.ReportGone, serving.ReportBack, serving.ReportListFailed, serving.ReportWatchFailed, serving.ReportRecovered} {
		fmt.Println(k)
	}
	// Output:
	// gone
	// back
	// list-failed
	// watch-failed
	// recovered
}
