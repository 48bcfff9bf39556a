package api

import "github.com/sluice-mta/sluice/engine"

// checkAddress applies the engine's envelope address rules before anything
// is submitted, so that an all-or-nothing batch can reject a bad recipient
// without having queued the good ones. The engine checks again at Submit.
func checkAddress(addr string) error { return engine.ValidateAddress(addr) }

// isASCII reports whether s has only ASCII bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
