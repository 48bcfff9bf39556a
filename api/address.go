package api

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkAddress applies the engine's envelope address rules (engine/envelope.go)
// before anything is submitted, so that an all-or-nothing batch can reject a
// bad recipient without having queued the good ones. The engine checks
// again; the two must agree (TestCheckAddress_AgreesWithEngine).
func checkAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("empty address")
	}
	if len(addr) > 254 {
		return fmt.Errorf("address is longer than 254 bytes")
	}
	if !utf8.ValidString(addr) || strings.ContainsAny(addr, " \t\r\n<>,;") {
		return fmt.Errorf("address %q contains characters not allowed in an address (write local@domain, no brackets or display name)", addr)
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("address %q is not of the form local@domain", addr)
	}
	if at > 64 {
		return fmt.Errorf("local part of %q is longer than 64 bytes", addr)
	}
	d := addr[at+1:]
	if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
		return nil
	}
	if len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return fmt.Errorf("invalid domain %q", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("invalid domain %q", d)
		}
	}
	return nil
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
