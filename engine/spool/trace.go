package spool

import (
	"errors"
	"fmt"
)

// MessageRecipients returns the pending recipients of message id with their
// state (a range read of r/<id> and one get per recipient), or ErrNotFound
// when none is pending: the message was delivered, bounced or purged, or
// never existed.
func (s *Spool) MessageRecipients(id string) ([]Recipient, error) {
	if !validID(id) {
		return nil, fmt.Errorf("spool: message %q: %w", id, ErrNotFound)
	}
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	var out []Recipient
	err := s.scan(append([]byte(prefixRcpt), id...), func(k, v []byte) error {
		ref, err := decodeRcptRef(v)
		if err != nil {
			return err
		}
		pk, err := parseQueueKey(ref.qkey)
		if err != nil {
			return err
		}
		sv, err := s.get(ref.qkey)
		if errors.Is(err, ErrNotFound) {
			return nil // completed between the two reads
		}
		if err != nil {
			return err
		}
		st, err := decodeState(sv)
		if err != nil {
			return err
		}
		out = append(out, toRecipient(pk, &st))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: message %s: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("spool: message %s: %w", id, ErrNotFound)
	}
	return out, nil
}
