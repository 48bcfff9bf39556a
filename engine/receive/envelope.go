package receive

import (
	"context"
	"net/netip"
)

// Envelope is one accepted transaction as handed to the Submitter.
type Envelope struct {
	// From is the MAIL FROM reverse-path; "" for the null sender "<>".
	From string
	// To lists the RCPT TO addresses, in the order given.
	To []string
	// ClientIP is the injecting client's address.
	ClientIP netip.Addr
	// HELO is the name the client gave in EHLO/HELO.
	HELO string
	// AuthUser is the authenticated user name; "" when not authenticated
	// (the client was then in Config.RelayNetworks).
	AuthUser string
	// TLS reports whether the transaction ran over STARTTLS.
	TLS bool
	// VMTA, Pool and Campaign are the values of the X-Sluice-VMTA,
	// X-Sluice-Pool and X-Sluice-Campaign headers ("" when absent); those
	// headers have been removed from the body. Their validity is the
	// Submitter's business.
	VMTA, Pool, Campaign string
	// UTF8 reports that the client asked for SMTPUTF8.
	UTF8 bool
	// Body8Bit reports BODY=8BITMIME.
	Body8Bit bool
	// DSNRet and EnvID are MAIL's RET= ("FULL", "HDRS") and ENVID= (RFC 3461).
	DSNRet, EnvID string
	// Notify and ORcpt are each RCPT's NOTIFY= (comma-separated keywords) and
	// ORCPT= address, index-aligned with To; nil when no RCPT carried either.
	Notify, ORcpt []string
	// ReceivedID is the id this server wrote into the message's Received:
	// header (and logs); the Submitter may adopt it as its queue ID.
	ReceivedID string
}

// Healther is an optional interface of a Submitter. While Healthy returns
// an error (the store is failing), each new connection is answered
// "421 4.3.0" at the greeting and closed; it is called at every accept, so
// it must be cheap.
type Healther interface {
	Healthy() error
}

// Submitter is what the listener hands accepted mail to (the engine
// implements it). Both methods are called concurrently from many sessions.
type Submitter interface {
	// Accepting reports whether new mail may be accepted now; it is called at
	// every MAIL FROM. A non-nil error refuses the transaction: a
	// *smtp.SMTPError is sent as is (e.g. 452 4.3.1 for low disk space), any
	// other error as "451 4.3.0".
	Accepting() error
	// Submit stores the message durably and returns its queue ID; it returns
	// only once the message is durable. body is the complete message with
	// this server's headers added and CRLF line endings only. A
	// *smtp.SMTPError is sent as is; any other error is answered
	// "451 4.3.0 Requested action aborted: local error in processing" and
	// nothing is acknowledged. ctx is cancelled only when Shutdown gives up.
	Submit(ctx context.Context, env *Envelope, body []byte) (id string, err error)
}
