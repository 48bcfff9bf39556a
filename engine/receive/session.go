package receive

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// backend creates a session for each EHLO/HELO (again after STARTTLS).
type backend struct{ s *Server }

// NewSession implements smtp.Backend.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	lc := limitedConnOf(c.Conn())
	if lc == nil {
		return nil, errors.New("receive: connection not accepted by this server")
	}
	if b.s.draining.Load() {
		return nil, errShuttingDown
	}
	_, isTLS := c.TLSConnectionState()
	sess := &session{srv: b.s, c: c, conn: lc, tls: isTLS, relay: b.s.isRelay(lc.ip)}
	lc.updateStats(func(st *connStats) { st.helo, st.tls = c.Hostname(), isTLS })
	return sess, nil
}

// local reports whether addr is one of Config.LocalRecipient's.
func (s *Server) local(addr string) bool {
	return s.cfg.LocalRecipient != nil && s.cfg.LocalRecipient(addr)
}

// isRelay reports whether ip is in Config.RelayNetworks.
func (s *Server) isRelay(ip netip.Addr) bool {
	for _, p := range s.cfg.RelayNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// session is one go-smtp session: from EHLO to QUIT, or to STARTTLS (which
// starts a new one). go-smtp calls it from the connection goroutine, except
// Data under BDAT, which runs on a goroutine of its own; mu guards what both
// touch.
type session struct {
	srv   *Server
	c     *smtp.Conn
	conn  *limitedConn
	tls   bool
	relay bool // client is in RelayNetworks

	mu struct {
		sync.Mutex
		user *User
		txn  *transaction // nil outside MAIL..DATA
	}
}

// transaction is the envelope collected between MAIL and DATA.
type transaction struct {
	from, helo string
	rcpts      []string
	utf8       bool
	body8      bool
	ret, envID string
	notify     []string // per recipient, "" when not given
	orcpt      []string // per recipient, "" when not given
	dsn        bool     // some recipient carried NOTIFY or ORCPT
}

// reject returns e, after counting it towards MaxBadCommands when the
// connection is encrypted (before STARTTLS limitedConn counts replies
// itself). Reaching the limit turns the reply into 421 and closes.
func (s *session) reject(e *smtp.SMTPError) error {
	s.conn.updateStats(func(st *connStats) { st.rejected++ })
	if s.tls && e.Code >= 500 && s.conn.countBad() {
		return errTooManyErrors
	}
	return e
}

// Mail implements smtp.Session: it asks the Submitter whether mail is
// accepted and checks the authenticated user's sender domains.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.srv.draining.Load() {
		return errShuttingDown
	}
	if s.conn.ending() {
		return errClosing
	}
	if err := s.srv.sub.Accepting(); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return s.reject(se)
		}
		s.srv.log.Warn("not accepting mail", slog.String("client_ip", s.conn.ip.String()), slog.Any("error", err))
		return s.reject(errNotAccepting)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.mu.user; u != nil && !senderAllowed(u, from) {
		return s.reject(&smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: fmt.Sprintf("Sender address <%s> is not allowed for user %s", from, u.Name)})
	}
	t := &transaction{from: from, helo: s.c.Hostname()}
	if opts != nil {
		t.utf8, t.body8 = opts.UTF8, opts.Body == smtp.Body8BitMIME
		t.ret, t.envID = strings.ToUpper(string(opts.Return)), opts.EnvelopeID
	}
	s.mu.txn = t
	return nil
}

// Rcpt implements smtp.Session. Without AUTH only relay networks may inject.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.srv.draining.Load() {
		return errShuttingDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.txn == nil {
		return s.reject(errNoTransaction)
	}
	if s.mu.user == nil && !s.relay && !s.srv.local(to) {
		return s.reject(errRelayDenied)
	}
	t := s.mu.txn
	t.rcpts = append(t.rcpts, to)
	notify, orcpt := "", ""
	if opts != nil {
		for i, n := range opts.Notify {
			if i > 0 {
				notify += ","
			}
			notify += string(n)
		}
		if opts.OriginalRecipient != "" {
			orcpt = opts.OriginalRecipient
		}
	}
	t.notify = append(t.notify, notify)
	t.orcpt = append(t.orcpt, orcpt)
	t.dsn = t.dsn || notify != "" || orcpt != ""
	return nil
}

// Reset implements smtp.Session.
func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.txn = nil
}

// Logout implements smtp.Session.
func (s *session) Logout() error { return nil }

