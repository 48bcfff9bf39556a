package receive

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Why a connection's read timed out or why it was closed; logged as "result".
const (
	causeCommand  = "command timeout"
	causeData     = "data timeout"
	causeRate     = "data rate too low"
	causeSession  = "session timeout"
	causeDraining = "shutting down"
	causeBadCmds  = "too many bad commands"
)

// limitedConn wraps an accepted net.Conn and enforces what go-smtp does not:
// an absolute session deadline, an absolute DATA deadline, a minimum DATA
// rate, and the bad-command limit. It also carries the per-connection
// statistics that are logged when it closes.
//
// go-smtp sets a read deadline before each command line (ReadTimeout). That
// call is intercepted: Read itself arms the raw deadline before every read as
// the earliest of the session deadline and either the command deadline (in
// command phase) or the DATA deadline and the rate deadline (in DATA phase).
// The rate deadline start+max(grace, n/rate) is exactly the moment at which
// the n bytes read so far would fall below the minimum average rate.
//
// go-smtp calls Read, Write and SetReadDeadline from the connection's
// goroutine (through crypto/tls after STARTTLS); the session (possibly on
// go-smtp's BDAT goroutine) and Shutdown touch the state under mu.
type limitedConn struct {
	net.Conn
	srv             *Server
	ip              netip.Addr
	start           time.Time
	sessionDeadline time.Time
	closeOnce       sync.Once

	mu struct {
		sync.Mutex
		cmdDeadline time.Time // last deadline go-smtp asked for
		data        dataPhase
		cause       string // what the last timeout was
		draining    bool   // Shutdown: end at the next command read
		closing     bool   // no more reads
		expired     bool   // a deadline passed: every later read fails the same way
		silenced    bool   // our own final 421 went out: later replies are dropped
		closeAfter  bool   // close after the next Write
		greetings   int    // 220 replies seen; the second one starts TLS
		encrypted   bool   // STARTTLS done: replies can no longer be parsed here
		badCmds     int
		authFails   int
		stats       connStats
	}
}

// dataPhase is the accounting of one DATA (or BDAT) payload.
type dataPhase struct {
	active     bool
	endPending bool // end at the next command read (payload not fully consumed)
	start      time.Time
	deadline   time.Time
	n          int64
}

// connStats is what the connection's log record reports.
type connStats struct {
	helo, user string
	tls        bool
	accepted   int
	rejected   int
	result     string
}

// timeoutError is returned by Read when one of our own deadlines has passed.
type timeoutError struct{ cause string }

func (e timeoutError) Error() string   { return "receive: " + e.cause }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

func newLimitedConn(raw net.Conn, srv *Server, ip netip.Addr, now time.Time) *limitedConn {
	c := &limitedConn{Conn: raw, srv: srv, ip: ip, start: now,
		sessionDeadline: now.Add(srv.cfg.SessionTimeout)}
	c.mu.stats.result = "closed"
	return c
}

// Read reads from the raw connection under the deadline that applies now.
func (c *limitedConn) Read(b []byte) (int, error) {
	for {
		now := time.Now()
		c.mu.Lock()
		if c.mu.closing || c.mu.closeAfter {
			c.mu.Unlock()
			return 0, io.EOF
		}
		if c.mu.expired {
			cause := c.mu.cause
			c.mu.Unlock()
			return 0, timeoutError{cause}
		}
		if c.mu.draining && !c.mu.data.active {
			return c.timedOutLocked(causeDraining)
		}
		dl, cause := c.deadlineLocked()
		if !now.Before(dl) {
			return c.timedOutLocked(cause)
		}
		// NB: armed under mu so that interrupt cannot be overtaken by it.
		err := c.Conn.SetReadDeadline(dl)
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(b)
		c.mu.Lock()
		if c.mu.data.active {
			c.mu.data.n += int64(n)
		}
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			if time.Now().Before(dl) {
				c.mu.Unlock()
				continue // woken by interrupt: re-evaluate
			}
			return c.timedOutLocked(cause)
		}
		c.mu.Unlock()
		return n, err
	}
}

