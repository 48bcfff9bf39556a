package api

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-mta/sluice/engine"
)

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok", or "degraded" when the node refuses new mail.
	Status string `json:"status"`
	// Reason says why the node is degraded.
	Reason string `json:"reason,omitempty"`
	// QueuedMessages and QueuedRecipients are the spool's counters.
	QueuedMessages   int64 `json:"queued_messages"`
	QueuedRecipients int64 `json:"queued_recipients"`
}

// NewHTTPHandler returns the HTTP mux: the web monitor at GET / (its files
// under /monitor/; its data comes from the REST API), GET /healthz (200
// when accepting mail, 503 when not), GET /metrics (Prometheus text format)
// and the Go profiles under /debug/pprof/.
func NewHTTPHandler(e *engine.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		st := e.SpoolStats()
		h := Health{Status: "ok", QueuedMessages: st.Messages, QueuedRecipients: st.Recipients}
		code := http.StatusOK
		if err := e.Accepting(); err != nil {
			h.Status, h.Reason, code = "degraded", err.Error(), http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(h)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.Registry(), promhttp.HandlerOpts{}))
	// Profiles for ops (the HTTP listener is an admin port: loopback by default).
	// The web monitor (monitor.go): the page at /, its files under /monitor/.
	mon := monitorHandler()
	mux.Handle("GET /{$}", mon)
	mux.Handle("GET /monitor/", mon)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	return mux
}
