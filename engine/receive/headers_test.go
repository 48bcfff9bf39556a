package receive

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var testStamp = stamp{
	Received:  "Received: from c ([127.0.0.1])\r\n\tby mx.test (Sluice) with ESMTP id ID;\r\n\tMon, 02 Jan 2006 15:04:05 +0000",
	MessageID: "<gen@mx.test>",
	Date:      time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC),
}

const (
	rcvd  = "Received: from c ([127.0.0.1])\r\n\tby mx.test (Sluice) with ESMTP id ID;\r\n\tMon, 02 Jan 2006 15:04:05 +0000\r\n"
	mid   = "Message-ID: <gen@mx.test>\r\n"
	date  = "Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n"
	hasMD = "Message-ID: <m@x>\r\nDate: Tue, 03 Jan 2006 00:00:00 +0000\r\n"
)

func TestRewriteHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		d              directives
	}{
		{"plain message gets Received, Message-ID and Date",
			"Subject: s\r\n\r\nbody\r\n",
			rcvd + "Subject: s\r\n" + mid + date + "\r\nbody\r\n", directives{}},
		{"existing Message-ID and Date kept, case-insensitively",
			"message-id: <m@x>\r\nDATE: x\r\n\r\nb",
			rcvd + "message-id: <m@x>\r\nDATE: x\r\n\r\nb", directives{}},
		{"X-Sluice headers removed, folded value unfolded, any case",
			hasMD + "x-sluice-vmta: v1\r\nX-SLUICE-POOL:\r\n\tp1\r\n X\r\nSubject: s\r\nX-Sluice-Campaign:  c 1 \r\n\r\nX-Sluice-VMTA: in-body\r\n",
			rcvd + hasMD + "Subject: s\r\n\r\nX-Sluice-VMTA: in-body\r\n", directives{VMTA: "v1", Pool: "p1 X", Campaign: "c 1"}},
		{"first occurrence wins, every occurrence removed",
			hasMD + "X-Sluice-VMTA: a\r\nX-Sluice-VMTA: b\r\n\r\n",
			rcvd + hasMD + "\r\n", directives{VMTA: "a"}},
		{"obsolete white space before the colon",
			hasMD + "X-Sluice-Pool : p\r\n\r\n",
			rcvd + hasMD + "\r\n", directives{Pool: "p"}},
		{"headers only without empty line get one",
			hasMD + "Subject: s",
			rcvd + hasMD + "Subject: s\r\n\r\n", directives{}},
		{"non-header line ends the block and an empty line is inserted",
			hasMD + "Subject: s\r\nthis is body\r\nX-Sluice-VMTA: body\r\n",
			rcvd + hasMD + "Subject: s\r\n\r\nthis is body\r\nX-Sluice-VMTA: body\r\n", directives{}},
		{"empty message", "", rcvd + mid + date + "\r\n", directives{}},
		{"no header block at all", "\r\nbody", rcvd + mid + date + "\r\nbody", directives{}},
		{"leading continuation line is body", " folded?\r\n", rcvd + mid + date + "\r\n folded?\r\n", directives{}},
		{"LF-only header lines come out CRLF", hasMD + "A: 1\n\nb\n", rcvd + hasMD + "A: 1\r\n\r\nb\n", directives{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d := rewriteHeaders([]byte(tc.in), testStamp)
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			if d != tc.d {
				t.Errorf("directives = %+v, want %+v", d, tc.d)
			}
		})
	}
}

func TestNormalizeCRLF(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"a\nb", "a\r\nb"},
		{"a\rb", "a\r\nb"},
		{"\n.\n", "\r\n.\r\n"},
		{"\r.\r", "\r\n.\r\n"},
		{"\r\r\n\n", "\r\n\r\n\r\n"},
		{"x\r", "x\r\n"},
	} {
		if got := normalizeCRLF([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("normalizeCRLF(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Reliability row 22 (headers, hop count).
func FuzzRewriteHeaders(f *testing.F) {
	for _, s := range []string{
		"", "\r\n", "Subject: s\r\n\r\nbody\r\n", "X-Sluice-VMTA: v\r\n\tfold\r\n\r\n.\r\n",
		"a\nb\rc", "From x\r\nSubject: y\r\n", ": no name\r\n\r\n", "X-Sluice-Pool:p", " lead\r\nX: y\r\n\r\n",
		"x-sluice-campaign: c\n\nbody\n.\n", "\r.\r", "A: 1\r\n\r\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = rewriteHeaders(raw, testStamp) // any input: never panics

		in := normalizeCRLF(raw)
		if !crlfOnly(in) {
			t.Fatalf("normalizeCRLF left a bare CR/LF: %q", in)
		}
		out, d := rewriteHeaders(in, testStamp)
		if !bytes.HasPrefix(out, []byte(rcvd)) {
			t.Fatalf("output does not start with Received: %q", out)
		}
		if !crlfOnly(out) {
			t.Fatalf("output has a bare CR/LF: %q", out)
		}
		for _, v := range []string{d.VMTA, d.Pool, d.Campaign} {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("directive value with line break: %q", v)
			}
		}
		inFields, inBody := splitHeader(in)
		wantLines, wantHops := 0, 0
		for _, fl := range inFields {
			wantLines += len(fl.lines)
			if strings.EqualFold(fl.name, "Received") {
				wantHops++
			}
		}
		if lines, hops := headerCounts(in, 1<<30); lines != wantLines || hops != wantHops {
			t.Fatalf("headerCounts = %d lines, %d hops; splitHeader sees %d, %d in %q", lines, hops, wantLines, wantHops, in)
		}
		if lines, _ := headerCounts(in, 3); wantLines > 3 && lines != 4 {
			t.Fatalf("headerCounts with stopAt 3 counted %d of %d lines", lines, wantLines)
		}
		fields, body := splitHeader(out)
		if !bytes.Equal(body, inBody) {
			t.Fatalf("body changed:\n in %q\nout %q", inBody, body)
		}
		if !bytes.HasSuffix(out[:len(out)-len(body)], []byte("\r\n\r\n")) {
			t.Fatalf("header block does not end with an empty line: %q", out)
		}
		for _, fl := range fields {
			if strings.HasPrefix(strings.ToLower(fl.name), "x-sluice-") &&
				(strings.EqualFold(fl.name, HeaderVMTA) || strings.EqualFold(fl.name, HeaderPool) || strings.EqualFold(fl.name, HeaderCampaign)) {
				t.Fatalf("%s left in the header block: %q", fl.name, out)
			}
		}
	})
}

// TestCRLFOnly_AgreesWithTheByteCount checks the fast test against a count
// of bare CRs and LFs on random mixes of the bytes that matter.
func TestCRLFOnly_AgreesWithTheByteCount(t *testing.T) {
	bare := func(b []byte) int {
		n := 0
		for i := 0; i < len(b); i++ {
			switch {
			case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
				i++
			case b[i] == '\r' || b[i] == '\n':
				n++
			}
		}
		return n
	}
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("a\r\n")
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if got, want := crlfOnly(b), bare(b) == 0; got != want {
			t.Fatalf("crlfOnly(%q) = %v, want %v", b, got, want)
		}
	}
}
