package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Reply is one SMTP reply as the server sent it (or as this client made it up,
// when Local is set).
type Reply struct {
	// Code is the three-digit reply code, e.g. 250. Zero means "no reply":
	// the command was never sent.
	Code int
	// Enhanced is the RFC 3463 enhanced status code without its text, e.g.
	// "5.1.1", or "" when the reply carried none. It is parsed whenever the
	// first line starts with one whose class matches Code's first digit,
	// whether or not the server advertised ENHANCEDSTATUSCODES.
	Enhanced string
	// Text is the reply text without the code and the enhanced code; lines of
	// a multiline reply are joined with "\n".
	Text string
	// Local is true when the client refused the command itself without
	// sending it (SIZE exceeded, SMTPUTF8 needed but not offered, an address
	// that cannot be written in a command). Such replies say nothing about
	// the receiver's mood and must not slow down its rate.
	Local bool
}

// Positive reports whether the reply is a 2xx completion.
func (r Reply) Positive() bool { return r.Code/100 == 2 }

// Temporary reports whether the reply is a 4xx transient failure.
func (r Reply) Temporary() bool { return r.Code/100 == 4 }

// Permanent reports whether the reply is a 5xx permanent failure.
func (r Reply) Permanent() bool { return r.Code/100 == 5 }

// String formats the reply as it would appear on one wire line, e.g.
// "550 5.1.1 no such user".
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}

// ReplyError is returned by Dial, Reset and Quit when the server answered a
// command with a reply that ends the exchange (a greeting other than 220, EHLO
// and HELO both refused, STARTTLS refused under TLSRequire, RSET refused).
type ReplyError struct {
	// Command is the verb that was refused ("greeting", "EHLO", "STARTTLS", ...).
	Command string
	// Reply is the server's reply.
	Reply Reply
}

func (e *ReplyError) Error() string {
	return "client: " + e.Command + ": server replied " + e.Reply.String()
}

// Temporary reports whether the refusal was a 4xx.
func (e *ReplyError) Temporary() bool { return e.Reply.Temporary() }

var (
	// ErrProtocol is wrapped by every error caused by a reply that is not
	// valid SMTP (garbage, a code out of range, a multiline reply whose lines
	// disagree, a line that is too long) or by a reply that makes no sense at
	// that point (a 2xx to DATA, data pipelined after a 220 to STARTTLS).
	ErrProtocol = errors.New("client: protocol error")
	// ErrTLSRequired is wrapped by Dial's error when the policy is TLSRequire
	// and the server did not offer STARTTLS.
	ErrTLSRequired = errors.New("client: TLS required but STARTTLS not offered")
	// ErrClosed is wrapped by the error of any call on a Conn that is no
	// longer usable: it failed before, the server sent 421, or it was closed.
	ErrClosed = errors.New("client: connection closed")
)

// Reply parsing limits. RFC 5321 4.5.3.1.5 limits a reply line to 512 octets;
// real servers exceed it, so allow more, but not without bound.
const (
	readBufSize   = 8 << 10 // also the longest reply line accepted
	maxReplyLines = 512
)

// replyReader parses SMTP replies from a bufio.Reader. It keeps a scratch
// buffer and the last few distinct replies, so that a server that answers
// every transaction alike (MAIL, RCPT, 354, queued) costs no allocation for
// its replies.
type replyReader struct {
	r       *bufio.Reader
	scratch []byte
	cache   [replyCacheSize]cachedReply
	next    int // cache slot to overwrite next
}

const replyCacheSize = 4

type cachedReply struct {
	raw   string // scratch contents that produced reply
	reply Reply
}

// read reads one (possibly multiline) reply.
func (rr *replyReader) read() (Reply, error) {
	rr.scratch = rr.scratch[:0]
	code, enhLen := 0, 0
	for n := 0; ; n++ {
		line, err := rr.r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return Reply{}, fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, readBufSize)
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, err
		}
		line = trimEOL(line)
		lc, more, text, ok := parseLine(line)
		if !ok || bytes.IndexByte(line, '\r') >= 0 {
			return Reply{}, fmt.Errorf("%w: malformed reply line %q", ErrProtocol, truncate(line))
		}
		if n == 0 {
			code = lc
			enhLen = enhancedLen(text, code)
		} else {
			if lc != code {
				return Reply{}, fmt.Errorf("%w: multiline reply mixes codes %d and %d", ErrProtocol, code, lc)
			}
			if n >= maxReplyLines {
				return Reply{}, fmt.Errorf("%w: reply longer than %d lines", ErrProtocol, maxReplyLines)
			}
			// RFC 2034: the enhanced code is repeated on every line; keep it once.
			if enhLen > 0 && len(text) > enhLen && string(text[:enhLen]) == string(rr.scratch[:enhLen]) && text[enhLen] == ' ' {
				text = text[enhLen+1:]
			}
			rr.scratch = append(rr.scratch, '\n')
		}
		rr.scratch = append(rr.scratch, text...)
		if !more {
			break
		}
	}
	return rr.makeReply(code, enhLen), nil
}

// makeReply turns the scratch buffer into a Reply, reusing the previous
// reply's strings when the bytes are the same.
func (rr *replyReader) makeReply(code, enhLen int) Reply {
	for i := range rr.cache {
		if e := &rr.cache[i]; e.reply.Code == code && string(rr.scratch) == e.raw {
			return e.reply
		}
	}
	s := string(rr.scratch)
	r := Reply{Code: code, Text: s}
	if enhLen > 0 {
		r.Enhanced = s[:enhLen]
		r.Text = ""
		if len(s) > enhLen {
			r.Text = s[enhLen+1:]
		}
	}
	rr.cache[rr.next] = cachedReply{raw: s, reply: r}
	rr.next = (rr.next + 1) % replyCacheSize
	return r
}

// trimEOL strips "\r\n" (or a lone "\n", which some servers send).
func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// parseLine splits "250-text" / "250 text" / "250". more is true for a
// continuation line ("-").
func parseLine(line []byte) (code int, more bool, text []byte, ok bool) {
	if len(line) < 3 {
		return 0, false, nil, false
	}
	c0, c1, c2 := line[0], line[1], line[2]
	if c0 < '2' || c0 > '5' || c1 < '0' || c1 > '5' || c2 < '0' || c2 > '9' {
		return 0, false, nil, false
	}
	code = int(c0-'0')*100 + int(c1-'0')*10 + int(c2-'0')
	if len(line) == 3 {
		return code, false, nil, true
	}
	switch line[3] {
	case ' ':
	case '-':
		more = true
	default:
		return 0, false, nil, false
	}
	return code, more, line[4:], true
}

// enhancedLen returns the length of an RFC 3463 code ("class.subject.detail")
// at the start of text, followed by a space or the end, whose class matches
// code's first digit; 0 when there is none.
func enhancedLen(text []byte, code int) int {
	if len(text) < 5 || int(text[0]-'0') != code/100 || text[1] != '.' {
		return 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		start := i
		for i < len(text) && i-start < 3 && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == start {
			return 0
		}
		if part == 0 {
			if i >= len(text) || text[i] != '.' {
				return 0
			}
			i++
		}
	}
	if i < len(text) && text[i] != ' ' {
		return 0
	}
	return i
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
