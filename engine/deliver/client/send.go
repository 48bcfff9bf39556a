package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Transaction is one message to one or more recipients at one server.
type Transaction struct {
	// From is the reverse-path without angle brackets; "" is the null
	// sender (<>), as for bounces.
	From string
	// To are the forward-paths without angle brackets, in the order of
	// Result.Rcpt.
	To []string
	// Body is the message, header and body, with CRLF (or LF) line endings,
	// not dot-stuffed: Send normalises line endings and dot-stuffs it. Nil is
	// an empty message. If reading it fails, Send returns an error and the
	// message is not completed on the wire (no final ".").
	Body io.Reader
	// Size is the message size in bytes, sent as SIZE= and checked against
	// the server's SIZE limit; 0 means unknown (neither is done).
	Size int64
	// Body8Bit asks for BODY=8BITMIME. When the server does not offer
	// 8BITMIME the message is sent anyway, unchanged: converting it to 7 bit
	// would break its DKIM signature, and receivers take 8-bit data in
	// practice (Exim and sendmail behave the same).
	Body8Bit bool
	// SMTPUTF8 says the message needs SMTPUTF8 (UTF-8 in its header). Send
	// also needs it, without being told, for a non-ASCII address. When the
	// server does not offer it, the transaction (SMTPUTF8 set or a non-ASCII
	// From) or the non-ASCII recipient fails locally with 553 5.6.7.
	SMTPUTF8 bool
	// DSN asks for delivery status notification parameters (RFC 3461) when
	// the server offers DSN; nil sends none.
	DSN *DSN
}

// DSN holds the RFC 3461 parameters of a transaction.
type DSN struct {
	// Ret is "FULL" or "HDRS"; "" sends no RET=.
	Ret string
	// EnvID is the envelope identifier, xtext-encoded by Send; "" sends none.
	EnvID string
	// Notify is sent on every RCPT, e.g. "FAILURE,DELAY" or "NEVER"; ""
	// sends none.
	Notify string
}

// Result holds the replies of one transaction. Use Outcome or Delivered for
// a recipient's fate rather than reading the fields one by one.
type Result struct {
	// Mail is the reply to MAIL FROM (or a Local reply when the client
	// refused the whole transaction).
	Mail Reply
	// Rcpt holds one reply per Transaction.To, in order. A zero Reply means
	// the RCPT was not sent (MAIL failed first).
	Rcpt []Reply
	// DataInit is the reply to the DATA command (354 when accepted); zero
	// when DATA was not sent.
	DataInit Reply
	// Data is the reply after the end of message data; zero when no message
	// data was sent (no recipient accepted, DATA refused). For a chunked
	// transaction it is the reply to "BDAT n LAST".
	Data Reply
	// Chunked says the message went as one BDAT chunk (RFC 3030) pipelined
	// with MAIL and RCPT: DataInit is then zero and Data decides.
	Chunked bool
}

// Outcome returns the reply that decides recipient i's fate: its own local
// refusal, else the MAIL refusal, else its RCPT refusal, else the DATA
// refusal, else the reply after data.
func (r *Result) Outcome(i int) Reply {
	switch rc := r.Rcpt[i]; {
	case rc.Local:
		return rc
	case !r.Mail.Positive():
		return r.Mail
	case !rc.Positive():
		return rc
	case !r.Chunked && r.DataInit.Code != 354:
		return r.DataInit
	}
	return r.Data
}

// Delivered reports whether recipient i was accepted: a 2xx to its RCPT and
// a 2xx after the data. Nothing else counts.
func (r *Result) Delivered(i int) bool {
	return r.Mail.Positive() && r.Rcpt[i].Positive() && (r.Chunked || r.DataInit.Code == 354) && r.Data.Positive()
}