// AuthMechanisms implements smtp.AuthSession: PLAIN and LOGIN, advertised only
// when users exist and the connection is encrypted (or AllowInsecureAuth).
func (s *session) AuthMechanisms() []string {
	if len(s.srv.users) == 0 || !(s.tls || s.srv.cfg.AllowInsecureAuth) {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.tls && !s.srv.cfg.AllowInsecureAuth {
		return nil, s.reject(errEncryptionRequired)
	}
	if len(s.srv.users) == 0 {
		return nil, s.reject(smtp.ErrAuthUnsupported)
	}
	if s.srv.auth.blocked(s.conn.ip, time.Now()) {
		s.conn.closeAfterReply("too many auth failures")
		return nil, errTooManyAuthFailures
	}
	s.mu.Lock()
	inTxn := s.mu.txn != nil
	s.mu.Unlock()
	if inTxn {
		// NB: without this, MAIL before AUTH would skip the sender check.
		return nil, s.reject(errAuthInTransaction)
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return s.reject(smtp.ErrAuthFailed)
			}
			return s.login(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{authenticate: s.login}, nil
	}
	return nil, s.reject(smtp.ErrAuthUnknownMechanism)
}

// login checks a password and, on success, makes name the session's user.
func (s *session) login(name, pass string) error {
	u, ok := s.srv.checkPassword(name, pass)
	if !ok {
		s.srv.log.Info("smtp auth failed", slog.String("client_ip", s.conn.ip.String()), slog.String("user", name))
		perConn := s.conn.authFailed() >= s.srv.cfg.MaxAuthFailures
		perIP := s.conn.ip.IsValid() && s.srv.auth.fail(s.conn.ip, time.Now())
		if perConn || perIP {
			// NB: 421 and close, as Postfix does after smtpd_hard_error_limit:
			// a guesser must reconnect, and then meets the per-address count.
			s.conn.closeAfterReply("too many auth failures")
			return errTooManyAuthFailures
		}
		return s.reject(smtp.ErrAuthFailed)
	}
	s.mu.Lock()
	s.mu.user = u
	s.mu.Unlock()
	s.conn.updateStats(func(st *connStats) { st.user = name })
	return nil
}

// Data implements smtp.Session: read the payload under the DATA limits,
// normalise line endings, rewrite the headers, Submit, and answer 250 with
// the queue ID only once Submit has returned (the message is durable).
func (s *session) Data(r io.Reader) error {
	env, err := s.envelope()
	if err != nil {
		return err
	}
	s.conn.beginData()
	buf := dataBufs.Get().(*bytes.Buffer)
	defer putDataBuf(buf)
	_, err = io.Copy(buf, r)
	s.conn.endData(err == nil)
	if err != nil {
		return s.dataReadError(err)
	}

	msg := normalizeCRLF(buf.Bytes())
	if lines, hops := headerCounts(msg, s.srv.cfg.MaxHeaderLines); lines > s.srv.cfg.MaxHeaderLines {
		return s.reject(errTooManyHeaderLines)
	} else if hops > s.srv.cfg.MaxHops {
		s.srv.log.Warn("message refused: too many hops", slog.String("client_ip", env.ClientIP.String()),
			slog.String("from", env.From), slog.Int("received_fields", hops))
		return s.reject(errTooManyHops)
	}
	now := time.Now()
	env.ReceivedID = newID()
	body, d := rewriteHeaders(msg, stamp{
		Received:  s.srv.receivedField(env, now),
		MessageID: "<" + rand.Text() + "@" + s.srv.cfg.Hostname + ">",
		Date:      now,
	})
	env.VMTA, env.Pool, env.Campaign = d.VMTA, d.Pool, d.Campaign

	id, err := s.srv.sub.Submit(s.srv.baseCtx, env, body)
	if err != nil {
		log := s.srv.log.With(slog.String("client_ip", env.ClientIP.String()), slog.String("received_id", env.ReceivedID))
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			log.Info("message refused by submitter", slog.Int("code", se.Code), slog.String("reply", se.Message))
			return s.reject(se)
		}
		log.Warn("submit failed", slog.Any("error", err))
		return s.reject(errLocal)
	}
	s.conn.updateStats(func(st *connStats) { st.accepted++ })
	if ctx := s.srv.baseCtx; s.srv.log.Enabled(ctx, slog.LevelDebug) { // one line per transaction, at debug
		s.srv.log.LogAttrs(ctx, slog.LevelDebug, "message accepted", slog.String("client_ip", env.ClientIP.String()),
			slog.String("received_id", env.ReceivedID), slog.String("queue_id", id), slog.String("from", env.From),
			slog.Int("rcpts", len(env.To)), slog.Int("bytes", len(body)), slog.String("auth_user", env.AuthUser),
			slog.String("vmta", env.VMTA), slog.String("pool", env.Pool), slog.String("campaign", env.Campaign))
	}
	// NB: go-smtp writes an *SMTPError returned by Data as the reply, whatever
	// its code; this is how the 250 carries the queue ID.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id}
}

