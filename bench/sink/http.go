package sink

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Handler serves the sink's control API:
//
//	GET  /stats       the Stats as JSON
//	GET  /healthz     200 "ok"
//	POST /reset       zeroes the counters (see Reset); 204
//	POST /behaviour   prefix=P&reply=R: SetBehaviour(P, R), R one of accept,
//	                  bounce, defer, throttle, slow; 204, 400 if R is unknown
//	POST /accept-all  on=true|false: SetAcceptAll; 204, 400 if on is no bool
//
// The POST parameters may come in the query or a form body, e.g.
// curl -X POST 'http://127.0.0.1:2580/behaviour?prefix=defer&reply=accept'.
func (s *Sink) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s.Stats()); err != nil {
			s.log.Debug("sink: write /stats", "err", err)
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /behaviour", func(w http.ResponseWriter, r *http.Request) {
		b, err := ParseBehaviour(r.FormValue("reply"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetBehaviour(r.FormValue("prefix"), b)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /accept-all", func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.FormValue("on"))
		if err != nil {
			http.Error(w, "sink: on must be true or false", http.StatusBadRequest)
			return
		}
		s.SetAcceptAll(on)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
