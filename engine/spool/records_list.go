package spool

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// DeleteRecord removes the record stored under key, durably (pebble.Sync).
// Deleting a key that holds no record is not an error.
func (s *Spool) DeleteRecord(key string) error {
	if err := s.enter(true); err != nil {
		return err
	}
	defer s.exit()
	if err := s.db.Delete(append([]byte(prefixRecord), key...), pebble.Sync); err != nil {
		return fmt.Errorf("spool: delete record: %w", err)
	}
	return nil
}

// ListRecords returns the unexpired records whose keys start with prefix,
// by key (the whole key, prefix included). Values are copies the caller owns.
func (s *Spool) ListRecords(prefix string) (map[string][]byte, error) {
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	now := s.opts.Clock()
	p := []byte(prefixRecord + prefix)
	out := map[string][]byte{}
	err := s.scan(p, func(k, v []byte) error {
		ms, n := binary.Varint(v)
		if n <= 0 {
			return fmt.Errorf("spool: record %q: %w", k[len(prefixRecord):], errCorrupt)
		}
		if !now.Before(timeOf(ms)) {
			return nil // expired: GetRecord deletes it when asked
		}
		out[string(k[len(prefixRecord):])] = append([]byte(nil), v[n:]...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
