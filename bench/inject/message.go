package inject

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// lineLen is the number of characters of a body line before its CRLF.
const lineLen = 76

// bodyChars are what body lines are made of: printable ASCII without '.', so
// no line needs dot-stuffing and the bytes sent are the bytes the server
// reads.
const bodyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "

// message is one worker's message text: a short header block formatted per
// message (head) followed by text generated once (fixed).
type message struct {
	fixed []byte // remaining headers, the blank line, the body
	head  []byte // scratch for the per-message header block
	rcpt  []byte // scratch for addresses
}

// newMessage generates worker's text for cfg, sized so that head+fixed is
// about cfg.Size bytes. date is the Date header of every message of the run.
func newMessage(cfg *Config, worker int, date time.Time) *message {
	m := &message{head: make([]byte, 0, 256), rcpt: make([]byte, 0, 64)}

	var h []byte
	h = append(h, "From: <"+cfg.From+">\r\n"...)
	h = append(h, "Subject: sluice inject load test\r\n"...)
	h = append(h, "Date: "+date.Format(time.RFC1123Z)+"\r\n"...)
	h = append(h, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"...)
	keys := make([]string, 0, len(cfg.Headers))
	for k := range cfg.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h = append(h, k+": "+cfg.Headers[k]+"\r\n"...)
	}
	h = append(h, "\r\n"...)

	// Estimate the per-message block from a typical one.
	headLen := len(m.header(worker, cfg.Count/2, m.address(cfg, cfg.Count/2, 0), stampFor(cfg, date)))
	bodyLen := max(cfg.Size-len(h)-headLen, 3)

	rng := rand.New(rand.NewPCG(uint64(worker), 0x5111ce))
	m.fixed = appendBody(h, bodyLen, rng)
	return m
}

// appendBody appends about n bytes of body lines (at most lineLen characters
// and CRLF each, at least one line) to b.
func appendBody(b []byte, n int, rng *rand.Rand) []byte {
	b = slices.Grow(b, n+2)
	for n > 0 {
		k := min(lineLen, max(n-2, 1))
		for range k {
			b = append(b, bodyChars[rng.IntN(len(bodyChars))])
		}
		b = append(b, '\r', '\n')
		n -= k + 2
	}
	return b
}

// stampFor returns the sending time to stamp when cfg asks for it, else the
// zero time (no stamp).
func stampFor(cfg *Config, now time.Time) time.Time {
	if cfg.StampHeader {
		return now
	}
	return time.Time{}
}

// header formats the per-message header block of message seq, sent by worker,
// whose first recipient is to; a non-zero sent adds StampField. The result
// is valid until the next call.
func (m *message) header(worker, seq int, to string, sent time.Time) []byte {
	h := m.head[:0]
	h = append(h, "Message-ID: <"...)
	h = strconv.AppendInt(h, int64(seq), 10)
	h = append(h, '.')
	h = strconv.AppendInt(h, int64(worker), 10)
	h = append(h, "@inject.sluice.test>\r\nTo: <"...)
	h = append(h, to...)
	h = append(h, ">\r\nX-Sluice-Seq: "...)
	h = strconv.AppendInt(h, int64(seq), 10)
	h = append(h, "\r\n"...)
	if !sent.IsZero() {
		h = append(h, StampField+": "...)
		h = strconv.AppendInt(h, sent.UnixNano(), 10)
		h = append(h, "\r\n"...)
	}
	m.head = h
	return h
}

// address returns recipient j of message seq: with n = seq*Recipients+j,
// <LocalPart><n>@d<n mod Domains>.test.
func (m *message) address(cfg *Config, seq, j int) string {
	return m.addressN(cfg, int64(seq)*int64(cfg.Recipients)+int64(j))
}

// addressN returns recipient n of the run: <LocalPart><n>@d<n mod
// Domains>.test.
func (m *message) addressN(cfg *Config, n int64) string {
	b := append(m.rcpt[:0], cfg.LocalPart...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "@d"...)
	b = strconv.AppendInt(b, n%int64(cfg.Domains), 10)
	b = append(b, ".test"...)
	m.rcpt = b
	return string(b)
}
