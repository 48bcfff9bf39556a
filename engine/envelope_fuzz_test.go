package engine

import (
	"strings"
	"testing"
)

// FuzzValidateAddress: reliability row 22 (addresses). An address that
// ValidateAddress accepts must be one every later stage can carry: the
// spool (no NUL in the domain, its key separator), the delivery client (no
// control character, space or angle bracket in a command) and a DSN (valid
// UTF-8, at most 254 bytes). Seeds: the usual, the hostile and the odd.
func FuzzValidateAddress(f *testing.F) {
	for _, s := range []string{
		"a@example.com", "Ünïcode@exämple.de", "a@[192.0.2.1]", "a+tag@sub.example.co.uk", "\"quoted local\"@x.test",
		"a@b\x00c.test", "a\x00@b.test", "a\r\nRCPT TO:<x@y>@b.test", "a@b.test>", "<a@b.test>", "a@-b.test", "a@b..test",
		"@b.test", "a@", "a", "a@b.test\x7f", "a@\xff.test", strings.Repeat("a", 64) + "@" + strings.Repeat("b.", 94) + "test",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if ValidateAddress(addr) != nil {
			return
		}
		if len(addr) > maxAddressLen {
			t.Fatalf("accepted %d bytes", len(addr))
		}
		for i := 0; i < len(addr); i++ {
			if b := addr[i]; b <= ' ' || b == 0x7f || b == '<' || b == '>' {
				t.Fatalf("accepted %q with byte %#x", addr, b)
			}
		}
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || at == len(addr)-1 {
			t.Fatalf("accepted %q without local@domain", addr)
		}
	})
}
