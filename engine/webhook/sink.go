package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Event is one delivery event as a webhook sends it; the JSON names are those
// of the REST event stream (GET /v1/events).
type Event struct {
	Cursor    uint64    `json:"cursor"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	Recipient string    `json:"recipient"`
	VMTA      string    `json:"vmta"`
	Domain    string    `json:"domain"`
	Campaign  string    `json:"campaign,omitempty"`
	Reply     string    `json:"reply,omitempty"`
	Category  string    `json:"category,omitempty"`
}

// Source is the event stream a Sink reads (the engine's).
type Source interface {
	// Events calls fn in order for every event after the cursor, then for
	// live ones, until ctx is done or fn fails. It fails with an error that
	// ErrLost matches (errors.Is) when the cursor is older than the events
	// kept.
	Events(ctx context.Context, after uint64, fn func(Event) error) error
}

// Cursors keeps each webhook's cursor durably (the engine keeps them in the
// spool).
type Cursors interface {
	// Load returns the saved cursor of a webhook, ok false when none is.
	Load(name string) (cursor uint64, ok bool, err error)
	Save(name string, cursor uint64) error
}

// ErrLost is what a Source's error matches when events after the cursor are
// gone; the Sink then starts again from the oldest event kept.
var ErrLost = errors.New("webhook: events after the cursor were deleted by retention")

// Sink sends one webhook's events. Create it with New and call Run.
type Sink struct {
	opts    Options
	src     Source
	cursors Cursors
	saved   uint64 // the cursor last saved
}

// New checks opts and returns a Sink reading src.
func New(opts Options, src Source, cursors Cursors) (*Sink, error) {
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Sink{opts: opts, src: src, cursors: cursors}, nil
}

// Run sends events until ctx is done (it then returns nil). A failure of the
// source or of saving the cursor is logged and retried after a pause.
func (s *Sink) Run(ctx context.Context) error {
	cursor, ok := s.start(ctx)
	if !ok {
		return nil
	}
	b := s.newBackoff()
	for {
		err := s.stream(ctx, &cursor)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrLost) {
			s.opts.Logger.Error("webhook: events were deleted by retention before they were sent; going on from the oldest kept",
				"webhook", s.opts.Name, "cursor", cursor, "err", err)
			cursor = 0
			continue
		}
		s.opts.Logger.Warn("webhook: event stream failed; resuming", "webhook", s.opts.Name, "cursor", cursor, "err", err)
		if !sleep(ctx, b.next()) {
			return nil
		}
	}
}

// start loads the saved cursor, or saves StartAfter for a new webhook (so
// that a restart before its first batch still starts there). It reports
// false when ctx ended first.
func (s *Sink) start(ctx context.Context) (uint64, bool) {
	b := s.newBackoff()
	for {
		c, ok, err := s.cursors.Load(s.opts.Name)
		if err == nil && !ok {
			c, err = s.opts.StartAfter, s.cursors.Save(s.opts.Name, s.opts.StartAfter)
		}
		if err == nil {
			s.setSaved(c)
			return c, true
		}
		s.opts.Logger.Warn("webhook: cursor", "webhook", s.opts.Name, "err", err)
		if !sleep(ctx, b.next()) {
			return 0, false
		}
	}
}

// stream reads the source after *cursor and sends batches until ctx is done
// or the source fails; *cursor follows the events sent or skipped.
func (s *Sink) stream(ctx context.Context, cursor *uint64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan Event, s.opts.BatchSize)
	errc := make(chan error, 1)
	go func() {
		errc <- s.src.Events(ctx, *cursor, func(ev Event) error {
			select {
			case ch <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	batch := make([]Event, 0, s.opts.BatchSize)
	var read uint64 // the last event taken from ch
	flush := func() error {
		armed = false
		if len(batch) > 0 {
			if err := s.send(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		*cursor = read
		return s.save(ctx, read)
	}
	for {
		select {
		case ev := <-ch:
			read = ev.Cursor
			if len(s.opts.Types) == 0 || slices.Contains(s.opts.Types, ev.Type) {
				batch = append(batch, ev)
			}
			if len(batch) >= s.opts.BatchSize {
				timer.Stop()
				if err := flush(); err != nil {
					return err
				}
			} else if !armed {
				armed = true
				timer.Reset(s.opts.FlushInterval)
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// save stores the cursor when it moved, retrying until it is stored or ctx
// is done: a batch sent but not recorded would be sent again.
func (s *Sink) save(ctx context.Context, cursor uint64) error {
	if cursor == s.saved {
		return nil
	}
	b := s.newBackoff()
	for {
		err := s.cursors.Save(s.opts.Name, cursor)
		if err == nil {
			s.setSaved(cursor)
			return nil
		}
		s.opts.Logger.Warn("webhook: save cursor", "webhook", s.opts.Name, "cursor", cursor, "err", err)
		if !sleep(ctx, b.next()) {
			return fmt.Errorf("webhook %s: save cursor: %w", s.opts.Name, ctx.Err())
		}
	}
}

func (s *Sink) setSaved(cursor uint64) {
	s.saved = cursor
	if s.opts.Saved != nil {
		s.opts.Saved(cursor)
	}
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
