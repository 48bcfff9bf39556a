package api

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
)

// The web monitor: a page for ops staff served on the HTTP listener at /,
// embedded in the binary (plain HTML, CSS and JavaScript under monitor/, no
// build step, nothing fetched from elsewhere: the Content-Security-Policy
// says so). The page asks for an API key, keeps it in the tab's
// sessionStorage, and sends it as the API expects (Authorization: Bearer);
// every number it shows comes from the REST API (/v1/stats, /v1/queues,
// /v1/vmtas, /v1/warmup, /v1/actions, /v1/queues/messages/{id}) or from the
// read-only routes below, which serve what the admin services do not have.
// Pause, resume and flush are buttons for admin keys; the server checks the
// role on every call, so hiding them is a convenience, not the protection.
//
// The monitor's own routes, on the REST handler (they need the read role):
//
//	GET /v1/monitor/overview             totals, rates, top destinations and failure reasons, the caller's role
//	GET /v1/monitor/queue?vmta=V&domain=D one queue: counts, hold, last replies, actions in force
//	GET /v1/monitor/warmup?days=N        each warming vmta's plan curve, per receiver group
//	GET /v1/monitor/sites                each (vmta, site) connection pool: connections, limits in force vs configured
//
// They are the monitor's read model, not part of the versioned API: they
// are left out of the OpenAPI document and may change with the page.

//go:embed monitor
var monitorFiles embed.FS

// monitorCSP allows the page's own scripts, styles and API calls only.
const monitorCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// monitorHandler serves the page at / and its assets under /monitor/.
func monitorHandler() http.Handler {
	sub, err := fs.Sub(monitorFiles, "monitor")
	if err != nil {
		panic("api: monitor assets: " + err.Error()) // embedded at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", monitorCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		http.StripPrefix("/monitor", files).ServeHTTP(w, r)
	})
}

// registerMonitor adds the monitor's read routes to mux.
func (s *Server) registerMonitor(mux *http.ServeMux) {
	mux.Handle("GET /v1/monitor/overview", s.monitorRead(s.monitorOverview))
	mux.Handle("GET /v1/monitor/queue", s.monitorRead(s.monitorQueue))
	mux.Handle("GET /v1/monitor/warmup", s.monitorRead(s.monitorWarmup))
	mux.Handle("GET /v1/monitor/sites", s.monitorRead(func(*http.Request, *Key) (any, error) {
		sites := s.opts.Admin.Sites()
		if sites == nil {
			sites = []engine.SiteInfo{}
		}
		return map[string]any{"sites": sites}, nil
	}))
}

// monitorRead authenticates a monitor request and checks the read role,
// then answers it with fn's JSON.
func (s *Server) monitorRead(fn func(r *http.Request, k *Key) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var remote net.Addr
		if ap, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
			remote = ap
		}
		k, err := s.auth.authenticate(r.Header.Get("Authorization"), remote)
		if err == nil {
			_, err = authorize(withPrincipal(r.Context(), k), RoleRead)
		}
		var v any
		if err == nil {
			v, err = fn(r, k)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			writeStatusJSON(w, err)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	})
}

// Overview is the monitor's front page.
type Overview struct {
	// Key is the caller: its name and role (admin sees the buttons).
	Key struct {
		Name string `json:"name"`
		Role Role   `json:"role"`
	} `json:"key"`
	Time time.Time `json:"time"`
	// Received are the messages and recipients accepted since start.
	ReceivedMessages   int64 `json:"received_messages"`
	ReceivedRecipients int64 `json:"received_recipients"`
	// Queued are the spool's counters now.
	QueuedMessages   int64 `json:"queued_messages"`
	QueuedRecipients int64 `json:"queued_recipients"`
	BodyBytes        int64 `json:"body_bytes"`
	// OldestAgeSeconds is the age of the oldest queued message.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// Outcomes are every vmta's results summed, with rates per minute.
	Outcomes engine.Outcomes `json:"outcomes"`
	// Destinations are the busiest domains (by the last minute's results,
	// then by results since start) with their queued recipients, then the
	// domains with the most mail queued that are not among them.
	Destinations []Destination `json:"destinations"`
	// Reasons are the most frequent deferral and bounce replies.
	Reasons []engine.Reason `json:"reasons"`
	// History are the counters as sampled by earlier overview requests
	// (at most one sample every historyEvery, the last historyLen), oldest
	// first, this one included: the page draws rates and queue depth from
	// them, and a page opened late still sees the last minutes.
	History []Sample `json:"history"`
}

// Sample is the node's counters at one time.
type Sample struct {
	Time      time.Time `json:"t"`
	Received  int64     `json:"in"`
	Delivered int64     `json:"delivered"`
	Deferred  int64     `json:"deferred"`
	Bounced   int64     `json:"bounced"`
	Queued    int64     `json:"queued"`
	Messages  int64     `json:"messages"`
}

const (
	historyEvery = 5 * time.Second
	historyLen   = 240 // 20 minutes
)

