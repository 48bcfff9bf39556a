package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/spool"
)

// The delivery event stream.
//
// Every recipient outcome that finish decides becomes one Event, appended to the
// spool's event log (spool.EventLog) in one batch per outcome batch, just before
// the synced Complete/Reschedule that records the outcome (whose fsync makes the
// events durable too; see spool/events.go). Subscribers are then woken.
//
//	finish:  evs := one Event per recipient
//	         log.Append(evs)                     (NoSync; numbers them)
//	         spool.Reschedule / Complete         (Sync: covers the events)
//	         hub.notify()                        (close the wake channel, make a new one)
//	Events:  loop { wake := hub.changed(); evs := log.Read(cursor, 512)
//	                send the matching ones, advancing cursor
//	                if a full page: continue; else wait for wake or ctx }
//
// A subscriber only ever reads the log: a slow one never blocks delivery, and it
// misses nothing as long as retention (the newest 1,000,000 events) still holds
// its cursor; past that Events fails with ErrEventsLost. Rejected designs: a
// channel per subscriber (a slow consumer either blocks delivery or drops events)
// and replay-then-switch-to-channel (a race at the switch loses or repeats events).

// Event types.
const (
	EventDelivered = "delivered"
	EventDeferred  = "deferred"
	EventBounced   = "bounced"
	// EventExpired is a bounce because the recipient outlived its bounce_after.
	EventExpired = "expired"
	// EventComplaint and EventAction are for feedback-loop reports and automatic
	// actions (suspensions, backoffs); nothing emits them yet.
	EventComplaint = "complaint"
	EventAction    = "action"
)

// EventTypes are the valid values of Event.Type.
var EventTypes = []string{EventDelivered, EventDeferred, EventBounced, EventExpired, EventComplaint, EventAction}

// Event is one delivery event; its Seq is the cursor a subscriber resumes
// after.
type Event = spool.Event

// ErrEventsLost is returned by Events for a cursor older than the events kept.
var ErrEventsLost = spool.ErrEventsLost

// EventFilter selects events; zero fields match everything. Domain is
// compared case-insensitively.
type EventFilter struct {
	Types    []string
	VMTA     string
	Domain   string
	Campaign string
}

// Validate reports an unknown type.
func (f EventFilter) Validate() error {
	for _, t := range f.Types {
		if !slices.Contains(EventTypes, t) {
			return fmt.Errorf("engine: unknown event type %q (want one of %s)", t, strings.Join(EventTypes, ", "))
		}
	}
	return nil
}

func (f EventFilter) match(ev *Event) bool {
	return (len(f.Types) == 0 || slices.Contains(f.Types, ev.Type)) &&
		(f.VMTA == "" || f.VMTA == ev.VMTA) &&
		(f.Domain == "" || strings.EqualFold(f.Domain, ev.Domain)) &&
		(f.Campaign == "" || f.Campaign == ev.Campaign)
}

// eventHub owns the event log and wakes subscribers when it grows.
type eventHub struct {
	log    *spool.EventLog
	closed chan struct{}

	mu   sync.Mutex
	wake chan struct{} // closed (and replaced) when events were appended
	done bool
}

func newEventHub(sp *spool.Spool) (*eventHub, error) {
	l, err := spool.OpenEventLog(sp, spool.EventLogOptions{})
	if err != nil {
		return nil, fmt.Errorf("engine: event log: %w", err)
	}
	return &eventHub{log: l, closed: make(chan struct{}), wake: make(chan struct{})}, nil
}

// changed returns a channel closed at the next notify.
func (h *eventHub) changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wake
}

func (h *eventHub) notify() {
	h.mu.Lock()
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
}

// close ends every subscription (before the spool closes).
func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.done = true
		close(h.closed)
	}
}

// eventPage is how many events a subscriber reads from the log at a time.
const eventPage = 512

// errEventsClosed ends subscriptions when the engine closes.
var errEventsClosed = errors.New("engine: closed")

// Events calls fn, in order, for every event after the cursor that matches
// filter: first those in the log, then live ones as they happen, until ctx
// is done (it then returns ctx.Err()), fn fails (its error is returned) or
// the engine closes. Cursor 0 starts at the oldest event kept. A subscriber
// that resumes after the Seq of the last event it got misses none and sees
// none twice; if retention already deleted events after the cursor, Events
// fails at once with an error wrapping ErrEventsLost.
func (e *Engine) Events(ctx context.Context, after uint64, filter EventFilter, fn func(Event) error) error {
	if err := filter.Validate(); err != nil {
		return err
	}
	h := e.events
	for {
		wake := h.changed() // NB: taken before the read, so no append slips between
		evs, err := h.log.Read(after, eventPage)
		if err != nil {
			return fmt.Errorf("engine: events: %w", err)
		}
		for i := range evs {
			after = evs[i].Seq
			if filter.match(&evs[i]) {
				if err := fn(evs[i]); err != nil {
					return err
				}
			}
		}
		if len(evs) == eventPage {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-h.closed:
			return errEventsClosed
		}
	}
}

// LastEventSeq is the cursor of the newest event (0 when there is none): a
// subscriber that wants live events only starts after it.
func (e *Engine) LastEventSeq() uint64 {
	_, last := e.events.log.Bounds()
	return last
}

// appendEvents logs evs (numbering them). The caller calls events.notify
// once the outcome they describe is in the spool.
func (e *Engine) appendEvents(evs []Event) {
	if len(evs) == 0 {
		return
	}
	if _, err := e.events.log.Append(evs); err != nil {
		e.log.Warn("event log append", "n", len(evs), "err", err)
	}
}

// outcomeEvent is the event of one recipient's outcome in finish.
func outcomeEvent(it resultItem, r spool.Recipient, reply client.Reply, typ, category string, now time.Time) Event {
	if typ == EventBounced && reply.Enhanced == "4.4.7" && reply.Local {
		typ = EventExpired
	}
	return Event{Time: now, Type: typ, MsgID: r.MsgID, Recipient: r.Address, VMTA: it.key.VMTA,
		Domain: it.key.Domain, Campaign: it.env.Campaign, Reply: reply.String(), Category: category}
}

// eventTypeOf maps an accounting record type to an event type.
func eventTypeOf(t string) string {
	switch t {
	case acct.TypeDelivered:
		return EventDelivered
	case acct.TypeBounced:
		return EventBounced
	}
	return EventDeferred
}
