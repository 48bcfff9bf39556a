package sink

import (
	"io"
	"net/netip"
	"strings"

	"github.com/emersion/go-smtp"
)

// replier decides the reply to each recipient and to each message. A nil
// error accepts; an *smtp.SMTPError is sent as is (4xx defers, 5xx bounces,
// 421 also makes go-smtp's client give up the connection). Implementations
// may sleep to add latency and must be safe for concurrent use.
//
// It is the seam for behaviour profiles (defer and bounce shares, latency,
// 421 throttling); none exists yet, so Sink.reply is nil and the hot path
// pays one nil check.
type replier interface {
	// rcpt is asked once per RCPT TO, before it is counted.
	rcpt(peer netip.Addr, from, to string) error
	// data is asked once per message after its data has been read, with the
	// recipients accepted for it.
	data(peer netip.Addr, from string, to []string, size int64) error
}

// backend makes a session per EHLO'd connection.
type backend struct{ s *Sink }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sess := &session{s: b.s}
	nc := c.Conn()
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		sess.peer = ap.Addr().Unmap()
		sess.peerKey = sess.peer.String()
	} else {
		sess.peerKey = nc.RemoteAddr().String()
	}
	var seq int64
	if sc, ok := nc.(*conn); ok {
		seq = sc.seq
	}
	sess.shard = b.s.stats.shard(seq)
	return sess, nil
}

// session is one connection's transaction state. go-smtp calls it from the
// connection's goroutine only.
type session struct {
	s       *Sink
	peer    netip.Addr
	peerKey string // peer.String(), computed once per connection
	shard   *shard

	from    string
	to      []string // accepted recipients of this transaction
	domains []string // their domains, lowercased; reused across transactions
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if r := ss.s.reply; r != nil {
		if err := r.rcpt(ss.peer, ss.from, to); err != nil {
			return err
		}
		ss.to = append(ss.to, to) // only a replier needs the addresses
	}
	ss.domains = append(ss.domains, domainOf(to))
	return nil
}

func (ss *session) Data(r io.Reader) error {
	// io.Discard's ReadFrom uses pooled buffers: no allocation per message.
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err // go-smtp replies 552 for ErrDataTooLarge, 554 otherwise
	}
	if rp := ss.s.reply; rp != nil {
		if err := rp.data(ss.peer, ss.from, ss.to, n); err != nil {
			return err
		}
	}
	ss.s.stats.record(ss.shard, ss.peerKey, ss.domains, n)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = ss.to[:0]
	clear(ss.domains) // drop references to old RCPT strings
	ss.domains = ss.domains[:0]
}

func (ss *session) Logout() error { return nil }

// domainOf returns the lowercased domain of a mailbox, or "" if it has none.
// strings.ToLower returns its argument when it is already lowercase ASCII, so
// the usual case does not allocate.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}
