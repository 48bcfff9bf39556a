package client

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// dialLogged dials addr with a Dialer that records the client's writes.
func dialLogged(t *testing.T, addr string, opts Options) (*Conn, *writeLog) {
	t.Helper()
	wl := &writeLog{}
	opts.Dialer = func(ctx context.Context, network, a string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, a)
		if err != nil {
			return nil, err
		}
		return logConn{Conn: c, log: wl}, nil
	}
	c, err := Dial(t.Context(), addr, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, wl
}

// TestSend_Chunking_OneWritePerTransaction_BodyUnstuffed: to a server that
// offers CHUNKING and PIPELINING, MAIL, RCPT, "BDAT n LAST" and the message
// go out in one write, n is the CRLF-normalised size, leading dots are not
// doubled, and the server receives the same bytes as by DATA.
func TestSend_Chunking_OneWritePerTransaction_BodyUnstuffed(t *testing.T) {
	be, addr := newGoSMTPServer(t)
	c, wl := dialLogged(t, addr, testOptions())
	in := "Subject: dots\n\n.\n..two\nbare\rcr\r\nno final line end"
	want := normalise([]byte(in))
	before := len(wl.all())
	res, err := c.Send(t.Context(), &Transaction{From: "b@sender.test", To: []string{"a@x.test", "b@x.test"}, Body: strings.NewReader(in), Size: int64(len(in))})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Chunked || !res.Delivered(0) || !res.Delivered(1) || res.Data.Code != 250 {
		t.Fatalf("result %+v", res)
	}
	writes := wl.all()[before:]
	if len(writes) != 1 {
		t.Fatalf("%d writes for one transaction, want 1: %q", len(writes), writes)
	}
	wire := writes[0]
	head := "MAIL FROM:<b@sender.test> SIZE=" // go-smtp offers SIZE
	if !strings.HasPrefix(wire, head) || !strings.Contains(wire, "RCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT "+strconv.Itoa(len(want))+" LAST\r\n"+want) {
		t.Errorf("wire %q", wire)
	}
	if !strings.HasSuffix(wire, want) {
		t.Errorf("the chunk is not the last thing written: %q", wire)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.msgs) != 1 || be.msgs[0].body != want {
		t.Fatalf("server got %+v, want body %q", be.msgs, want)
	}
}

// TestSend_Chunking_EveryRecipientRefused_NothingDelivered_ConnReusable: the
// server discards the chunk of a transaction with no accepted recipient
// (RFC 3030 4.2); the next transaction on the same Conn is delivered whole.
func TestSend_Chunking_EveryRecipientRefused_NothingDelivered_ConnReusable(t *testing.T) {
	be, addr := newGoSMTPServer(t)
	c, _ := dialLogged(t, addr, testOptions())
	body := "Subject: x\r\n\r\nMAIL FROM:<smuggled@x.test>\r\n"
	res, err := c.Send(t.Context(), &Transaction{From: "b@sender.test", To: []string{"unknown1@x.test", "unknown2@x.test"}, Body: strings.NewReader(body), Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if res.Delivered(i) {
			t.Errorf("rcpt %d delivered", i)
		}
		if o := res.Outcome(i); o.Code != 550 {
			t.Errorf("Outcome(%d) = %+v, want the RCPT's 550", i, o)
		}
	}
	if res.Data.Positive() {
		t.Errorf("BDAT answered %+v with no recipient", res.Data)
	}
	res, err = c.Send(t.Context(), &Transaction{From: "b@sender.test", To: []string{"ok@x.test"}, Body: strings.NewReader(body), Size: int64(len(body))})
	if err != nil || !res.Delivered(0) {
		t.Fatalf("second transaction: %+v, %v", res, err)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.msgs) != 1 || be.msgs[0].body != body || len(be.msgs[0].rcpts) != 1 {
		t.Fatalf("server got %+v", be.msgs)
	}
}

// TestSend_NoChunking_UsesData: Options.NoChunking, an unknown size, and a
// message over MaxChunk go by DATA (two writes: commands, then the data).
func TestSend_NoChunking_UsesData(t *testing.T) {
	be, addr := newGoSMTPServer(t)
	in := "Subject: y\r\n\r\n.leading dot\r\n"
	for _, tc := range []struct {
		name string
		opts func(*Options)
		size int64
	}{
		{"NoChunking", func(o *Options) { o.NoChunking = true }, int64(len(in))},
		{"unknown size", func(*Options) {}, 0},
		{"over MaxChunk", func(*Options) {}, MaxChunk + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			tc.opts(&opts)
			c, wl := dialLogged(t, addr, opts)
			before := len(wl.all())
			res, err := c.Send(t.Context(), &Transaction{From: "b@sender.test", To: []string{"a@x.test"}, Body: strings.NewReader(in), Size: tc.size})
			if tc.size > MaxChunk {
				// go-smtp refuses the declared SIZE before any data: what
				// matters is that DATA, not BDAT, was written.
				if err != nil {
					t.Fatal(err)
				}
			} else if err != nil || res.Chunked || !res.Delivered(0) {
				t.Fatalf("%+v, %v", res, err)
			}
			for _, w := range wl.all()[before:] {
				if strings.Contains(w, "BDAT") {
					t.Fatalf("BDAT written: %q", w)
				}
			}
		})
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	for _, m := range be.msgs {
		if m.body != in {
			t.Errorf("body %q, want %q", m.body, in)
		}
	}
}