// endReplies are the 421 replies limitedConn sends itself when a deadline
// ends a connection that is waiting for a command.
var endReplies = map[string]string{
	causeCommand:  "421 4.4.2 Command timeout, closing connection\r\n",
	causeSession:  "421 4.4.2 Session time limit exceeded, closing connection\r\n",
	causeDraining: "421 4.3.2 Service shutting down, try again later\r\n",
}

// timedOutLocked records cause and returns what Read returns for it; it
// unlocks mu. Inside DATA the session turns the timeout error into its
// reply. Waiting for a command, a deadline or Shutdown is answered here with
// a 421 of its own, which is the last reply: go-smtp may still act on the
// partial line it had buffered (bufio returns it without the error), and
// whatever it answers is dropped. After STARTTLS, where no plain-text reply
// can go out, the timeout error is returned and stays: the partial line may
// get a 501, then go-smtp's "421 4.4.2 Idle timeout" ends the session.
//
// NB: before this, a client trickling a command line got a 501 for the
// fragment at each deadline and a fresh deadline for the next one.
func (c *limitedConn) timedOutLocked(cause string) (int, error) {
	c.mu.cause = cause
	reply := endReplies[cause]
	if c.mu.data.active || c.mu.encrypted || reply == "" {
		c.mu.expired = true
		c.mu.Unlock()
		return 0, timeoutError{cause}
	}
	c.mu.closing, c.mu.silenced = true, true
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write([]byte(reply))
	return 0, io.EOF
}

// deadlineLocked returns the earliest deadline that applies now and its cause.
func (c *limitedConn) deadlineLocked() (time.Time, string) {
	dl, cause := c.sessionDeadline, causeSession
	earlier := func(t time.Time, why string) {
		if !t.IsZero() && t.Before(dl) {
			dl, cause = t, why
		}
	}
	if d := &c.mu.data; d.active {
		earlier(d.deadline, causeData)
		cfg := &c.srv.cfg
		secs := min(float64(d.n)/float64(cfg.MinDataRate), 1e9) // capped: no Duration overflow
		need := time.Duration(secs * float64(time.Second))
		earlier(d.start.Add(max(cfg.DataRateGrace, need)), causeRate)
	} else {
		earlier(c.mu.cmdDeadline, causeCommand)
	}
	return dl, cause
}

// SetReadDeadline records the command deadline go-smtp asks for before each
// command line; Read applies it. It also ends a DATA phase left pending.
func (c *limitedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.cmdDeadline = t
	if c.mu.data.endPending {
		c.mu.data = dataPhase{}
	}
	return nil
}

// SetDeadline sets both deadlines (crypto/tls may call it).
func (c *limitedConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

// Write writes a reply. Before STARTTLS it also counts 5xx replies towards
// MaxBadCommands (after STARTTLS the session counts its own rejections).
func (c *limitedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	silenced := c.mu.silenced
	c.mu.Unlock()
	if silenced {
		return len(b), nil
	}
	c.mu.Lock()
	if c.mu.encrypted && len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		// NB: a plain-text reply after the 220 to STARTTLS means the
		// handshake failed. go-smtp answers it and goes on reading the
		// plain-text stream, with whatever was pipelined after STARTTLS
		// still in its buffer; the session ends here instead (RFC 3207 4.1;
		// the CVE-2011-0411 class), and session methods refuse to act.
		c.mu.closeAfter = true
		c.mu.stats.result = "TLS handshake failed"
	}
	c.mu.Unlock()
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	closeNow := c.mu.closeAfter
	if !c.mu.encrypted {
		closeNow = c.scanRepliesLocked(b[:n]) || closeNow
	}
	if closeNow {
		c.mu.closing = true
	}
	c.mu.Unlock()
	if closeNow {
		c.Close()
	}
	return n, err
}

