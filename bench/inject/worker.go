package inject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// claims hands out message numbers to workers and counts outcomes for the
// progress callback.
type claims struct {
	next         atomic.Int64
	sent, failed atomic.Int64
}

// worker runs one SMTP session at a time and sends the messages it claims.
// Its result fields are its own until Run merges them after it ends.
type worker struct {
	id     int
	cfg    *Config
	claims *claims
	msg    *message
	dialer net.Dialer

	c      *smtp.Client // nil when not connected
	nc     net.Conn
	stop   func() bool // stops closing nc when the context ends
	onConn int         // messages tried on this connection

	tally
}

// stepError is a failed step of sending a message.
type stepError struct {
	step string // "connect", "MAIL", "RCPT", "DATA", "data", "end of data"
	err  error
}

func (e *stepError) Error() string { return "inject: " + e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func (w *worker) loop(ctx context.Context) {
	defer w.hangUp()
	for ctx.Err() == nil {
		seq := int(w.claims.next.Add(1) - 1)
		if seq >= w.cfg.Count {
			return
		}
		size, lat, err := w.send(ctx, seq)
		if w.c != nil && w.onConn >= w.cfg.MessagesPerConnection {
			w.hangUp() // failed messages count towards the limit too
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return // cancelled: the message is neither sent nor failed
		case err != nil:
			w.failed++
			w.claims.failed.Add(1)
			w.errs[errorKey(err)]++
		default:
			w.sent++
			w.rcpts += w.cfg.Recipients
			w.claims.sent.Add(1)
			w.bytes += size
			w.lat = append(w.lat, lat)
			if w.cfg.Acked != nil {
				w.cfg.Acked(int64(seq)*int64(w.cfg.Recipients), w.cfg.Recipients)
			}
		}
	}
}

// send sends message seq, connecting first if needed. It returns the bytes
// of message text sent and the latency of the reply to its end of data.
func (w *worker) send(ctx context.Context, seq int) (int64, time.Duration, error) {
	if w.c == nil {
		if err := w.connect(ctx); err != nil {
			return 0, 0, &stepError{"connect", err}
		}
	}
	w.onConn++
	if err := w.c.Mail(w.cfg.From, nil); err != nil {
		return 0, 0, w.abort("MAIL", err)
	}
	var first string
	for j := range w.cfg.Recipients {
		to := w.msg.address(w.cfg, seq, j)
		if j == 0 {
			first = to
		}
		if err := w.c.Rcpt(to, nil); err != nil {
			return 0, 0, w.abort("RCPT", err)
		}
	}
	d, err := w.c.Data()
	if err != nil {
		return 0, 0, w.abort("DATA", err)
	}

	// NB: go-smtp sets no deadline while the message is written; this one
	// covers the writes and the end of data, after which CloseWithResponse
	// sets its own for the reply.
	_ = w.nc.SetDeadline(time.Now().Add(w.cfg.Timeout))
	head := w.msg.header(w.id, seq, first, stampFor(w.cfg, time.Now()))
	if _, err := d.Write(head); err != nil {
		w.drop()
		return 0, 0, &stepError{"data", err}
	}
	if _, err := d.Write(w.msg.fixed); err != nil {
		w.drop()
		return 0, 0, &stepError{"data", err}
	}
	start := time.Now()
	_, err = d.CloseWithResponse()
	lat := time.Since(start)
	if err != nil {
		if !reusable(err) {
			w.drop()
		}
		return 0, 0, &stepError{"end of data", err}
	}
	return int64(len(head) + len(w.msg.fixed)), lat, nil
}

func (w *worker) connect(ctx context.Context) error {
	nc, err := w.dialer.DialContext(ctx, "tcp", w.cfg.Target)
	if err != nil {
		return err
	}
	c := smtp.NewClient(nc)
	c.CommandTimeout = w.cfg.Timeout
	c.SubmissionTimeout = w.cfg.Timeout
	w.c, w.nc, w.onConn = c, nc, 0
	w.stop = context.AfterFunc(ctx, func() { nc.Close() })
	if err := c.Hello(w.cfg.HELO); err != nil {
		w.drop()
		return err
	}
	return nil
}

// abort ends a transaction whose command was rejected: RSET keeps the
// connection when the reply allows it, otherwise it is dropped.
func (w *worker) abort(step string, err error) error {
	if !reusable(err) || w.c.Reset() != nil {
		w.drop()
	}
	return &stepError{step, err}
}

// reusable reports whether the connection may carry on after err: an SMTP
// reply other than 421 leaves it in a known state; anything else does not.
func reusable(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code != 421
}

// hangUp says QUIT and closes the connection, if any.
func (w *worker) hangUp() {
	if w.c != nil {
		_ = w.c.Quit()
	}
	w.drop()
}

// drop closes the connection without a word.
func (w *worker) drop() {
	if w.stop != nil {
		w.stop()
	}
	if w.c != nil {
		_ = w.c.Close()
	}
	w.c, w.nc, w.stop = nil, nil, nil
}

// errorKey names the class of a failure for Result.Errors: the reply code
// and enhanced code of an SMTP reply ("452 4.3.1"), else the step and a
// short cause without addresses ("connect: connection refused").
func errorKey(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		ec := se.EnhancedCode
		if ec == smtp.EnhancedCodeNotSet || ec == smtp.NoEnhancedCode {
			return fmt.Sprintf("%03d", se.Code)
		}
		return fmt.Sprintf("%03d %d.%d.%d", se.Code, ec[0], ec[1], ec[2])
	}
	step := "send"
	var ste *stepError
	if errors.As(err, &ste) {
		step = ste.step
	}
	return step + ": " + cause(err)
}

// cause describes a non-SMTP error briefly and without addresses or ports,
// so that the Errors map stays small.
func cause(err error) string {
	var ne net.Error
	var se *os.SyscallError
	var oe *net.OpError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by server"
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	case errors.As(err, &se):
		return se.Err.Error() // "connection refused", without "connect: "
	case errors.As(err, &oe) && oe.Err != nil:
		return oe.Err.Error()
	}
	var ste *stepError
	if errors.As(err, &ste) {
		err = ste.err
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
