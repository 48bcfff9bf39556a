package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Value encodings. Each value starts with a version byte; fields follow as uvarint
// lengths and varints. Times are ms since the Unix epoch; 0 is the zero time.
const (
	bodyInlineV1 = 1 // m/ value: version byte, then the body bytes
	envelopeV1   = 1
	stateV1      = 1
	rcptRefV1    = 1
	rcptRefV2    = 2 // adds pool and campaign
	rcptRefV3    = 3 // adds tenant
)

var errCorrupt = errors.New("spool: corrupt value")

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// dueMsOf is the key form of a due time: ms, clamped at 0 so it sorts as unsigned.
func dueMsOf(t time.Time) int64 { return max(t.UnixMilli(), 0) }

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) version(want byte) {
	if len(d.b) == 0 {
		d.err = errCorrupt
		return
	}
	if d.b[0] != want {
		d.err = fmt.Errorf("spool: value version %d, want %d", d.b[0], want)
		return
	}
	d.b = d.b[1:]
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// storedEnvelope is the e/ value: the Envelope plus what Complete needs.
type storedEnvelope struct {
	Envelope
	bodySize int64
	nrcpt    uint32
}

func encodeEnvelope(e *storedEnvelope) []byte {
	b := make([]byte, 0, 64+len(e.From)+len(e.VMTA)+len(e.Pool)+len(e.Campaign)+len(e.Tenant)+len(e.Source))
	b = append(b, envelopeV1)
	for _, s := range [...]string{e.From, e.VMTA, e.Pool, e.Campaign, e.Tenant, e.Source} {
		b = appendStr(b, s)
	}
	b = binary.AppendVarint(b, msOf(e.ReceivedAt))
	b = binary.AppendVarint(b, msOf(e.ExpiresAt))
	b = binary.AppendUvarint(b, uint64(e.bodySize))
	b = binary.AppendUvarint(b, uint64(e.nrcpt))
	// Optional tail (absent in the oldest v1 values): flags, DSN fields.
	var flags byte
	if e.Body8Bit {
		flags |= flag8Bit
	}
	if e.SMTPUTF8 {
		flags |= flagUTF8
	}
	b = append(b, flags)
	b = appendStr(b, e.DSNRet)
	b = appendStr(b, e.EnvID)
	for _, list := range [][]string{e.Notify, e.ORcpt} {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, v := range list {
			b = appendStr(b, v)
		}
	}
	return b
}

// Envelope flag bits.
const (
	flag8Bit byte = 1 << iota
	flagUTF8
)

func decodeEnvelope(v []byte) (storedEnvelope, error) {
	d := decoder{b: v}
	d.version(envelopeV1)
	var e storedEnvelope
	e.From, e.VMTA, e.Pool, e.Campaign, e.Tenant, e.Source = d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	e.ReceivedAt = timeOf(d.varint())
	e.ExpiresAt = timeOf(d.varint())
	e.bodySize = int64(d.uvarint())
	e.nrcpt = uint32(d.uvarint())
	e.BodySize = e.bodySize
	if d.err == nil && len(d.b) > 0 {
		flags := d.b[0]
		d.b = d.b[1:]
		e.Body8Bit, e.SMTPUTF8 = flags&flag8Bit != 0, flags&flagUTF8 != 0
		e.DSNRet, e.EnvID = d.str(), d.str()
		for _, list := range []*[]string{&e.Notify, &e.ORcpt} {
			n := d.uvarint()
			if n > uint64(len(d.b)) {
				d.err = errCorrupt
				break
			}
			for i := uint64(0); i < n && d.err == nil; i++ {
				*list = append(*list, d.str())
			}
		}
	}
	return e, d.err
}

// state is the q/ value: what the key does not already say about a recipient.
type state struct {
	address     string
	attempts    int
	expiresMs   int64
	lastAttempt int64
	lastReply   string
}

func encodeState(s *state) []byte {
	b := make([]byte, 0, 24+len(s.address)+len(s.lastReply))
	b = append(b, stateV1)
	b = appendStr(b, s.address)
	b = binary.AppendUvarint(b, uint64(s.attempts))
	b = binary.AppendVarint(b, s.expiresMs)
	b = binary.AppendVarint(b, s.lastAttempt)
	return appendStr(b, s.lastReply)
}

func decodeState(v []byte) (state, error) {
	d := decoder{b: v}
	d.version(stateV1)
	var s state
	s.address = d.str()
	s.attempts = int(d.uvarint())
	s.expiresMs = d.varint()
	s.lastAttempt = d.varint()
	s.lastReply = d.str()
	return s, d.err
}

// rcptRef is the r/ value: the recipient's current q/ key plus the message facts that
// Complete needs without reading the envelope.
type rcptRef struct {
	nrcpt          uint32
	bodySize       int64
	pool, campaign string // for the per-pool and per-campaign counts
	tenant         string // for the per-tenant counts
	qkey           []byte
}

func encodeRcptRef(r *rcptRef) []byte {
	b := make([]byte, 0, 14+len(r.pool)+len(r.campaign)+len(r.qkey))
	b = append(b, rcptRefV3)
	b = binary.AppendUvarint(b, uint64(r.nrcpt))
	b = binary.AppendUvarint(b, uint64(r.bodySize))
	b = appendStr(b, r.pool)
	b = appendStr(b, r.campaign)
	b = appendStr(b, r.tenant)
	return append(b, r.qkey...)
}

func decodeRcptRef(v []byte) (rcptRef, error) {
	d := decoder{b: v}
	ver := byte(0)
	if len(v) > 0 {
		ver = v[0]
	}
	switch ver {
	case rcptRefV1, rcptRefV2:
		d.version(ver)
	default:
		d.version(rcptRefV3)
	}
	var r rcptRef
	r.nrcpt = uint32(d.uvarint())
	r.bodySize = int64(d.uvarint())
	if ver != rcptRefV1 {
		r.pool, r.campaign = d.str(), d.str()
	}
	if ver != rcptRefV1 && ver != rcptRefV2 {
		r.tenant = d.str()
	}
	if d.err == nil {
		r.qkey = append([]byte(nil), d.b...)
	}
	return r, d.err
}

// toRecipient joins a q/ key and its value.
func toRecipient(k parsedQueueKey, s *state) Recipient {
	return Recipient{
		MsgID:       k.id,
		Idx:         k.idx,
		Address:     s.address,
		Domain:      k.domain,
		VMTA:        k.vmta,
		Attempts:    s.attempts,
		NextDue:     time.UnixMilli(k.dueMs),
		ExpiresAt:   timeOf(s.expiresMs),
		LastReply:   s.lastReply,
		LastAttempt: timeOf(s.lastAttempt),
	}
}
