package client

import (
	"bytes"
	"strings"
	"testing"
)

// refStuff is the obvious byte-at-a-time encoder the fast one must match.
func refStuff(in []byte) []byte {
	var out []byte
	bol := true
	for i := 0; i < len(in); i++ {
		switch c := in[i]; c {
		case '\r':
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
			bol = true
		case '\n':
			out = append(out, '\r', '\n')
			bol = true
		default:
			if bol && c == '.' {
				out = append(out, '.')
			}
			out = append(out, c)
			bol = false
		}
	}
	if !bol {
		out = append(out, '\r', '\n')
	}
	return append(out, ".\r\n"...)
}

// normalise is what the receiver must get back: every line ending CRLF and
// a final CRLF.
func normalise(in []byte) string {
	s := strings.ReplaceAll(string(in), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// stuffChunks encodes in, written in pieces cut at the given offsets.
func stuffChunks(in []byte, cuts ...int) []byte {
	var buf bytes.Buffer
	d := newDotWriter(&buf)
	prev := 0
	for _, c := range cuts {
		if c < prev || c > len(in) {
			continue
		}
		d.Write(in[prev:c])
		prev = c
	}
	d.Write(in[prev:])
	d.Close()
	return buf.Bytes()
}

func TestDotWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r\r\n\n", "a\r\n\r\n\r\n.\r\n"},
		{"..x", "...x\r\n.\r\n"},
		{"x.y\r\n", "x.y\r\n.\r\n"},
		{"\r", "\r\n.\r\n"},
	} {
		for cut := 0; cut <= len(tc.in); cut++ {
			if got := string(stuffChunks([]byte(tc.in), cut)); got != tc.want {
				t.Errorf("stuff(%q) cut at %d = %q, want %q", tc.in, cut, got, tc.want)
			}
		}
	}
}

// Reliability row 13 and 22.
func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.\r\nb", "\r\n.\r\n", "a\n.\n", "\r.\r", "..\r\n..", "x\r"} {
		f.Add([]byte(s), 0, 0)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut1, cut2 int) {
		out := stuffChunks(in, cut1, cut2)
		if want := refStuff(in); !bytes.Equal(out, want) {
			t.Fatalf("stuff(%q) = %q, reference %q", in, out, want)
		}
		// The end-of-data sequence appears only at the end.
		if i := bytes.Index(out, []byte("\r\n.\r\n")); i >= 0 && i != len(out)-5 {
			t.Fatalf("early terminator at %d in %q", i, out)
		}
		if !bytes.HasSuffix(out, []byte(".\r\n")) {
			t.Fatalf("no terminator: %q", out)
		}
		// Only CRLF line endings.
		data := out[:len(out)-3]
		if bytes.Count(data, []byte("\r")) != bytes.Count(data, []byte("\r\n")) || bytes.Count(data, []byte("\n")) != bytes.Count(data, []byte("\r\n")) {
			t.Fatalf("bare CR or LF in %q", out)
		}
		// Round trip through the reference un-stuffer.
		if got, want := unstuff(string(data)), normalise(in); got != want {
			t.Fatalf("unstuff(stuff(%q)) = %q, want %q", in, got, want)
		}
	})
}

func BenchmarkDotWriter(b *testing.B) {
	line := strings.Repeat("x", 76) + "\r\n"
	in := []byte(strings.Repeat(line, 100<<10/len(line)))
	var buf bytes.Buffer
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		buf.Reset()
		d := newDotWriter(&buf)
		d.Write(in)
		d.Close()
	}
}
