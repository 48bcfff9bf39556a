package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sluice-mta/sluice/engine"
)

// NewAdminHandler serves the queue administration endpoints that the CLI
// (`sluice queue ...`) uses until the gRPC Queues service replaces them:
//
//	GET  /admin/queues?vmta=&domain=           list queues with counts
//	POST /admin/queues/pause?vmta=&domain=     pause (also queues that appear later)
//	POST /admin/queues/resume?vmta=&domain=    lift a pause rule
//	POST /admin/queues/flush?vmta=&domain=     retry now
//	POST /admin/queues/purge?vmta=&domain=&dsn=true|false
//	GET  /admin/vmtas                          virtual MTAs with queued counts
//	POST /admin/vmtas/{name}/disable|enable
//	GET  /admin/pools
//	GET  /admin/trace?id=&rcpt=                why is this recipient not delivered yet
//
// An empty vmta or domain matches all. Replies are JSON. The HTTP listener
// is an admin port: keep it on loopback or behind authentication.
func NewAdminHandler(e *engine.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/queues", func(w http.ResponseWriter, r *http.Request) {
		st := e.SpoolStats()
		writeJSON(w, http.StatusOK, map[string]any{"queues": nonNil(e.Queues(filterOf(r))),
			"totals": map[string]any{"recipients": st.Recipients, "messages": st.Messages,
				"by_domain": st.ByDomain, "by_vmta": st.ByVMTA, "by_pool": st.ByPool, "by_campaign": st.ByCampaign}})
	})
	mux.HandleFunc("POST /admin/queues/pause", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"paused_queues": e.Pause(filterOf(r))})
	})
	mux.HandleFunc("POST /admin/queues/resume", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"resumed_queues": e.Resume(filterOf(r))})
	})
	mux.HandleFunc("POST /admin/queues/flush", func(w http.ResponseWriter, r *http.Request) {
		n, err := e.Flush(r.Context(), filterOf(r))
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "flushed_recipients": n})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"flushed_recipients": n})
	})
	mux.HandleFunc("POST /admin/queues/purge", func(w http.ResponseWriter, r *http.Request) {
		dsn := true
		if v := r.URL.Query().Get("dsn"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": "dsn: want true or false", "field": "dsn"})
				return
			}
			dsn = b
		}
		f := filterOf(r)
		if f == (engine.QueueFilter{}) && r.URL.Query().Get("all") != "true" {
			writeJSON(w, http.StatusBadRequest, map[string]any{
				"error": "refusing to purge every queue: name a vmta or domain, or pass all=true", "field": "domain"})
			return
		}
		n, err := e.Purge(r.Context(), f, dsn)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "purged_recipients": n})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"purged_recipients": n})
	})
	mux.HandleFunc("GET /admin/vmtas", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"vmtas": e.VMTAs()})
	})
	mux.HandleFunc("GET /admin/trace", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if id == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "id: the queue ID is required", "field": "id"})
			return
		}
		tr, err := e.TraceRecipient(id, r.URL.Query().Get("rcpt"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"recipients": tr})
	})
	mux.HandleFunc("GET /admin/pools", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"pools": e.Pools()})
	})
	mux.HandleFunc("POST /admin/vmtas/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		var disabled bool
		switch r.PathValue("action") {
		case "disable":
			disabled = true
		case "enable":
		default:
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "want disable or enable", "field": "action"})
			return
		}
		if err := e.SetVMTADisabled(r.PathValue("name"), disabled); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error(), "field": "name"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"vmta": r.PathValue("name"), "disabled": disabled})
	})
	return mux
}

func filterOf(r *http.Request) engine.QueueFilter {
	q := r.URL.Query()
	return engine.QueueFilter{VMTA: q.Get("vmta"), Domain: q.Get("domain")}
}

func nonNil(qs []engine.QueueInfo) []engine.QueueInfo {
	if qs == nil {
		return []engine.QueueInfo{}
	}
	return qs
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
