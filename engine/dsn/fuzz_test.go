package dsn

import (
	"os"
	"path/filepath"
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
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := Parse(msg)
		if err == nil && r == nil {
			t.Fatal("nil report without error")
		}
	})
}