// Send runs one transaction and returns the server's replies.
//
// With PIPELINING it writes [RSET,] MAIL, every RCPT and DATA in one write
// and then reads the replies in order (RFC 2920). After a 354 it sends the
// message only if MAIL and at least one RCPT were accepted; otherwise it
// sends "." alone, as RFC 2920 3.1 asks. Without PIPELINING it runs the same
// steps in lockstep and does not send DATA when no RCPT was accepted.
//
// Refusals, temporary or permanent, are replies in the Result, not errors. A
// 421 also ends the Conn (Err is then non-nil): the Result carries the 421
// for every recipient it touched. An error (network, timeout, context, a
// reply that is not SMTP: ErrProtocol, a body that cannot be read) means no
// recipient may be counted delivered, and the Conn is dead.
//
// Before writing anything Send checks the transaction against what the server
// offered: Size over its SIZE limit gives a Local 552 5.3.4 for MAIL, a need
// for SMTPUTF8 it lacks gives a Local 553 5.6.7, an address that cannot be
// written in a command (control characters, spaces, angle brackets, invalid
// UTF-8) a Local 501. A transaction refused locally does not touch the Conn.
func (c *Conn) Send(ctx context.Context, tx *Transaction) (*Result, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	res := &Result{Rcpt: make([]Reply, len(tx.To))}
	utf8Param, ok := c.precheck(tx, res)
	if !ok {
		return res, nil
	}
	stop := c.begin(ctx)
	var err error
	switch {
	case c.canChunk(tx):
		err = c.sendChunked(tx, res, utf8Param)
	case c.pipe:
		err = c.sendPipelined(tx, res, utf8Param)
	default:
		err = c.sendLockstep(tx, res, utf8Param)
	}
	c.end(stop)
	if err != nil {
		c.fail(err)
		return nil, fmt.Errorf("client: send: %w", err)
	}
	return res, nil
}

func local(code int, enh, text string) Reply {
	return Reply{Code: code, Enhanced: enh, Text: text, Local: true}
}

// precheck fills local refusals into res. ok is false when nothing is to be
// sent; utf8Param says whether MAIL needs SMTPUTF8.
func (c *Conn) precheck(tx *Transaction, res *Result) (utf8Param, ok bool) {
	switch {
	case tx.From != "" && !validAddr(tx.From):
		res.Mail = local(501, "5.1.7", "sender address cannot be sent in an SMTP command")
		return false, false
	case tx.Size > 0 && c.maxSize > 0 && tx.Size > c.maxSize:
		res.Mail = local(552, "5.3.4", "message size "+strconv.FormatInt(tx.Size, 10)+
			" exceeds the server's limit of "+strconv.FormatInt(c.maxSize, 10))
		return false, false
	case (tx.SMTPUTF8 || !isASCII(tx.From)) && !c.utf8:
		res.Mail = local(553, "5.6.7", "message needs SMTPUTF8 but the server does not offer it")
		return false, false
	}
	utf8Param = tx.SMTPUTF8 || !isASCII(tx.From)
	n := 0
	for i, to := range tx.To {
		switch {
		case !validAddr(to):
			res.Rcpt[i] = local(501, "5.1.3", "recipient address cannot be sent in an SMTP command")
		case !isASCII(to) && !c.utf8:
			res.Rcpt[i] = local(553, "5.6.7", "non-ASCII recipient needs SMTPUTF8 but the server does not offer it")
		default:
			utf8Param = utf8Param || !isASCII(to)
			n++
		}
	}
	return utf8Param, n > 0
}

