package dsn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	r := testReport()
	r.Recipients = append(r.Recipients, delayed)
	if b, err := Build(r); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Final-Recipient: utf-8; a\\x{110000}\\x{41}@b\r\nStatus: 5\r\n--b--\r\n"))
	f.Add([]byte("From: MAILER-DAEMON@h.example\n\n<a@b.example>: 550-5.1.1 x\n 550 5.1.1 (y)>\n\n" +
		"  c@d.example on 1\n\t\t#5.1.1\nbecause:\n\nz\nFinal-Recipient: rfc822; e@f.example\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		// ParseAny runs Parse, and ParseText when Parse finds no report.
		for _, parse := range []func([]byte) (*Report, error){ParseAny, ParseText} {
			r, err := parse(msg)
			if err != nil {
				continue
			}
			if r == nil {
				t.Fatal("nil report without error")
			}
			r.OriginalHeader("Message-ID")
			if r.Heuristic {
				checkHeuristic(t, r)
			}
		}
	})
}

// checkHeuristic checks what Report.Heuristic promises.
func checkHeuristic(t *testing.T, r *Report) {
	t.Helper()
	if len(r.Recipients) == 0 {
		t.Fatal("heuristic report without recipients")
	}
	for _, rc := range r.Recipients {
		action := rc.Action == ActionFailed || rc.Action == ActionDelayed
		if rc.Final == "" || strings.ContainsAny(rc.Final, "\r\n") || !action || !statusRE.MatchString(rc.Status) {
			t.Fatalf("heuristic recipient %+v: want an address, failed or delayed, an enhanced status", rc)
		}
	}
}
