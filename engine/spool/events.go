package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The delivery event log: an append-only sequence of small records beside the
// mail, read by cursor (the event stream of the API).
//
//	v/<seq>  -> eventV1 | time ms, type, msgid, recipient, vmta, domain, campaign,
//	            reply, category
//	v!hw     -> the reserved sequence high-water mark (uvarint)
//
// <seq> is 8 big-endian bytes, so the log's range is in append order. Sequence
// numbers start at 1 and only grow; 0 is the cursor "before everything".
//
// Durability. Events are derived from the delivery outcomes the spool already
// holds (the mail state is the truth), so Append commits with pebble.NoSync: it
// never waits for an fsync. The engine appends an outcome's events just before the
// synced Complete/Reschedule of the same outcome; Pebble's WAL is one sequential
// file, so that sync makes the events durable too, at no extra fsync. Events whose
// following synced write never happens (a crash in between) can be lost; a
// recipient whose outcome was lost that way is delivered again, and its event is
// written then.
//
// Sequence numbers are never reused, even across a crash that lost the last
// events: Append reserves numbers in blocks of eventSeqBlock by syncing v!hw before
// handing out any number of a new block, and Open resumes at the reservation. A
// cursor taken before a crash therefore stays valid (the lost numbers are simply a
// gap, never reissued to other events).
//
// Retention keeps the newest EventLogOptions.Retain events: past that, Append
// deletes the oldest ones with one range delete, at most once per
// Retain/16 appends. Read reports ErrEventsLost for a cursor older than what is kept.
const (
	prefixEvent   = "v/"
	eventHWKey    = "v!hw"
	eventV1       = 1
	eventSeqBlock = 1 << 16
	eventSeqLen   = 8
)

// Event errors (match with errors.Is).
var (
	// ErrEventsLost: the cursor is older than the oldest event kept; events after
	// it were deleted by retention. Start again from cursor 0 (the oldest kept).
	ErrEventsLost = errors.New("spool: events after this cursor were deleted by retention")
	// ErrCursorAhead: the cursor is past the last sequence number ever handed out
	// (it belongs to another spool, or the spool was recreated).
	ErrCursorAhead = errors.New("spool: event cursor is ahead of the log")
)

// Event is one delivery event as stored in the log.
type Event struct {
	// Seq is the event's cursor, assigned by Append (ignored on input).
	Seq  uint64
	Time time.Time
	// Type is what happened: delivered, deferred, bounced, expired, complaint or
	// action (the spool does not interpret it).
	Type      string
	MsgID     string
	Recipient string
	VMTA      string
	Domain    string
	Campaign  string
	// Reply is the remote (or locally made) SMTP reply, or an action's text.
	Reply string
	// Category is the bounce category (feedback) of a reply that is not positive.
	Category string
}

// DefaultEventRetain is EventLogOptions.Retain's default: events kept.
const DefaultEventRetain = 1_000_000

// EventLogOptions configure an EventLog.
type EventLogOptions struct {
	// Retain is how many of the newest events are kept. Default 1,000,000
	// (about 100-200 MB of keys).
	Retain uint64
}

// EventLog is the spool's event log. Open it once per Spool (OpenEventLog); it is
// safe for concurrent use.
type EventLog struct {
	s      *Spool
	retain uint64

	mu struct {
		sync.Mutex
		first     uint64 // oldest sequence number kept (next when empty)
		next      uint64 // next number to hand out
		reserved  uint64 // numbers below it are reserved durably (v!hw)
		sinceTrim uint64 // appends since the last retention check
	}
}

// OpenEventLog opens the event log of s, recovering its bounds from the first and
// last keys and the reservation. Call it once per Spool: two EventLogs on one spool
// would hand out the same numbers.
func OpenEventLog(s *Spool, opts EventLogOptions) (*EventLog, error) {
	if opts.Retain == 0 {
		opts.Retain = DefaultEventRetain
	}
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	l := &EventLog{s: s, retain: opts.Retain}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixEvent), UpperBound: prefixEnd([]byte(prefixEvent))})
	if err != nil {
		return nil, fmt.Errorf("spool: open events: %w", err)
	}
	var first, last uint64
	if it.First() {
		first = seqOfEventKey(it.Key())
		it.Last()
		last = seqOfEventKey(it.Key())
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("spool: open events: %w", err)
	}
	next := last + 1
	if v, err := s.get([]byte(eventHWKey)); err == nil {
		hw, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, fmt.Errorf("spool: event high-water mark: %w", errCorrupt)
		}
		next = max(next, hw)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("spool: open events: %w", err)
	}
	if first == 0 {
		first = next
	}
	l.mu.first, l.mu.next, l.mu.reserved = first, next, next
	return l, nil
}

func eventKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixEvent), seq)
}

