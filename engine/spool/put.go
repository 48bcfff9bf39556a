package spool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// DefaultVMTA is the queue partition of a message whose envelope names no vmta.
const DefaultVMTA = "default"

// Envelope is what the spool keeps about a message besides its body and recipients.
type Envelope struct {
	From       string    // reverse-path ("" = null sender)
	VMTA       string    // virtual MTA; "" is stored as DefaultVMTA
	Pool       string    // pool the vmta was chosen from
	Campaign   string    // campaign (accounting)
	Tenant     string    // tenant (accounting)
	Source     string    // where it came from, e.g. "smtp 127.0.0.1 user=bob"
	ReceivedAt time.Time // when accepted; zero -> Clock() at Put (ms precision)
	ExpiresAt  time.Time // absolute bounce_after deadline of every recipient (ms precision)

	// Body8Bit and SMTPUTF8 are what the injector declared (BODY=8BITMIME,
	// SMTPUTF8); delivery asks the receiver for the same.
	Body8Bit, SMTPUTF8 bool
	// DSNRet ("FULL" or "HDRS", "" = not given) and EnvID are RFC 3461's RET
	// and ENVID.
	DSNRet, EnvID string
	// Notify and ORcpt are RFC 3461's per-recipient NOTIFY and ORCPT,
	// index-aligned with the recipients; nil when none was given.
	Notify, ORcpt []string

	// BodySize is the stored body's size in bytes; set by the spool on read,
	// ignored by Put.
	BodySize int64
}

// RecipientDSN returns recipient idx's NOTIFY and ORCPT ("" when not given).
func (e *Envelope) RecipientDSN(idx int) (notify, orcpt string) {
	if idx < len(e.Notify) {
		notify = e.Notify[idx]
	}
	if idx < len(e.ORcpt) {
		orcpt = e.ORcpt[idx]
	}
	return notify, orcpt
}

// NewMessage is a message to store.
type NewMessage struct {
	Envelope
	Recipients []string // addresses; the domain is the lowercased part after the last '@'
	Body       []byte   // the full RFC 5322 message, CRLF line endings
}

// Recipient is one pending recipient of a stored message.
type Recipient struct {
	MsgID       string
	Idx         uint32 // position in NewMessage.Recipients
	Address     string
	Domain      string    // lowercased
	VMTA        string    // queue partition
	Attempts    int       // delivery attempts so far
	NextDue     time.Time // ms precision
	ExpiresAt   time.Time
	LastReply   string // last SMTP reply text, "" if none
	LastAttempt time.Time
}

// Put stores the body once, the envelope, and one entry per recipient (queued, due
// now) in one Pebble batch committed with pebble.Sync. It returns only after the batch
// is durable; the returned ID is then safe to acknowledge. Concurrent Puts share WAL
// fsyncs through Pebble's commit pipeline (nothing here serialises them).
//
// It returns an error wrapping ErrLowSpace when free disk space is below
// Options.MinFreeSpace, and fails without writing on an invalid message (no recipients,
// a recipient without a domain, a NUL byte in vmta or domain).
func (s *Spool) Put(ctx context.Context, m *NewMessage) (id string, err error) {
	if err := s.enter(true); err != nil {
		return "", err
	}
	defer s.exit()
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("spool: put: %w", err)
	}
	if err := s.Healthy(); err != nil {
		return "", err
	}
	if err := s.space.check(putFootprint(m)); err != nil {
		return "", err
	}
	now := s.opts.Clock()
	id = s.ids.next(now)
	b, rs, err := s.putBatch(id, now, m)
	if err != nil {
		return "", fmt.Errorf("spool: put %s: %w", id, err)
	}
	defer b.Close()

	unlock := s.lockMessages([]string{id})
	defer unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return "", fmt.Errorf("spool: put %s: %w", id, err)
	}
	s.mu.Lock()
	s.mu.addMessage(id, uint32(len(rs)), int64(len(m.Body)))
	s.mu.tag(m.Pool, m.Campaign, m.Tenant, int64(len(rs)))
	for _, r := range rs {
		s.mu.addRecipient(r, dueMsOf(now))
	}
	s.mu.Unlock()
	return id, nil
}

// putBatch builds Put's batch and returns the queue of each recipient.
func (s *Spool) putBatch(id string, now time.Time, m *NewMessage) (*pebble.Batch, []queueID, error) {
	if len(m.Recipients) == 0 {
		return nil, nil, errors.New("no recipients")
	}
	if len(m.Recipients) > math.MaxUint32 {
		return nil, nil, errors.New("too many recipients")
	}
	env := storedEnvelope{Envelope: m.Envelope, bodySize: int64(len(m.Body)), nrcpt: uint32(len(m.Recipients))}
	if env.VMTA == "" {
		env.VMTA = DefaultVMTA
	}
	if env.ReceivedAt.IsZero() {
		env.ReceivedAt = now
	}
	if err := checkComponent("vmta", env.VMTA); err != nil {
		return nil, nil, err
	}
	qs := make([]queueID, len(m.Recipients))
	for i, addr := range m.Recipients {
		d, err := domainOf(addr)
		if err == nil {
			err = checkComponent("domain", d)
		}
		if err != nil {
			return nil, nil, err
		}
		qs[i] = queueID{env.VMTA, d}
	}

	b := s.db.NewBatch()
	bk := bodyKey(id)
	op := b.SetDeferred(len(bk), 1+len(m.Body))
	copy(op.Key, bk)
	op.Value[0] = bodyInlineV1
	copy(op.Value[1:], m.Body)
	if err := op.Finish(); err != nil {
		_ = b.Close()
		return nil, nil, err
	}
	_ = b.Set(envelopeKey(id), encodeEnvelope(&env), nil)
	due, exp := dueMsOf(now), msOf(env.ExpiresAt)
	for i, addr := range m.Recipients {
		qk := queueKey(qs[i].vmta, qs[i].domain, due, id, uint32(i))
		_ = b.Set(qk, encodeState(&state{address: addr, expiresMs: exp}), nil)
		_ = b.Set(rcptKey(id, uint32(i)), encodeRcptRef(&rcptRef{nrcpt: env.nrcpt, bodySize: env.bodySize,
			pool: m.Pool, campaign: m.Campaign, tenant: m.Tenant, qkey: qk}), nil)
	}
	return b, qs, nil
}

// putFootprint estimates the disk bytes a Put will take before Pebble can reclaim
// anything: the WAL record plus the flushed sstable (about twice the batch).
func putFootprint(m *NewMessage) int64 {
	n := int64(len(m.Body)) + 256
	for _, r := range m.Recipients {
		n += int64(len(r)) + 128
	}
	return 2 * n
}