// validAddr reports whether a can go between angle brackets in a command.
func validAddr(a string) bool {
	if a == "" || len(a) > 998 || !utf8.ValidString(a) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if b := a[i]; b <= ' ' || b == 0x7f || b == '<' || b == '>' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// sendPipelined: one write of [RSET] MAIL RCPT... DATA, then the replies.
func (c *Conn) sendPipelined(tx *Transaction, res *Result, utf8Param bool) error {
	reset := c.writeEnvelope(tx, res, utf8Param)
	c.w.WriteString("DATA\r\n")
	if err := c.flush(); err != nil {
		return fmt.Errorf("write commands: %w", err)
	}
	if stop, err := c.readEnvelope(tx, res, reset); stop || err != nil {
		return err
	}
	return c.readDataInit(tx, res)
}

// writeEnvelope buffers [RSET,] MAIL and the RCPT of every recipient not
// refused locally, and reports whether RSET went first.
func (c *Conn) writeEnvelope(tx *Transaction, res *Result, utf8Param bool) (reset bool) {
	reset = c.dirty
	if reset {
		c.w.WriteString("RSET\r\n")
	}
	c.writeMail(tx, utf8Param)
	for i, to := range tx.To {
		if !res.Rcpt[i].Local {
			c.writeRcpt(tx, to)
		}
	}
	return reset
}

// readEnvelope reads the replies to what writeEnvelope wrote. stop is true
// when the server sent 421 (see the read* helpers).
func (c *Conn) readEnvelope(tx *Transaction, res *Result, reset bool) (stop bool, err error) {
	if reset {
		if stop, err := c.readReset(res); stop || err != nil {
			return stop, err
		}
	}
	if stop, err := c.readMail(res); stop || err != nil {
		return stop, err
	}
	return c.readRcpts(tx, res, -1)
}

// canChunk reports whether tx goes as one pipelined BDAT chunk.
func (c *Conn) canChunk(tx *Transaction) bool {
	return c.chunking && c.pipe && !c.opts.NoChunking && tx.Size > 0 && tx.Size <= MaxChunk
}

// sendChunked: one write of [RSET] MAIL RCPT... "BDAT n LAST" and the
// message, then the replies. The body is read and its line endings made
// CRLF first (the chunk size must be known before it is sent); a body that
// cannot be read fails the Send before anything is written. The server
// reads and discards the chunk when it refused every recipient (RFC 3030
// 4.2), and its reply to BDAT then is not a success: nothing is delivered.
func (c *Conn) sendChunked(tx *Transaction, res *Result, utf8Param bool) error {
	chunk, err := c.readChunk(tx)
	if err != nil {
		return err
	}
	res.Chunked = true
	reset := c.writeEnvelope(tx, res, utf8Param)
	c.w.WriteString("BDAT ")
	c.w.Write(strconv.AppendInt(c.w.AvailableBuffer(), int64(len(chunk)), 10))
	c.w.WriteString(" LAST\r\n")
	c.w.Write(chunk)
	if err := c.flush(); err != nil {
		return fmt.Errorf("write commands and chunk: %w", err)
	}
	if stop, err := c.readEnvelope(tx, res, reset); stop || err != nil {
		return err
	}
	// NB: the server holds transaction state until it answers BDAT,
	// whatever it said to MAIL and RCPT (RSET's reply cleared dirty).
	c.dirty = true
	r, err := c.readReply(c.opts.DataTermTimeout, "BDAT")
	if err != nil {
		return err
	}
	res.Data = r
	// A refused last chunk leaves the transaction in a state RFC 3030 does
	// not pin down: RSET before the next one.
	c.dirty = !r.Positive()
	if r.Code == 421 {
		c.serverClosing("BDAT", r)
	}
	return nil
}

// readChunk reads tx.Body into the Conn's chunk buffer with CRLF line
// endings (and a final CRLF), as the DATA path would send it minus the
// dot-stuffing.
func (c *Conn) readChunk(tx *Transaction) ([]byte, error) {
	b := bytes.NewBuffer(c.chunk[:0])
	b.Grow(int(tx.Size) + int(tx.Size)/64 + 2)
	dw := dotWriter{w: b, bol: true, plain: true}
	if tx.Body != nil {
		if err := dw.readFrom(tx.Body, c.bodyBuf()); err != nil {
			return nil, err
		}
	}
	dw.endLine()
	if b.Cap() <= 1<<20 {
		c.chunk = b.Bytes() // kept for the next message; big ones are not
	}
	return b.Bytes(), nil
}

// sendLockstep: one command, one reply.
func (c *Conn) sendLockstep(tx *Transaction, res *Result, utf8Param bool) error {
	if c.dirty {
		c.w.WriteString("RSET\r\n")
		if err := c.flush(); err != nil {
			return fmt.Errorf("write RSET: %w", err)
		}
		if stop, err := c.readReset(res); stop || err != nil {
			return err
		}
	}
	c.writeMail(tx, utf8Param)
	if err := c.flush(); err != nil {
		return fmt.Errorf("write MAIL: %w", err)
	}
	if stop, err := c.readMail(res); stop || err != nil || !res.Mail.Positive() {
		return err
	}
	accepted := false
	for i, to := range tx.To {
		if res.Rcpt[i].Local {
			continue
		}
		c.writeRcpt(tx, to)
		if err := c.flush(); err != nil {
			return fmt.Errorf("write RCPT: %w", err)
		}
		if stop, err := c.readRcpts(tx, res, i); stop || err != nil {
			return err
		}
		accepted = accepted || res.Rcpt[i].Positive()
	}
	if !accepted {
		return nil // dirty: the next Send resets
	}
	c.w.WriteString("DATA\r\n")
	if err := c.flush(); err != nil {
		return fmt.Errorf("write DATA: %w", err)
	}
	return c.readDataInit(tx, res)
}

func (c *Conn) writeMail(tx *Transaction, utf8Param bool) {
	w := c.w
	w.WriteString("MAIL FROM:<")
	w.WriteString(tx.From)
	w.WriteByte('>')
	if _, ok := c.ext["SIZE"]; ok && tx.Size > 0 {
		w.WriteString(" SIZE=")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), tx.Size, 10))
	}
	if tx.Body8Bit && c.bit8 {
		w.WriteString(" BODY=8BITMIME")
	}
	if utf8Param {
		w.WriteString(" SMTPUTF8")
	}
	if tx.DSN != nil && c.dsn {
		if ret := strings.ToUpper(tx.DSN.Ret); ret == "FULL" || ret == "HDRS" {
			w.WriteString(" RET=")
			w.WriteString(ret)
		}
		if validEnvID(tx.DSN.EnvID) {
			w.WriteString(" ENVID=")
			writeXtext(c, tx.DSN.EnvID)
		}
	}
	w.WriteString("\r\n")
}

