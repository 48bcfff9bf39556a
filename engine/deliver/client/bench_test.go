package client

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// sinkSession is a fast SMTP sink: it batches replies while pipelined input
// is buffered and discards message data.
func sinkSession(sc *srvConn) {
	r := bufio.NewReaderSize(sc.nc, 64<<10)
	w := bufio.NewWriterSize(sc.nc, 4<<10)
	w.WriteString("220 sink.test ESMTP\r\n")
	w.Flush()
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("EHLO")):
			w.WriteString("250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 100000000\r\n")
		case bytes.HasPrefix(line, []byte("MAIL")):
			w.WriteString("250 2.1.0 Ok\r\n")
		case bytes.HasPrefix(line, []byte("RCPT")):
			w.WriteString("250 2.1.5 Ok\r\n")
		case bytes.HasPrefix(line, []byte("DATA")):
			w.WriteString("354 End data with <CR><LF>.<CR><LF>\r\n")
			w.Flush()
			for {
				l, err := r.ReadSlice('\n')
				if err != nil && err != bufio.ErrBufferFull {
					return
				}
				if string(l) == ".\r\n" {
					break
				}
			}
			w.WriteString("250 2.0.0 Ok: queued\r\n")
		case bytes.HasPrefix(line, []byte("RSET")), bytes.HasPrefix(line, []byte("NOOP")):
			w.WriteString("250 2.0.0 Ok\r\n")
		case bytes.HasPrefix(line, []byte("QUIT")):
			w.WriteString("221 2.0.0 Bye\r\n")
			w.Flush()
			return
		default:
			w.WriteString("500 5.5.2 Error\r\n")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

// BenchmarkSend measures transactions of 10 recipients on one reused
// connection against an in-process sink over loopback.
func BenchmarkSend(b *testing.B) {
	to := make([]string, 10)
	for i := range to {
		to[i] = fmt.Sprintf("rcpt%d@example.com", i)
	}
	for _, size := range []int{1 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			line := strings.Repeat("x", 76) + "\r\n"
			msg := "Subject: bench\r\n\r\n" + strings.Repeat(line, size/len(line))
			s := newTestServer(b, sinkSession)
			opts := testOptions()
			c, err := Dial(context.Background(), s.addr(), "", opts)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			rd := strings.NewReader(msg)
			tx := &Transaction{From: "bounce@sender.test", To: to, Body: rd, Size: int64(len(msg))}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(msg)
				res, err := c.Send(ctx, tx)
				if err != nil {
					b.Fatal(err)
				}
				if !res.Delivered(9) {
					b.Fatal(res.Outcome(9))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
