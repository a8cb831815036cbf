package amtmetrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/amtctl/amtctl/pkg/amtmetrics/serving"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Serve is a serving.Server: it builds a Collector of r's namespaces,
// registers it with Go's and the process's collectors in a registry of
// its own, and serves it over HTTP on r.Listen until ctx ends: /metrics
// is the Prometheus exposition, /healthz answers "ok", / names both.
// Then it shuts down gracefully (5 s at most) and returns nil.
//
// The namespaces are opened before anything listens: New's error is
// returned as it is. A failure to listen is a *serving.ListenError.
func Serve(ctx context.Context, r serving.Request) error {
	col, err := New(Options{
		Open:         r.Open,
		NetNS:        r.NetNS,
		PollInterval: r.PollInterval,
		Recheck:      r.Recheck,
		Report:       r.Report,
	})
	if err != nil {
		return err
	}
	defer col.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/" {
			http.NotFound(w, req)
			return
		}
		io.WriteString(w, "amtctl metrics: see /metrics (Prometheus exposition) and /healthz\n")
	})

	ln, err := net.Listen("tcp", r.Listen)
	if err != nil {
		return &serving.ListenError{Addr: r.Listen, Err: err}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if r.Ready != nil {
		r.Ready(ln.Addr())
	}
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	return nil
}

var _ serving.Server = Serve