func seqOfEventKey(k []byte) uint64 {
	if len(k) != len(prefixEvent)+eventSeqLen {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(prefixEvent):])
}

// Append stores evs in one batch (pebble.NoSync; see the durability note above),
// numbering them in order, and returns the first number. evs' Seq fields are set.
func (l *EventLog) Append(evs []Event) (firstSeq uint64, err error) {
	if len(evs) == 0 {
		return 0, nil
	}
	s := l.s
	if err := s.enter(true); err != nil {
		return 0, err
	}
	defer s.exit()
	// NB: mu is held across the commit so that numbers reach the log in order and
	// a reader that sees next = N finds every kept key below N. The commit does not
	// wait for an fsync (except for a reservation, once per eventSeqBlock events).
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.mu.next
	end := first + uint64(len(evs))
	if end > l.mu.reserved {
		hw := end + eventSeqBlock
		if err := s.db.Set([]byte(eventHWKey), binary.AppendUvarint(nil, hw), pebble.Sync); err != nil {
			return 0, fmt.Errorf("spool: reserve event numbers: %w", err)
		}
		l.mu.reserved = hw
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := range evs {
		evs[i].Seq = first + uint64(i)
		if err := b.Set(eventKey(evs[i].Seq), encodeEvent(&evs[i]), nil); err != nil {
			return 0, fmt.Errorf("spool: append events: %w", err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("spool: append events: %w", err)
	}
	l.mu.next = end
	l.mu.sinceTrim += uint64(len(evs))
	if l.mu.sinceTrim >= max(l.retain/16, 1) {
		l.mu.sinceTrim = 0
		l.trimLocked()
	}
	return first, nil
}

// trimLocked deletes the events beyond retention with one range delete.
func (l *EventLog) trimLocked() {
	if l.mu.next-l.mu.first <= l.retain {
		return
	}
	newFirst := l.mu.next - l.retain
	// NB: losing this delete in a crash only leaves old events behind for the next
	// trim; first is advanced before readers can look, under mu.
	if err := l.s.db.DeleteRange(eventKey(l.mu.first), eventKey(newFirst), pebble.NoSync); err != nil {
		l.s.log.Warn("spool: event retention", "err", err)
		return
	}
	l.mu.first = newFirst
}

// Bounds returns the oldest event number kept and the last one handed out (0 when
// none ever was). With no event kept, oldest is last+1.
func (l *EventLog) Bounds() (oldest, last uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.first, l.mu.next - 1
}

// Read returns up to limit events with numbers above after, in order. Cursor 0
// reads from the oldest event kept. It fails with ErrEventsLost when events after a
// non-zero cursor were deleted by retention, and ErrCursorAhead for a cursor past
// the last number handed out. Gaps (events a crash lost) are skipped silently.
func (l *EventLog) Read(after uint64, limit int) ([]Event, error) {
	s := l.s
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	if _, last := l.Bounds(); after > last {
		return nil, fmt.Errorf("%w: cursor %d, last event %d", ErrCursorAhead, after, last)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(after + 1), UpperBound: prefixEnd([]byte(prefixEvent))})
	if err != nil {
		return nil, fmt.Errorf("spool: read events: %w", err)
	}
	var out []Event
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		v, err := it.ValueAndErr()
		var ev Event
		if err == nil {
			ev, err = decodeEvent(v)
		}
		if err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("spool: read event %x: %w", it.Key(), err)
		}
		ev.Seq = seqOfEventKey(it.Key())
		out = append(out, ev)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("spool: read events: %w", err)
	}
	// NB: checked after the read: a trim that ran during it advanced first before
	// this load, so a read that lost events to it is reported, not returned.
	if oldest, _ := l.Bounds(); after > 0 && after+1 < oldest {
		return nil, fmt.Errorf("%w: cursor %d, oldest kept %d", ErrEventsLost, after, oldest)
	}
	return out, nil
}

func encodeEvent(e *Event) []byte {
	b := make([]byte, 0, 32+len(e.Type)+len(e.MsgID)+len(e.Recipient)+len(e.VMTA)+len(e.Domain)+
		len(e.Campaign)+len(e.Reply)+len(e.Category))
	b = append(b, eventV1)
	b = binary.AppendVarint(b, msOf(e.Time))
	for _, s := range [...]string{e.Type, e.MsgID, e.Recipient, e.VMTA, e.Domain, e.Campaign, e.Reply, e.Category} {
		b = appendStr(b, s)
	}
	return b
}

func decodeEvent(v []byte) (Event, error) {
	d := decoder{b: v}
	d.version(eventV1)
	var e Event
	e.Time = timeOf(d.varint())
	for _, p := range [...]*string{&e.Type, &e.MsgID, &e.Recipient, &e.VMTA, &e.Domain, &e.Campaign, &e.Reply, &e.Category} {
		*p = d.str()
	}
	return e, d.err
}
