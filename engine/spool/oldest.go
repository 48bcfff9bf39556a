package spool

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// OldestMessage returns when the oldest pending message was stored (its
// ID's timestamp) and whether any message is pending: the age of the queue's
// tail, for metrics and the monitor.
//
// NB: IDs sort by time and are never reused, and a message's envelope key
// goes only when its last recipient does, so the first e/ key is the oldest
// pending message. Every ID below the last answer belongs to a finished
// message, so the next seek starts there: deleted keys (tombstones not yet
// compacted) are skipped once, not at every call.
func (s *Spool) OldestMessage() (time.Time, bool, error) {
	if err := s.enter(false); err != nil {
		return time.Time{}, false, err
	}
	defer s.exit()
	lo := []byte(prefixEnvelope)
	if h, _ := s.oldestHint.Load().(string); h != "" {
		lo = envelopeKey(h)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd([]byte(prefixEnvelope))})
	if err != nil {
		return time.Time{}, false, err
	}
	defer it.Close()
	if !it.First() {
		return time.Time{}, false, it.Error()
	}
	id := string(it.Key()[len(prefixEnvelope):])
	ms, _, ok := decodeID(id)
	if !ok {
		return time.Time{}, false, nil // not ours: leave the hint alone
	}
	s.oldestHint.Store(id)
	return time.UnixMilli(int64(ms)), true, nil
}