func (c *Conn) writeRcpt(tx *Transaction, to string) {
	c.w.WriteString("RCPT TO:<")
	c.w.WriteString(to)
	c.w.WriteByte('>')
	if tx.DSN != nil && c.dsn && validNotify(tx.DSN.Notify) {
		c.w.WriteString(" NOTIFY=")
		c.w.WriteString(strings.ToUpper(tx.DSN.Notify))
	}
	c.w.WriteString("\r\n")
}

// DSN parameters are optional: one a receiver would refuse (and with it the
// whole MAIL or RCPT, bouncing the message) is left out instead.

// validEnvID reports whether s may be sent as ENVID: 1 to 100 printable
// US-ASCII characters (RFC 3461 4.4).
func validEnvID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validNotify reports whether s is an RFC 3461 NOTIFY value: NEVER alone, or
// SUCCESS, FAILURE and DELAY each at most once (case-insensitive).
func validNotify(s string) bool {
	if s == "" {
		return false
	}
	if strings.EqualFold(s, "NEVER") {
		return true
	}
	var seen [3]bool
	for kw := range strings.SplitSeq(s, ",") {
		i := slices.IndexFunc([]string{"SUCCESS", "FAILURE", "DELAY"}, func(k string) bool { return strings.EqualFold(k, kw) })
		if i < 0 || seen[i] {
			return false
		}
		seen[i] = true
	}
	return true
}

// writeXtext writes s as RFC 3461 xtext: "+", "=" and bytes outside
// "!".."~" become "+XX".
func writeXtext(c *Conn, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < '!' || b > '~' || b == '+' || b == '=' {
			c.w.WriteByte('+')
			c.w.WriteByte(hex[b>>4])
			c.w.WriteByte(hex[b&15])
			continue
		}
		c.w.WriteByte(b)
	}
}

// The read* helpers read one step's replies into res. stop is true when the
// server sent 421: the Conn is then retired and the Result is final.

