package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Headers of a signed request.
const (
	TimestampHeader = "X-Sluice-Timestamp"
	SignatureHeader = "X-Sluice-Signature"
)

// Sign returns the X-Sluice-Signature value for a body sent at timestamp
// (Unix seconds, as sent in X-Sluice-Timestamp): "sha256=" and the hex
// HMAC-SHA256, keyed by secret, of timestamp + "." + body.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is the one Sign makes, in constant time.
// A receiver should also refuse a timestamp far from its own clock (replays).
func Verify(secret, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}
