package api

import (
	"encoding/json"
	"net/http"

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

// NewHTTPHandler returns the HTTP mux: GET /healthz (200 when accepting
// mail, 503 when not) and GET /metrics (Prometheus text format).
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
	return mux
}
