package client

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(in string) ([]Reply, error) {
	rr := replyReader{r: bufio.NewReaderSize(strings.NewReader(in), readBufSize)}
	var out []Reply
	for {
		r, err := rr.read()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && rr.r.Buffered() == 0 {
				err = nil
			}
			return out, err
		}
		out = append(out, r)
	}
}

func TestReplyReader(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Reply
		err      error
	}{
		{"simple", "250 ok\r\n", Reply{Code: 250, Text: "ok"}, nil},
		{"enhanced", "550 5.1.1 no such user\r\n", Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}, nil},
		{"enhanced_only", "250 2.0.0\r\n", Reply{Code: 250, Enhanced: "2.0.0"}, nil},
		{"enhanced_class_mismatch_kept_in_text", "550 4.1.1 odd\r\n", Reply{Code: 550, Text: "4.1.1 odd"}, nil},
		{"enhanced_three_digit_parts", "452 4.123.456 x\r\n", Reply{Code: 452, Enhanced: "4.123.456", Text: "x"}, nil},
		{"not_enhanced_version", "220 5.1.12345 x\r\n", Reply{Code: 220, Text: "5.1.12345 x"}, nil},
		{"bare_code", "250\r\n", Reply{Code: 250}, nil},
		{"bare_LF", "250 ok\n", Reply{Code: 250, Text: "ok"}, nil},
		{"multiline", "250-mx.test hi\r\n250-PIPELINING\r\n250 SIZE 10\r\n", Reply{Code: 250, Text: "mx.test hi\nPIPELINING\nSIZE 10"}, nil},
		{"multiline_enhanced_repeated", "550-5.7.1 blocked\r\n550-5.7.1 see url\r\n550 5.7.1 bye\r\n",
			Reply{Code: 550, Enhanced: "5.7.1", Text: "blocked\nsee url\nbye"}, nil},
		{"multiline_mixed_codes", "250-a\r\n550 b\r\n", Reply{}, ErrProtocol},
		{"garbage", "hello\r\n", Reply{}, ErrProtocol},
		{"bare_CR_in_line", "550 a\rb\r\n", Reply{}, ErrProtocol},
		{"bad_separator", "250_ok\r\n", Reply{}, ErrProtocol},
		{"code_too_low", "199 x\r\n", Reply{}, ErrProtocol},
		{"code_too_high", "600 x\r\n", Reply{}, ErrProtocol},
		{"too_long", "250 " + strings.Repeat("x", readBufSize) + "\r\n", Reply{}, ErrProtocol},
		{"too_many_lines", strings.Repeat("250-x\r\n", maxReplyLines+1) + "250 x\r\n", Reply{}, ErrProtocol},
		{"eof_mid_reply", "250-x\r\n", Reply{}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := replyReader{r: bufio.NewReaderSize(strings.NewReader(tc.in), readBufSize)}
			got, err := rr.read()
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReplyReader_IdenticalRepliesDoNotAllocate(t *testing.T) {
	in := strings.Repeat("250 2.1.5 Ok\r\n", 1000)
	rr := replyReader{r: bufio.NewReaderSize(strings.NewReader(in), readBufSize)}
	rr.read()
	allocs := testing.AllocsPerRun(500, func() {
		if _, err := rr.read(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per identical reply", allocs)
	}
}

func TestReply_String(t *testing.T) {
	r := Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}
	if r.String() != "550 5.1.1 no such user" || !r.Permanent() || r.Temporary() || r.Positive() {
		t.Errorf("%q", r.String())
	}
}

// FuzzReadReply: the parser never panics, and a reply it accepts has a valid
// code and no line breaks other than "\n" between lines.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n", "550-5.1.1 a\r\n550 5.1.1 b\r\n", "hello\r\n", "250\n", "421 4.7.0 x\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, _ := readAll(in)
		for _, r := range out {
			if r.Code < 200 || r.Code > 559 {
				t.Errorf("code %d accepted", r.Code)
			}
			if strings.ContainsRune(r.Text, '\r') {
				t.Errorf("CR in text %q", r.Text)
			}
			if r.Enhanced != "" && int(r.Enhanced[0]-'0') != r.Code/100 {
				t.Errorf("enhanced %q with code %d", r.Enhanced, r.Code)
			}
		}
	})
}