// history is the ring of samples that overview requests take; no goroutine
// samples when nobody looks.
type history struct {
	mu      sync.Mutex
	samples []Sample
}

// add records smp unless the last sample is younger than historyEvery, and
// returns the samples with smp last.
func (h *history) add(smp Sample) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.samples); n == 0 || smp.Time.Sub(h.samples[n-1].Time) >= historyEvery || smp.Time.Before(h.samples[n-1].Time) {
		if n >= historyLen {
			h.samples = append(h.samples[:0], h.samples[n-historyLen+1:]...)
		}
		h.samples = append(h.samples, smp)
	}
	out := slices.Clone(h.samples)
	if last := &out[len(out)-1]; last.Time != smp.Time {
		out = append(out, smp) // the freshest counters, not kept
	}
	return out
}

// Destination is one domain's results and queue.
type Destination struct {
	engine.Outcomes
	Queued int64 `json:"queued"`
}

func (s *Server) monitorOverview(r *http.Request, k *Key) (any, error) {
	a := s.opts.Admin
	n := intParam(r, "top", 10, 100)
	o := Overview{Time: s.opts.Clock()}
	o.Key.Name, o.Key.Role = k.Name, k.Role
	o.ReceivedMessages, o.ReceivedRecipients = a.Received()
	st := a.SpoolStats()
	o.QueuedMessages, o.QueuedRecipients, o.BodyBytes = st.Messages, st.Recipients, st.BodyBytes
	if t, ok := a.OldestQueued(); ok {
		o.OldestAgeSeconds = max(0, o.Time.Sub(t).Seconds())
	}
	byVMTA, byDomain := a.OutcomeStats(n)
	o.Outcomes.Key = "all"
	for _, v := range byVMTA {
		o.Outcomes.Delivered += v.Delivered
		o.Outcomes.Deferred += v.Deferred
		o.Outcomes.Bounced += v.Bounced
		o.Outcomes.DeliveredPerMin += v.DeliveredPerMin
		o.Outcomes.DeferredPerMin += v.DeferredPerMin
		o.Outcomes.BouncedPerMin += v.BouncedPerMin
	}
	o.Destinations = make([]Destination, 0, len(byDomain))
	shown := map[string]bool{}
	for _, d := range byDomain {
		o.Destinations = append(o.Destinations, Destination{Outcomes: d, Queued: st.ByDomain[d.Key]})
		shown[d.Key] = true
	}
	for _, d := range topQueued(st.ByDomain, n, shown) {
		o.Destinations = append(o.Destinations, Destination{Outcomes: engine.Outcomes{Key: d}, Queued: st.ByDomain[d]})
	}
	o.Reasons = a.TopReasons("", n)
	o.History = s.history.add(Sample{Time: o.Time, Received: o.ReceivedRecipients, Delivered: o.Outcomes.Delivered,
		Deferred: o.Outcomes.Deferred, Bounced: o.Outcomes.Bounced, Queued: o.QueuedRecipients, Messages: o.QueuedMessages})
	return o, nil
}

func (s *Server) monitorQueue(r *http.Request, _ *Key) (any, error) {
	vmta, domain := r.URL.Query().Get("vmta"), r.URL.Query().Get("domain")
	if vmta == "" || domain == "" {
		return nil, badField("domain", "vmta and domain are required: /v1/monitor/queue?vmta=V&domain=D")
	}
	return s.opts.Admin.QueueDetail(vmta, domain), nil
}

func (s *Server) monitorWarmup(r *http.Request, _ *Key) (any, error) {
	curves := s.opts.Admin.WarmupCurves(intParam(r, "days", 30, 366))
	if curves == nil {
		curves = []engine.WarmupCurve{}
	}
	return map[string]any{"curves": curves}, nil
}

// topQueued returns the n domains with the most recipients queued, most
// first, leaving out those in skip: one pass keeping the best n (the map
// may hold a domain per destination ever queued to).
func topQueued(byDomain map[string]int64, n int, skip map[string]bool) []string {
	top := make([]string, 0, n+1)
	for d, q := range byDomain {
		if skip[d] {
			continue
		}
		i := sort.Search(len(top), func(i int) bool {
			t := byDomain[top[i]]
			return t < q || (t == q && top[i] > d)
		})
		if i < n {
			top = slices.Insert(top, i, d)
			if len(top) > n {
				top = top[:n]
			}
		}
	}
	return top
}

// intParam reads a positive query parameter, def when absent or bad,
// at most hi.
func intParam(r *http.Request, name string, def, hi int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || v <= 0 {
		return def
	}
	return min(v, hi)
}

// writeStatusJSON answers err as the REST gateway does: its HTTP status and
// a google.rpc.Status body (code and message).
func writeStatusJSON(w http.ResponseWriter, err error) {
	st, _ := status.FromError(err)
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_ = json.NewEncoder(w).Encode(map[string]any{"code": int(st.Code()), "message": st.Message()})
}
