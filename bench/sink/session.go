package sink

import (
	"io"
	"net/netip"
	"strings"

	"github.com/emersion/go-smtp"
)

// replier decides the reply to each recipient and to each message. A nil
// error accepts; an *smtp.SMTPError is sent as is (4xx defers, 5xx bounces).
// After a 421 the session closes the connection, as RFC 5321 says a server
// sending 421 does. Implementations may sleep to add latency and must be
// safe for concurrent use.
//
// The Sink's own is script (behaviour.go); tests may plug in another.
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
	sess.c, _ = nc.(*conn)
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		sess.peer = ap.Addr().Unmap()
		sess.peerKey = sess.peer.String()
	} else {
		sess.peerKey = nc.RemoteAddr().String()
	}
	var seq int64
	if sess.c != nil {
		seq = sess.c.seq
	}
	sess.shard = b.s.stats.shard(seq)
	sess.delay(CmdEHLO, Dist{})
	return sess, nil
}

// session is one connection's transaction state. go-smtp calls it from the
// connection's goroutine only.
type session struct {
	s       *Sink
	c       *conn // nil only if the listener was not ours
	peer    netip.Addr
	peerKey string // peer.String(), computed once per connection
	shard   *shard

	from      string
	mailReads int64       // c.reads when MAIL was handled
	to        []string    // accepted recipients of this transaction
	domains   []string    // their domains, lowercased; reused across transactions
	hdr       []byte      // HeaderScanBytes for the header block, made on first DATA
	group     *groupState // profile group of the transaction's first recipient, or nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.closed() {
		return errShuttingDown
	}
	if p := ss.s.prof; p != nil && ss.c != nil {
		if lim := p.p.Limits.MaxMessagesPerConnection; lim > 0 && ss.c.msgs >= lim {
			err := p.p.Limits.MessagesReply.err("")
			ss.refuse(err, 421)
			return err
		}
		ss.delay(CmdMail, Dist{})
	}
	ss.from = from
	ss.shard.transactions.Add(1)
	if ss.c != nil {
		ss.mailReads = ss.c.reads
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.closed() {
		return errShuttingDown
	}
	if p := ss.s.prof; p != nil {
		if g := p.group(domainOf(to)); g != nil {
			return ss.rcptByGroup(g, to)
		}
	}
	if r := ss.s.reply; r != nil {
		if err := r.rcpt(ss.peer, ss.from, to); err != nil {
			ss.refuse(err, 451) // go-smtp's code for an error that is no SMTPError
			return err
		}
	}
	ss.accept(to)
	return nil
}

func (ss *session) accept(to string) {
	ss.shard.count(250)
	ss.to = append(ss.to, to)
	ss.domains = append(ss.domains, domainOf(to))
}

// rcptByGroup answers a RCPT of a profile group: its delay, then its next
// outcome.
func (ss *session) rcptByGroup(g *groupState, to string) error {
	if !ss.delay(CmdRcpt, g.rcptD) {
		return errShuttingDown
	}
	if ss.closed() {
		return errShuttingDown
	}
	if ss.group == nil {
		ss.group = g
	}
	if err := g.reply(g.next(), to); err != nil {
		g.count(err.Code)
		ss.refuse(err, err.Code)
		return err
	}
	g.count(250)
	ss.accept(to)
	return nil
}

// delay waits the profile's delay for cmd (d when set, else the
// profile's own), drawn from the connection's generator. It reports false
// if the Sink closed meanwhile. Without a profile it does nothing.
func (ss *session) delay(cmd Command, d Dist) bool {
	p := ss.s.prof
	if p == nil || ss.c == nil || ss.c.rng == nil {
		return true
	}
	if d.IsZero() {
		d = p.p.Latency[cmd]
	}
	return ss.s.pause(d.Sample(ss.c.rng))
}

func (ss *session) Data(r io.Reader) error {
	if ss.closed() {
		return errShuttingDown
	}
	if ss.c != nil && ss.c.reads == ss.mailReads {
		ss.shard.pipelined.Add(1) // MAIL through DATA came in one read
	}
	// The header block goes through the session's buffer, for the stamp;
	// the rest to io.Discard, whose ReadFrom uses pooled buffers: no
	// allocation per message.
	if ss.hdr == nil {
		ss.hdr = make([]byte, HeaderScanBytes)
	}
	n, stamp, err := drain(r, ss.hdr)
	if err == nil && ss.s.prof != nil {
		var d Dist
		if ss.group != nil {
			d = ss.group.dataD
		}
		if !ss.delay(CmdData, d) {
			err = errShuttingDown
		}
	}
	if rp := ss.s.reply; err == nil && rp != nil {
		err = rp.data(ss.peer, ss.from, ss.to, n)
	}
	if err != nil {
		ss.refuse(err, 554) // go-smtp replies 552 for ErrDataTooLarge, 554 otherwise
		return err
	}
	ss.shard.count(250)
	if ss.c != nil {
		ss.c.msgs++
	}
	ss.s.stats.record(ss.shard, ss.peerKey, ss.domains, n, stamp)
	if ss.s.cfg.TrackDuplicates {
		ss.s.dups.add(ss.to)
	}
	return nil
}

// refuse counts the reply go-smtp will make of err (an *smtp.SMTPError's
// code, else fallback) and, for 421, closes the connection once that reply
// is written.
func (ss *session) refuse(err error, fallback int) {
	code := fallback
	if se, ok := err.(*smtp.SMTPError); ok { // as go-smtp tests it: no unwrapping
		code = se.Code
	}
	ss.shard.count(code)
	if code == 421 && ss.c != nil {
		ss.c.closeAfterWrite.Store(true)
	}
}

// closed reports whether the connection is closed. NB: after a 421 go-smtp
// still handles the commands already in its read buffer (a pipelining
// client sends RCPTs and DATA behind the one refused); they get no reply
// and must not be counted.
func (ss *session) closed() bool { return ss.c != nil && ss.c.closed.Load() }

func (ss *session) Reset() {
	ss.from = ""
	ss.group = nil
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
