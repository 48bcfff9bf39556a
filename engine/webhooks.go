package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/engine/webhook"
)

// Webhooks: each configured webhook is a webhook.Sink reading the event
// stream (Events) after its own cursor, kept in the spool as the record
// webhookCursorPrefix+name. They run while the engine delivers; a reload
// restarts the webhooks whose settings changed (each resumes at its cursor)
// and stops the removed ones (their cursors stay, for a later return).

// webhookCursorPrefix prefixes the spool records of webhook cursors.
const webhookCursorPrefix = "webhook/"

// webhookSet owns the running webhooks.
type webhookSet struct {
	mu      sync.Mutex
	running map[string]*runningHook
	on      bool // started: reloads apply
	metrics *webhookMetrics
}

type runningHook struct {
	cfg    configs.Webhook
	cancel context.CancelFunc
	done   chan struct{}
	cursor atomic.Uint64 // the last cursor saved, for the lag gauge
}

// startWebhooks starts the webhooks of cfg; reloads then apply to them.
func (e *Engine) startWebhooks(cfg []configs.Webhook) error {
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	e.hooks.on = true
	e.hooks.running = map[string]*runningHook{}
	if e.hooks.metrics == nil {
		e.hooks.metrics = newWebhookMetrics(e.metrics.registry, e.webhookLags)
	}
	return e.applyWebhooksLocked(cfg)
}

// applyWebhooks brings the running webhooks in line with cfg (reload).
func (e *Engine) applyWebhooks(cfg []configs.Webhook) error {
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	if !e.hooks.on {
		return nil
	}
	return e.applyWebhooksLocked(cfg)
}

func (e *Engine) applyWebhooksLocked(cfg []configs.Webhook) error {
	want := map[string]configs.Webhook{}
	for _, w := range cfg {
		want[w.Name] = w
	}
	for name, r := range e.hooks.running {
		if w, ok := want[name]; !ok || !reflect.DeepEqual(w, r.cfg) {
			r.stop()
			delete(e.hooks.running, name)
		}
	}
	var errs []error
	for _, w := range cfg {
		if _, ok := e.hooks.running[w.Name]; ok {
			continue
		}
		r, err := e.runWebhook(w)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.hooks.running[w.Name] = r
	}
	return errors.Join(errs...)
}

// stopWebhooks stops every webhook (Close); a batch in flight is sent again
// at the next start.
func (e *Engine) stopWebhooks() {
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	for name, r := range e.hooks.running {
		r.stop()
		delete(e.hooks.running, name)
	}
	e.hooks.on = false
}

func (r *runningHook) stop() {
	r.cancel()
	<-r.done
}

func (e *Engine) runWebhook(w configs.Webhook) (*runningHook, error) {
	m := e.hooks.metrics
	r := &runningHook{cfg: w, done: make(chan struct{})}
	r.cursor.Store(e.LastEventSeq())
	sink, err := webhook.New(webhook.Options{
		Name: w.Name, URL: w.URL, Types: w.Events, BatchSize: w.BatchSize,
		FlushInterval: w.FlushInterval.D(), Timeout: w.Timeout.D(),
		RetryInitial: w.RetryInitial.D(), RetryMax: w.RetryMax.D(),
		Authorization: w.Authorization, SigningSecret: w.SigningSecret,
		StartAfter: e.LastEventSeq(), Clock: e.clock,
		Logger:  e.log.With("component", "webhook"),
		Observe: func(o webhook.Outcome, n int) { m.observe(w.Name, o, n) },
		Saved:   func(c uint64) { r.cursor.Store(c) },
	}, webhookSource{e}, webhookCursors{e.spool})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		_ = sink.Run(ctx)
	}()
	return r, nil
}

// webhookSource is the engine's event stream as a webhook.Source.
type webhookSource struct{ e *Engine }

func (s webhookSource) Events(ctx context.Context, after uint64, fn func(webhook.Event) error) error {
	err := s.e.Events(ctx, after, EventFilter{}, func(ev Event) error {
		return fn(webhook.Event{Cursor: ev.Seq, Time: ev.Time.UTC(), Type: ev.Type, ID: ev.MsgID,
			Recipient: ev.Recipient, VMTA: ev.VMTA, Domain: ev.Domain, Campaign: ev.Campaign,
			Reply: ev.Reply, Category: ev.Category})
	})
	if errors.Is(err, ErrEventsLost) || errors.Is(err, spool.ErrCursorAhead) {
		return fmt.Errorf("%w: %w", webhook.ErrLost, err)
	}
	return err
}

// webhookCursors keeps webhook cursors as spool records.
type webhookCursors struct{ sp *spool.Spool }

func (c webhookCursors) Load(name string) (uint64, bool, error) {
	v, err := c.sp.GetRecord(webhookCursorPrefix + name)
	if errors.Is(err, spool.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, false, fmt.Errorf("engine: webhook %s: unreadable cursor record", name)
	}
	return n, true, nil
}

func (c webhookCursors) Save(name string, cursor uint64) error {
	return c.sp.PutRecord(webhookCursorPrefix+name, binary.AppendUvarint(nil, cursor), recordsForever)
}

// webhookLags returns, per running webhook, how many events it is behind
// (the newest event's cursor less its saved cursor).
func (e *Engine) webhookLags() map[string]float64 {
	last := e.LastEventSeq()
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	out := make(map[string]float64, len(e.hooks.running))
	for name, r := range e.hooks.running {
		c := r.cursor.Load()
		out[name] = float64(last - min(c, last))
	}
	return out
}
