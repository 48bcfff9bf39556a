package spool

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// prefixRecord holds small expiring records that other parts of the engine
// keep durably beside the mail (API idempotency results): i/<key>.
const prefixRecord = "i/"

// PutRecord stores value under key until expires, durably (pebble.Sync).
// Records are the spool's too: only this package writes their keys.
func (s *Spool) PutRecord(key string, value []byte, expires time.Time) error {
	if err := s.enter(true); err != nil {
		return err
	}
	defer s.exit()
	v := binary.AppendVarint(make([]byte, 0, len(value)+10), msOf(expires))
	v = append(v, value...)
	if err := s.db.Set(append([]byte(prefixRecord), key...), v, pebble.Sync); err != nil {
		return fmt.Errorf("spool: put record: %w", err)
	}
	return nil
}

// GetRecord returns the value stored under key, or ErrNotFound when there
// is none or it has expired (an expired record is deleted).
func (s *Spool) GetRecord(key string) ([]byte, error) {
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	k := append([]byte(prefixRecord), key...)
	v, err := s.get(k)
	if err != nil {
		return nil, err
	}
	ms, n := binary.Varint(v)
	if n <= 0 {
		return nil, fmt.Errorf("spool: record: %w", errCorrupt)
	}
	if !s.opts.Clock().Before(timeOf(ms)) {
		if !s.opts.ReadOnly {
			_ = s.db.Delete(k, pebble.NoSync) // NB: losing this delete only leaves an expired record behind
		}
		return nil, ErrNotFound
	}
	return v[n:], nil
}

// Record is one record for PutRecords.
type Record struct {
	Key     string
	Value   []byte
	Expires time.Time
}

// PutRecords stores many records in one batch: synced when durable (one
// fsync, shared with concurrent commits), else left to the next sync (a
// crash may lose them: for records that only help, like delivery tracking).
func (s *Spool) PutRecords(rs []Record, durable bool) error {
	if len(rs) == 0 {
		return nil
	}
	if err := s.enter(true); err != nil {
		return err
	}
	defer s.exit()
	b := s.db.NewBatch()
	defer b.Close()
	for _, r := range rs {
		v := binary.AppendVarint(make([]byte, 0, len(r.Value)+10), msOf(r.Expires))
		_ = b.Set(append([]byte(prefixRecord), r.Key...), append(v, r.Value...), nil)
	}
	opt := pebble.NoSync
	if durable {
		opt = pebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		return fmt.Errorf("spool: put %d records: %w", len(rs), err)
	}
	return nil
}