// scanRepliesLocked looks at the final lines of replies in b and reports
// whether the bad-command limit was reached (it then sends 421 itself).
func (c *limitedConn) scanRepliesLocked(b []byte) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if len(line) < 4 || line[3] != ' ' {
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("220 ")):
			c.mu.greetings++
			c.mu.encrypted = c.mu.greetings > 1
		case line[0] == '5':
			if c.badCommandLocked() {
				_, _ = c.Conn.Write([]byte("421 4.7.0 Too many errors, closing connection\r\n"))
				return true
			}
		}
	}
	return false
}

// badCommandLocked counts a 5xx reply and reports whether the limit is reached.
func (c *limitedConn) badCommandLocked() bool {
	c.mu.badCmds++
	if c.mu.badCmds >= c.srv.cfg.MaxBadCommands && c.mu.stats.result == "closed" {
		c.mu.stats.result = causeBadCmds
	}
	return c.mu.badCmds >= c.srv.cfg.MaxBadCommands
}

// countBad is the session's bad-command count after STARTTLS. When the limit
// is reached it arranges for the connection to close after the next reply and
// reports true.
func (c *limitedConn) countBad() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.badCommandLocked() {
		return false
	}
	c.mu.closeAfter = true
	return true
}

// authFailed counts a failed AUTH and returns the connection's count.
func (c *limitedConn) authFailed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.authFails++
	return c.mu.authFails
}

// closeAfterReply makes the connection close once the next reply is written
// and refuse further reads.
func (c *limitedConn) closeAfterReply(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.closeAfter = true
	c.mu.stats.result = result
	c.mu.data = dataPhase{}
}

// beginData starts the DATA phase's deadline and rate accounting.
func (c *limitedConn) beginData() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.data = dataPhase{active: true, start: now, deadline: now.Add(c.srv.cfg.DataTimeout)}
}

// endData ends the DATA phase. When the payload was not consumed to its end
// (go-smtp then discards the rest), the DATA limits keep applying until the
// next command read.
func (c *limitedConn) endData(consumed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if consumed {
		c.mu.data = dataPhase{}
	} else {
		c.mu.data.endPending = true
	}
}

// ending reports whether the connection is closing: a command still parsed
// from go-smtp's buffer must not act any more.
func (c *limitedConn) ending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.closing || c.mu.closeAfter
}

// timeoutCause returns why the last read timed out.
func (c *limitedConn) timeoutCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.cause
}

// interrupt is Shutdown's nudge: a connection waiting for a command ends now
// (421); one inside DATA finishes its message first.
func (c *limitedConn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.draining = true
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
}

// updateStats applies f to the statistics under the lock.
func (c *limitedConn) updateStats(f func(*connStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.mu.stats)
}

// Close closes the raw connection once, releases its connection slots and
// logs the session (one line per connection, at debug).
func (c *limitedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.srv.release(c)
		c.mu.Lock()
		st, cause := c.mu.stats, c.mu.cause
		c.mu.Unlock()
		if st.result == "closed" && cause != "" {
			st.result = cause
		}
		if !c.srv.log.Enabled(context.Background(), slog.LevelDebug) {
			return
		}
		c.srv.log.LogAttrs(context.Background(), slog.LevelDebug, "smtp session",
			slog.String("client_ip", c.ip.String()),
			slog.String("helo", st.helo),
			slog.Bool("tls", st.tls),
			slog.String("auth_user", st.user),
			slog.Int("accepted", st.accepted),
			slog.Int("rejected", st.rejected),
			slog.Duration("duration", time.Since(c.start)),
			slog.String("result", st.result))
	})
	return err
}

// limitedConnOf returns the limitedConn under c (under crypto/tls after STARTTLS).
func limitedConnOf(c net.Conn) *limitedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitedConn)
	return lc
}
