package engine

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidEnvelope is returned (wrapped) by Submit for a message that can
// never be accepted as given: a bad address, no recipients, an empty body.
var ErrInvalidEnvelope = errors.New("invalid envelope")

// ErrTooLarge is returned (wrapped) by Submit for a body over the limit.
var ErrTooLarge = errors.New("message too large")

// Envelope is what an injector knows about a message besides its body.
type Envelope struct {
	// From is the reverse-path; "" is the null sender (bounces).
	From string
	// To are the recipient addresses, in order.
	To []string
	// VMTA, Pool, Campaign and Tenant select where and as what the
	// message is sent; empty means the default.
	VMTA, Pool, Campaign, Tenant string
	// Source describes the injector for logs, e.g. "smtp 127.0.0.1 user=bob".
	Source string
	// Body8Bit and SMTPUTF8 record what the injector declared (BODY=8BITMIME,
	// SMTPUTF8); delivery asks the receiver for the same.
	Body8Bit, SMTPUTF8 bool
	// DSNRet ("FULL" or "HDRS") and EnvID are RFC 3461's RET and ENVID.
	DSNRet, EnvID string
	// Notify and ORcpt are RFC 3461's per-recipient NOTIFY and ORCPT,
	// index-aligned with To; nil when none was given.
	Notify, ORcpt []string
}

// dropRecipients removes the recipients for which drop(i, rcpt) is true,
// keeping Notify and ORcpt aligned with To; it returns how many it removed.
func (env *Envelope) dropRecipients(drop func(i int, rcpt string) bool) int {
	keep := env.To[:0:0]
	var notify, orcpt []string
	n := 0
	for i, rcpt := range env.To {
		if drop(i, rcpt) {
			n++
			continue
		}
		keep = append(keep, rcpt)
		if env.Notify != nil {
			notify = append(notify, env.Notify[i])
		}
		if env.ORcpt != nil {
			orcpt = append(orcpt, env.ORcpt[i])
		}
	}
	if n > 0 {
		env.To, env.Notify, env.ORcpt = keep, notify, orcpt
	}
	return n
}

// maxAddressLen is RFC 5321's limit on a path (4.5.3.1.3) less the brackets.
const maxAddressLen = 254

// ValidateAddress checks that addr is local@domain with a plausible domain,
// as Submit does; injectors call it to reject a bad address before queueing
// anything. It accepts UTF-8 (SMTPUTF8) addresses; delivery decides later
// whether a receiver can take them.
func ValidateAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("empty address")
	}
	if len(addr) > maxAddressLen {
		return fmt.Errorf("address %.40q... is longer than %d bytes", addr, maxAddressLen)
	}
	// NB: control characters too: a NUL in the domain cannot be a spool key
	// (the store then failed with a local error, retried for ever), and none
	// can go into an SMTP command (the delivery client refuses them).
	if !utf8.ValidString(addr) || strings.ContainsAny(addr, " \t\r\n<>,;") ||
		strings.ContainsFunc(addr, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("address %q contains characters not allowed in an address", addr)
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("address %q is not of the form local@domain", addr)
	}
	if len(addr[:at]) > 64 {
		return fmt.Errorf("local part of %q is longer than 64 bytes", addr)
	}
	return validateDomain(addr[at+1:])
}

func validateDomain(d string) error {
	if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
		return nil // address literal; delivery checks it
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

// validate checks the envelope and body against the engine's limits.
func (e *Engine) validate(env *Envelope, body []byte) error {
	if env.From != "" {
		if err := ValidateAddress(env.From); err != nil {
			return fmt.Errorf("%w: sender: %v", ErrInvalidEnvelope, err)
		}
	}
	if len(env.To) == 0 {
		return fmt.Errorf("%w: no recipients", ErrInvalidEnvelope)
	}
	if len(env.To) > e.maxRecipients {
		return fmt.Errorf("%w: %d recipients, at most %d per message", ErrInvalidEnvelope, len(env.To), e.maxRecipients)
	}
	for i, rcpt := range env.To {
		if err := ValidateAddress(rcpt); err != nil {
			return fmt.Errorf("%w: recipient %d: %v", ErrInvalidEnvelope, i, err)
		}
	}
	if len(body) == 0 {
		return fmt.Errorf("%w: empty message", ErrInvalidEnvelope)
	}
	if int64(len(body)) > e.maxMessageBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(body), e.maxMessageBytes)
	}
	return nil
}
