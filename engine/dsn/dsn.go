package dsn

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Actions of a per-recipient block (RFC 3464 2.3.3).
const (
	ActionFailed    = "failed"
	ActionDelayed   = "delayed"
	ActionDelivered = "delivered"
	ActionRelayed   = "relayed"
	ActionExpanded  = "expanded"
)

// Subjects of the reports Build renders, by the most severe action in them.
const (
	SubjectFailed    = "Undelivered Mail Returned to Sender"
	SubjectDelayed   = "Delayed Mail (still being retried)"
	SubjectDelivered = "Successful Mail Delivery Report"
)

// MaxLineLen is the longest line, in octets without CRLF, that Build emits
// (RFC 5322 2.1.1).
const MaxLineLen = 998

// ErrNotDSN is returned by Parse for a message that holds no
// message/delivery-status part: an ordinary message, or a bounce in a
// non-standard free-text format, which ParseText may read. ParseText
// returns it for a message that does not read as a bounce or names no
// recipient it could find.
var ErrNotDSN = errors.New("dsn: not a delivery status notification")

// ErrInvalid is wrapped by the errors Build returns for a Report it cannot
// render (missing field, unknown action, malformed status).
var ErrInvalid = errors.New("dsn: invalid report")

// Recipient is one per-recipient block of a report (RFC 3464 2.3).
type Recipient struct {
	// Original is the ORCPT given at injection, xtext-decoded, either a bare
	// address or "addr-type; address"; "" when none was given. Parse returns
	// a bare address for the rfc822 and utf-8 types.
	Original string
	// Final is the recipient address the report is about (Final-Recipient).
	Final string
	// Action is one of the Action* constants.
	Action string
	// Status is the enhanced status code, "5.1.1" (RFC 3463).
	Status string
	// RemoteMTA is the host name of the server that gave the reply, bare
	// ("mx.example.com") or typed ("dns; mx.example.com"); "" if none was
	// reached. Parse returns it bare for the dns type.
	RemoteMTA string
	// Diagnostic is the remote server's reply, "550 5.1.1 user unknown", ""
	// when there was none (expiry, no MX). A multi-line reply may keep its
	// line breaks: Build joins the lines with spaces. A value that starts
	// with a diagnostic type ("smtp; ...", "X-Postfix; ...") is written as
	// is (the type lowercased); otherwise the type is smtp. Parse strips
	// the smtp type only.
	Diagnostic string
	// LastAttempt is when delivery was last tried; zero omits the field.
	LastAttempt time.Time
	// WillRetryUntil is when a delayed recipient expires; written for
	// ActionDelayed only, zero omits it.
	WillRetryUntil time.Time
}

// Report is a whole delivery status notification.
type Report struct {
	// ReportingMTA is this host's name (Reporting-MTA: dns; <name>).
	ReportingMTA string
	// EnvelopeID is the ENVID given at injection, xtext-decoded; "" if none.
	EnvelopeID string
	// ArrivalDate is when the original message was received; zero omits it.
	ArrivalDate time.Time
	// From is the address of the DSN's From: header ("Name <addr>" is
	// accepted, the name replaced); Build defaults it to
	// "MAILER-DAEMON@" + ReportingMTA. It is not the envelope sender, which
	// is always null (<>) for a DSN.
	From string
	// To is the original envelope sender, to whom the DSN goes.
	To string
	// Recipients are the recipients reported on; at least one.
	Recipients []Recipient
	// OriginalHeaders is the header block of the original message, returned
	// for RET=HDRS (the default) as text/rfc822-headers.
	OriginalHeaders []byte
	// OriginalMessage is the whole original message for RET=FULL, returned
	// as message/rfc822; when set, OriginalHeaders is ignored. nil otherwise.
	OriginalMessage []byte
	// Now is the DSN's Date:; required, as the package reads no clock.
	Now time.Time
	// MessageID is the DSN's Message-ID, with or without angle brackets;
	// when "", Build derives one from a hash of the report, so that the
	// same report always gets the same ID. Parse returns the header's
	// value as it is (with its angle brackets).
	MessageID string
	// Heuristic is set by ParseText (and ParseAny when it falls back to
	// it): the recipients were read from the free text of a bounce, not
	// from a delivery-status part, and are a best guess. Each such
	// Recipient has a Final address, an Action of ActionFailed or
	// ActionDelayed (from the wording of the text), and a Status that is
	// the enhanced code quoted in the text, or only a class ("5.0.0",
	// "4.0.0") taken from the basic reply code or, when the text gives no
	// code, from the Action. Build ignores it.
	Heuristic bool
}

var statusRE = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)

// validAction reports whether a is one of the RFC 3464 actions.
func validAction(a string) bool {
	switch a {
	case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
		return true
	}
	return false
}

// validate checks what Build needs and returns a user-facing error.
func (r *Report) validate() error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: nil report", ErrInvalid)
	case r.ReportingMTA == "" || strings.ContainsAny(r.ReportingMTA, " \t\r\n;<>"):
		return fmt.Errorf("%w: reporting MTA %q must be a host name", ErrInvalid, r.ReportingMTA)
	case isNullSender(r.To):
		return fmt.Errorf("%w: no DSN is sent to the null sender", ErrInvalid)
	case strings.ContainsAny(r.To, "\r\n<>") || strings.ContainsAny(r.From, "\r\n"):
		return fmt.Errorf("%w: From %q / To %q contain line breaks or brackets", ErrInvalid, r.From, r.To)
	case r.Now.IsZero():
		return fmt.Errorf("%w: Now is zero: pass the time the DSN is made", ErrInvalid)
	case len(r.Recipients) == 0:
		return fmt.Errorf("%w: no recipients", ErrInvalid)
	}
	for i, rc := range r.Recipients {
		if rc.Final == "" || strings.ContainsAny(rc.Final, "\r\n") {
			return fmt.Errorf("%w: recipient %d: final recipient %q is empty or has a line break", ErrInvalid, i, rc.Final)
		}
		if !validAction(strings.ToLower(rc.Action)) {
			return fmt.Errorf("%w: recipient %s: action %q is not failed, delayed, delivered, relayed or expanded", ErrInvalid, rc.Final, rc.Action)
		}
		if !statusRE.MatchString(rc.Status) {
			return fmt.Errorf("%w: recipient %s: status %q is not an enhanced status code like 5.1.1", ErrInvalid, rc.Final, rc.Status)
		}
	}
	return nil
}

// isNullSender reports whether addr is the null reverse-path.
func isNullSender(addr string) bool {
	a := strings.TrimSpace(addr)
	return a == "" || a == "<>"
}

// subject picks the Subject: by the most severe action in r.
func (r *Report) subject() string {
	delayed := false
	for _, rc := range r.Recipients {
		switch strings.ToLower(rc.Action) {
		case ActionFailed:
			return SubjectFailed
		case ActionDelayed:
			delayed = true
		}
	}
	if delayed {
		return SubjectDelayed
	}
	return SubjectDelivered
}