func (c *Conn) readReset(res *Result) (stop bool, err error) {
	r, err := c.readReply(c.opts.ResetTimeout, "RSET")
	if err != nil {
		return false, err
	}
	if r.Code == 421 {
		res.Mail = r
		c.serverClosing("RSET", r)
		return true, nil
	}
	if !r.Positive() {
		return false, &ReplyError{Command: "RSET", Reply: r}
	}
	c.dirty = false
	return false, nil
}

func (c *Conn) readMail(res *Result) (stop bool, err error) {
	r, err := c.readReply(c.opts.MailTimeout, "MAIL")
	if err != nil {
		return false, err
	}
	res.Mail = r
	if r.Code == 421 {
		c.serverClosing("MAIL", r)
		return true, nil
	}
	if r.Positive() {
		c.dirty = true
	}
	return false, nil
}

// readRcpts reads the RCPT reply of recipient only, or of every sent
// recipient when only is -1.
func (c *Conn) readRcpts(tx *Transaction, res *Result, only int) (stop bool, err error) {
	for i := range tx.To {
		if res.Rcpt[i].Local || (only >= 0 && i != only) {
			continue
		}
		r, err := c.readReply(c.opts.RcptTimeout, "RCPT")
		if err != nil {
			return false, err
		}
		res.Rcpt[i] = r
		if r.Code == 421 {
			for j := i + 1; j < len(tx.To); j++ {
				if !res.Rcpt[j].Local {
					res.Rcpt[j] = r
				}
			}
			c.serverClosing("RCPT", r)
			return true, nil
		}
	}
	return false, nil
}

// readDataInit reads the reply to DATA and, after a 354, sends the message
// (or the lone "." when nobody was accepted).
func (c *Conn) readDataInit(tx *Transaction, res *Result) error {
	r, err := c.readReply(c.opts.DataInitTimeout, "DATA")
	if err != nil {
		return err
	}
	res.DataInit = r
	switch {
	case r.Code == 421:
		c.serverClosing("DATA", r)
		return nil
	case r.Code == 354 && res.accepted():
		return c.sendData(tx, res)
	case r.Code == 354:
		// RFC 2920 3.1: DATA accepted although no RCPT was: send a single
		// dot. The reply is not kept; the next Send resets.
		c.dirty = true
		c.w.Write(dotCRLF)
		if err := c.flush(); err != nil {
			return fmt.Errorf("write lone dot: %w", err)
		}
		if r, err = c.readReply(c.opts.DataTermTimeout, "end of data"); err == nil && r.Code == 421 {
			c.serverClosing("end of data", r)
		}
		return err
	case r.Temporary() || r.Permanent():
		return nil
	}
	return fmt.Errorf("%w: DATA answered with %d", ErrProtocol, r.Code)
}

func (r *Result) accepted() bool {
	if !r.Mail.Positive() {
		return false
	}
	for _, rc := range r.Rcpt {
		if rc.Positive() {
			return true
		}
	}
	return false
}

// sendData streams the dot-stuffed body and reads the final reply.
func (c *Conn) sendData(tx *Transaction, res *Result) error {
	dw := newDotWriter(c.w)
	if tx.Body != nil {
		if err := dw.readFrom(tx.Body, c.bodyBuf()); err != nil {
			return err // NB: no final "." for a body that failed midway
		}
	}
	if err := dw.Close(); err != nil {
		return fmt.Errorf("write data: %w", err)
	}
	if err := c.flush(); err != nil {
		return fmt.Errorf("write data: %w", err)
	}
	r, err := c.readReply(c.opts.DataTermTimeout, "end of data")
	if err != nil {
		return err
	}
	res.Data = r
	c.dirty = false // the reply after data ends the transaction, whatever it says
	if r.Code == 421 {
		c.serverClosing("end of data", r)
	}
	return nil
}

func (c *Conn) bodyBuf() []byte {
	if c.buf == nil {
		c.buf = make([]byte, 32<<10)
	}
	return c.buf
}

// serverClosing retires the Conn after a 421 (RFC 5321 3.8: the server is
// closing the channel).
func (c *Conn) serverClosing(cmd string, r Reply) {
	c.fail(&ReplyError{Command: cmd, Reply: r})
}
