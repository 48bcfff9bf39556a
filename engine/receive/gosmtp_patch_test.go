package receive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The go-smtp copy under third_party/go-smtp reads DATA in runs instead of a
// byte at a time (see its PATCHES.md). These tests hold it to the original
// byte-at-a-time state machine, kept here as referenceData.

// referenceData is go-smtp v0.25.1's dataReader state machine, unpatched: it
// returns the message that the DATA payload wire carries, how many bytes of
// wire it took, and whether the end-of-data line was found.
func referenceData(wire []byte) (body []byte, used int, ended bool) {
	const (
		stateBeginLine = iota
		stateDot
		stateDotCR
		stateCR
		stateData
		stateEOF
	)
	state := stateBeginLine
	for _, c := range wire {
		if state == stateEOF {
			break
		}
		used++
		switch state {
		case stateBeginLine:
			if c == '.' {
				state = stateDot
				continue
			}
			if c == '\r' {
				state = stateCR
				break
			}
			state = stateData
		case stateDot:
			if c == '\r' {
				state = stateDotCR
				continue
			}
			state = stateData
		case stateDotCR:
			if c == '\n' {
				state = stateEOF
				continue
			}
			state = stateData
		case stateCR:
			if c == '\n' {
				state = stateBeginLine
				break
			}
			state = stateData
		case stateData:
			if c == '\r' {
				state = stateCR
			}
		}
		body = append(body, c)
	}
	return body, used, state == stateEOF
}

// dataCapture is a go-smtp backend that keeps the first message's data.
type dataCapture struct {
	mu   sync.Mutex
	got  chan []byte
	once sync.Once
}

type dataCaptureSession struct{ be *dataCapture }

func (be *dataCapture) NewSession(*smtp.Conn) (smtp.Session, error) {
	return dataCaptureSession{be}, nil
}
func (dataCaptureSession) Reset()                               {}
func (dataCaptureSession) Logout() error                        { return nil }
func (dataCaptureSession) Mail(string, *smtp.MailOptions) error { return nil }
func (dataCaptureSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s dataCaptureSession) Data(r io.Reader) error {
	// Odd-sized reads, so that runs are cut everywhere.
	var out []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	s.be.got <- out
	return nil
}

// startRawGoSMTP serves a bare go-smtp server (no receive layer) on loopback.
func startRawGoSMTP(t testing.TB) (*dataCapture, string) {
	t.Helper()
	be := &dataCapture{got: make(chan []byte, 1)}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.MaxLineLength = 1 << 20
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return be, ln.Addr().String()
}

// sendData runs MAIL, RCPT, DATA and writes payload (which must hold an
// end-of-data line) in pieces of random size; it returns what the session got.
func sendData(t testing.TB, be *dataCapture, addr string, payload []byte, rng *rand.Rand) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %s: %v", code, err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("got %q, want %s", line, code)
			}
			if len(line) > 3 && line[3] == ' ' {
				return
			}
		}
	}
	expect("220")
	fmt.Fprintf(c, "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
	expect("250")
	expect("250")
	expect("250")
	expect("354")
	for p := payload; len(p) > 0; {
		n := min(len(p), 1+rng.IntN(3000))
		if _, err := c.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	expect("250")
	select {
	case got := <-be.got:
		return got
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

// dataCases are payloads that exercise every state of the DATA machine.
var dataCases = []string{
	"Subject: x\r\n\r\nhello\r\n.\r\n",
	"\r\n.\r\n",
	".\r\n",
	"..leading\r\n...two\r\n.\r\n",
	"bare\nlf\n.\nstill inside\r\n.\r\n",
	"bare\rcr\r.\rstill\r\n.\r\n",
	"dot cr then x\r\n.\rx\r\n.\r\n",
	"dot then x\r\n.x\r\n.\r\n",
	"cr cr lf\r\r\n.\r\nnot the end above\r\n.\r\n",
	"long " + strings.Repeat("abcdefghij", 5000) + "\r\n" + strings.Repeat("line\r\n", 3000) + ".\r\n",
	"8bit \xc3\xa9\xff\x00 bytes\r\n.\r\n",
}

func TestGoSMTPPatch_DataMatchesTheByteAtATimeMachine(t *testing.T) {
	be, addr := startRawGoSMTP(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for i, payload := range dataCases {
		want, _, ended := referenceData([]byte(payload))
		if !ended {
			t.Fatalf("case %d has no end-of-data line", i)
		}
		got := sendData(t, be, addr, []byte(payload), rng)
		if !bytes.Equal(got, want) {
			t.Errorf("case %d: got %q\nwant %q", i, trunc(got), trunc(want))
		}
	}
	// Random mixes of the bytes that matter.
	alphabet := []byte("ab.\r\n")
	for i := range 200 {
		n := rng.IntN(300)
		p := make([]byte, 0, n+5)
		for range n {
			p = append(p, alphabet[rng.IntN(len(alphabet))])
		}
		p = terminate(append(p, "\r\n.\r\n"...))
		// Whatever follows the first end-of-data line would be read as
		// commands: send the payload only up to it.
		want, cut, _ := referenceData(p)
		got := sendData(t, be, addr, p[:cut], rng)
		if !bytes.Equal(got, want) {
			t.Fatalf("random %d: payload %q\ngot  %q\nwant %q", i, p[:cut], got, want)
		}
	}
}

// terminate appends end-of-data lines to p until the reference machine sees
// one ("\r\r\n.\r\n" does not end: its CR CR makes the LF a bare one).
func terminate(p []byte) []byte {
	for {
		if _, _, ended := referenceData(p); ended {
			return p
		}
		p = append(p, "\r\n.\r\n"...)
	}
}

// FuzzGoSMTPPatch_Data compares the patched reader with the reference on
// arbitrary payloads (terminated so that the transaction ends).
func FuzzGoSMTPPatch_Data(f *testing.F) {
	for _, c := range dataCases {
		f.Add([]byte(strings.TrimSuffix(c, ".\r\n")))
	}
	be, addr := startRawGoSMTP(f)
	rng := rand.New(rand.NewPCG(3, 4))
	f.Fuzz(func(t *testing.T, in []byte) {
		p := terminate(append(bytes.Clone(in), "\r\n.\r\n"...))
		want, cut, _ := referenceData(p)
		got := sendData(t, be, addr, p[:cut], rng)
		if !bytes.Equal(got, want) {
			t.Fatalf("payload %q\ngot  %q\nwant %q", p, got, want)
		}
	})
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "..."...)
	}
	return b
}
