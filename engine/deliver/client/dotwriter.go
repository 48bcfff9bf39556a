package client

import (
	"bytes"
	"io"
)

// dotWriter writes message data in the DATA encoding of RFC 5321 4.5.2:
// every line ending becomes CRLF (a bare LF, a bare CR and CRLF alike, so a
// receiver that ends lines differently cannot be smuggled a second message),
// a line that starts with "." gets one more, and Close ends the data with
// CRLF (when missing) and ".\r\n". Only CRLF-terminated lines reach the wire,
// so "\r\n.\r\n" appears nowhere but at the end.
//
// It scans for the bytes that need work with bytes.IndexByte and passes the
// runs between them on in one Write each: a body that is already CRLF with no
// leading dots costs one copy into the bufio.Writer.
type dotWriter struct {
	w   io.Writer
	bol bool // at the beginning of a line (nothing written, or after CRLF)
	cr  bool // the last byte seen was a CR whose line ending is not written yet
	// plain leaves leading dots alone: the line-ending work only, for BDAT,
	// whose chunks are counted, not dot-terminated (RFC 3030).
	plain bool
	err   error
}

var crlf = []byte("\r\n")

func newDotWriter(w io.Writer) dotWriter { return dotWriter{w: w, bol: true} }

func (d *dotWriter) write(p []byte) {
	if d.err == nil && len(p) > 0 {
		_, d.err = d.w.Write(p)
	}
}

// Write implements io.Writer.
func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && d.err == nil {
		if d.cr { // CR at the end of the previous Write: CRLF or bare CR
			d.cr = false
			if p[0] == '\n' {
				p = p[1:]
			}
			d.write(crlf)
			d.bol = true
			continue
		}
		if d.bol && p[0] == '.' && !d.plain {
			d.write(p[:1]) // the extra dot; the line's own dot goes with the run
		}
		p = d.run(p)
	}
	if d.err != nil {
		return 0, d.err
	}
	return n, nil
}

// run writes the longest prefix of p that needs no change (text and proper
// CRLFs not followed by "."), deals with the byte that ends it and returns
// the rest. p is not empty and, if d.bol, does not start with "." unstuffed.
func (d *dotWriter) run(p []byte) []byte {
	cr := bytes.IndexByte(p, '\r')
	i := 0 // start of the unscanned part
	for {
		lf := bytes.IndexByte(p[i:], '\n')
		if lf >= 0 {
			lf += i
		}
		if cr >= 0 && cr < i {
			if cr = bytes.IndexByte(p[i:], '\r'); cr >= 0 {
				cr += i
			}
		}
		switch {
		case cr < 0 && lf < 0: // plain text to the end
			d.write(p)
			d.bol = false
			return nil
		case cr >= 0 && (lf < 0 || cr < lf):
			if cr+1 == lf { // proper CRLF
				i = lf + 1
				if i == len(p) || p[i] == '.' {
					d.write(p[:i])
					d.bol = true
					return p[i:]
				}
				continue
			}
			d.write(p[:cr])
			if cr+1 == len(p) { // decided by the next Write or Close
				d.cr = true
				return nil
			}
			d.write(crlf) // bare CR
			d.bol = true
			return p[cr+1:]
		default: // bare LF first
			d.write(p[:lf])
			d.write(crlf)
			d.bol = true
			return p[lf+1:]
		}
	}
}

// ReadFrom copies r through the encoder using buf, so that io.Copy needs no
// buffer of its own. Read errors are returned as *bodyError.
func (d *dotWriter) readFrom(r io.Reader, buf []byte) error {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := d.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &bodyError{err}
		}
	}
}

// Close ends the data: CRLF if the last line lacks one, then ".\r\n".
func (d *dotWriter) Close() error {
	d.endLine()
	d.write(dotCRLF)
	return d.err
}

// endLine ends the last line with CRLF when it has none, as Close does
// before the final dot: the message that reaches the receiver is the same
// whether it goes by DATA or by BDAT.
func (d *dotWriter) endLine() {
	if d.cr || !d.bol {
		d.write(crlf)
	}
	d.cr, d.bol = false, true
}

var dotCRLF = []byte(".\r\n")

// bodyError is a failure to read the message body (not the network).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read message body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }
