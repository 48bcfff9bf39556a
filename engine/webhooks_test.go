package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/webhook"
)

// hookReceiver is a webhook endpoint on loopback: it answers 503 to its
// first failFirst requests and while down, 200 otherwise, and keeps the
// events of the requests it took.
type hookReceiver struct {
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	failFirst int
	down      bool
	requests  int
	failed    int
	badSig    int
	cursors   []uint64
}

func newHookReceiver(t *testing.T, secret string, failFirst int) *hookReceiver {
	h := &hookReceiver{secret: secret, failFirst: failFirst}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if !webhook.Verify(h.secret, r.Header.Get(webhook.TimestampHeader), body, r.Header.Get(webhook.SignatureHeader)) {
			h.badSig++
		}
		if h.down || h.requests <= h.failFirst {
			h.failed++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p struct {
			Webhook string
			Events  []webhook.Event
		}
		if err := json.Unmarshal(body, &p); err != nil || p.Webhook != "crm" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, ev := range p.Events {
			h.cursors = append(h.cursors, ev.Cursor)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) got() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.cursors)
}

// loggedCursors are the cursors of every event in the engine's log.
func loggedCursors(t *testing.T, e *Engine) []uint64 {
	t.Helper()
	evs, err := e.events.log.Read(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func TestWebhook_ReceiverFails3Times_EveryEventArrivesInOrder_RestartResumesFromTheCursor(t *testing.T) {
	const secret = "webhook signing secret"
	w := newWorld(t, 0)
	h := newHookReceiver(t, secret, 3)
	dir := t.TempDir()
	hook := func(c *configs.Config) {
		c.Webhooks = []configs.Webhook{{Name: "crm", URL: h.srv.URL + "/sluice", BatchSize: 4,
			FlushInterval: configs.Duration(20 * time.Millisecond), RetryInitial: configs.Duration(10 * time.Millisecond),
			RetryMax: configs.Duration(50 * time.Millisecond), SigningSecret: secret}}
	}
	e := w.engine(t, dir, hook)
	for i := 0; i < 10; i++ {
		submit(t, e, "news@sender.example", fmt.Sprintf("ok%d@d1.test", i))
	}
	submit(t, e, "news@sender.example", "bounce1@d2.test", "defer1@d2.test")
	// 10 delivered, a bounce, a deferral and the DSN's delivery.
	waitFor(t, "13 events at the receiver", func() bool { return len(h.got()) >= 13 })
	if got, want := h.got(), loggedCursors(t, e); !slices.Equal(got, want) {
		t.Fatalf("receiver got cursors %v, the log holds %v: want every one, in order, once", got, want)
	}
	if n := testutil.ToFloat64(e.hooks.metrics.batches.WithLabelValues("crm", "failed")); n != 3 {
		t.Fatalf("failed batches metric %v, want 3", n)
	}
	// NB: the receiver holds the last batch before the sink reads its answer.
	waitFor(t, "13 sent events counted", func() bool {
		return testutil.ToFloat64(e.hooks.metrics.events.WithLabelValues("crm", "sent")) == 13
	})
	waitFor(t, "no lag once all is sent", func() bool { return e.webhookLags()["crm"] == 0 })

	// The receiver goes down; events pile up behind the cursor; the node stops.
	h.mu.Lock()
	h.down = true
	failedBefore := h.failed
	h.mu.Unlock()
	for i := 0; i < 5; i++ {
		submit(t, e, "news@sender.example", fmt.Sprintf("late%d@d3.test", i))
	}
	waitFor(t, "a failed POST of the new events", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.failed > failedBefore })
	waitFor(t, "5 more events logged", func() bool { return len(loggedCursors(t, e)) >= 18 })
	if lag := e.webhookLags()["crm"]; lag < 5 {
		t.Fatalf("lag %v while the receiver is down behind 5 events, want 5 or more", lag)
	}
	if n, err := testutil.GatherAndCount(e.Registry(), "sluice_webhook_lag_events"); err != nil || n != 1 {
		t.Fatalf("sluice_webhook_lag_events: %d series, %v", n, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.down = false
	h.mu.Unlock()

	e = w.engine(t, dir, hook)
	defer e.Close()
	waitFor(t, "18 events at the receiver", func() bool { return len(h.got()) >= 18 })
	if got, want := h.got(), loggedCursors(t, e); !slices.Equal(got, want) {
		t.Fatalf("after the restart the receiver has cursors %v, the log %v", got, want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.badSig != 0 {
		t.Fatalf("%d requests whose signature does not verify", h.badSig)
	}
}

func TestWebhook_EventTypesOfConfigsAreTheEngines(t *testing.T) {
	if !slices.Equal(configs.WebhookEventTypes, EventTypes) {
		t.Fatalf("configs.WebhookEventTypes %v differ from engine.EventTypes %v", configs.WebhookEventTypes, EventTypes)
	}
}

func TestWebhook_Reload_StartsAddedStopsRemoved_KeepsTheCursor(t *testing.T) {
	w := newWorld(t, 0)
	h := newHookReceiver(t, "", 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	hook := configs.Webhook{Name: "crm", URL: h.srv.URL, FlushInterval: configs.Duration(20 * time.Millisecond)}
	running := func() int { e.hooks.mu.Lock(); defer e.hooks.mu.Unlock(); return len(e.hooks.running) }

	cfg := *e.fileCfg
	cfg.Webhooks = []configs.Webhook{hook}
	if err := e.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	if running() != 1 {
		t.Fatalf("%d webhooks running after a reload that adds one", running())
	}
	submit(t, e, "a@sender.example", "ok1@d1.test")
	waitFor(t, "the event at the receiver", func() bool { return len(h.got()) == 1 })

	cfg2 := cfg
	cfg2.Webhooks = nil
	if err := e.Reload(&cfg2); err != nil {
		t.Fatal(err)
	}
	if running() != 0 {
		t.Fatalf("%d webhooks running after a reload that removes it", running())
	}
	submit(t, e, "a@sender.example", "ok2@d1.test")
	waitFor(t, "the second delivery", func() bool { return w.sink.Stats().Recipients >= 2 })
	if err := e.Reload(&cfg); err != nil { // back: it resumes at its cursor
		t.Fatal(err)
	}
	waitFor(t, "the event of the time it was off", func() bool { return len(h.got()) == 2 })
	if got, want := h.got(), loggedCursors(t, e); !slices.Equal(got, want) {
		t.Fatalf("receiver %v, log %v", got, want)
	}
}
