package dkim

import (
	"strings"
	"testing"
)

// BenchmarkSign signs a 4 KB message with each key type.
func BenchmarkSign(b *testing.B) {
	keys, _ := setup(b)
	s := mustNew(b, keys)
	for _, domain := range []string{"rsa.example", "ed.example"} {
		msg := testMsg(domain)
		line := strings.Repeat("x", 74) + "\r\n"
		msg = append(msg, strings.Repeat(line, (4096-len(msg))/len(line))...)
		b.Run(strings.TrimSuffix(domain, ".example"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, ok, err := s.Sign(msg, ""); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