// dataBufs holds message read buffers between messages: a body is read
// into one, rewriteHeaders copies it out, and the buffer goes back. Buffers
// that grew past maxPooledBuf are left to the GC.
var dataBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuf = 1 << 20

func putDataBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		b.Reset()
		dataBufs.Put(b)
	}
}

// envelope snapshots the transaction for Data and re-checks that it may be
// submitted (defence in depth: Rcpt and Mail already did).
func (s *session) envelope() (*Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u := s.mu.txn, s.mu.user
	switch {
	case s.conn.ending():
		return nil, errClosing
	case t == nil || len(t.rcpts) == 0:
		return nil, s.reject(errNoTransaction)
	case u == nil && !s.relay && slices.ContainsFunc(t.rcpts, func(r string) bool { return !s.srv.local(r) }):
		return nil, s.reject(errRelayDenied) // only local recipients come from anyone
	case u != nil && !senderAllowed(u, t.from):
		return nil, s.reject(&smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address not allowed"})
	}
	env := &Envelope{From: t.from, To: slices.Clone(t.rcpts), ClientIP: s.conn.ip, HELO: t.helo,
		TLS: s.tls, UTF8: t.utf8, Body8Bit: t.body8, DSNRet: t.ret, EnvID: t.envID}
	if t.dsn {
		env.Notify, env.ORcpt = slices.Clone(t.notify), slices.Clone(t.orcpt)
	}
	if u != nil {
		env.AuthUser = u.Name
	}
	return env, nil
}

// dataReadError maps an error reading the payload to the reply. Errors that
// leave the stream out of step (overlong line, timeouts, lost connection)
// close the connection after the reply.
func (s *session) dataReadError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		return s.reject(smtp.ErrDataTooLarge)
	case errors.Is(err, smtp.ErrDataReset):
		return err
	case errors.Is(err, smtp.ErrTooLongLine):
		s.conn.closeAfterReply("line too long")
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: fmt.Sprintf("Message line longer than %d bytes including CRLF, closing connection", s.srv.cfg.MaxLineLength)}
	case errors.As(err, &ne) && ne.Timeout():
		cause := s.conn.timeoutCause()
		s.conn.closeAfterReply(cause)
		msg := map[string]string{
			causeRate:    "Minimum data rate not met, closing connection",
			causeData:    "DATA time limit exceeded, closing connection",
			causeSession: "Session time limit exceeded, closing connection",
		}[cause]
		if msg == "" {
			msg = "Timeout, closing connection"
		}
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: msg}
	default:
		s.conn.closeAfterReply("connection lost in DATA")
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 0}, Message: "Connection error, closing connection"}
	}
}

// receivedField returns the Received: field (RFC 5321 4.4) for env.
func (s *Server) receivedField(env *Envelope, now time.Time) string {
	proto := "ESMTP"
	if env.TLS {
		proto += "S"
	}
	if env.AuthUser != "" {
		proto += "A"
	}
	client := "unknown"
	if ip := env.ClientIP; ip.Is4() {
		client = "[" + ip.String() + "]"
	} else if ip.IsValid() {
		client = "[IPv6:" + ip.String() + "]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (Sluice) with %s id %s", headerSafe(env.HELO), client,
		s.cfg.Hostname, proto, env.ReceivedID)
	if len(env.To) == 1 && headerSafe(env.To[0]) == env.To[0] {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", env.To[0])
	}
	fmt.Fprintf(&b, ";\r\n\t%s", now.Format(time.RFC1123Z))
	return b.String()
}

// headerSafe returns s with every byte that could break a header's
// structure (controls, white space, parentheses, angle brackets, ";" and
// "\") replaced by "_". Non-ASCII bytes are kept (SMTPUTF8).
func headerSafe(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("()<>;\\", r) {
			return '_'
		}
		return r
	}, s)
}

// newID returns a random 16-character id for the Received: header and logs.
func newID() string { return rand.Text()[:16] }

var _ smtp.AuthSession = (*session)(nil)
