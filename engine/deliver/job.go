package deliver

import (
	"net/netip"

	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
)

// Job is one transaction to send: one message to some of its recipients at
// one site.
type Job struct {
	// VMTA names the virtual MTA the mail leaves from.
	VMTA string
	// Source is the vmta's source IP; the zero Addr lets the kernel choose.
	Source netip.Addr
	// HELO is the name the vmta greets with.
	HELO string
	// Plan lists the hosts to try, in order.
	Plan *mx.Plan
	// Tx is the transaction. Its Body is read once.
	Tx client.Transaction
	// Done receives the outcome, exactly once, from the connection's
	// goroutine. It must not block for long.
	Done func(*Result)
	// Limits, when set, are the limits of the (vmta, site) pool this job
	// opens if it is the first; an existing pool keeps its own (a reload
	// changes them through Pool.Reconfigure). Nil: Options.Limits or defaults.
	Limits *Limits
	// Scope splits one (vmta, site) into separately limited pools, for
	// domains that shaping rules put under different limits ("" = one pool).
	Scope string
	// TLS overrides the pool's STARTTLS policy for this job's site; nil keeps it.
	TLS *client.TLSPolicy
}

// Result is the outcome of a Job.
type Result struct {
	// Replies has one reply per recipient of Job.Tx.To, in order: the
	// receiver's, or one made up locally for a connection failure.
	Replies []client.Reply
	// Host and IP are the MX host and address that answered ("" when none
	// was reached).
	Host, IP string
	// TLS reports whether the transaction ran over TLS.
	TLS bool
	// Err is the connection-level failure, if any (then every reply is a
	// local temporary failure).
	Err error
}

// Delivered reports whether recipient i got a 2xx after DATA.
func (r *Result) Delivered(i int) bool { return r.Replies[i].Positive() }

// failAll makes a Result giving every recipient the same local reply.
func failAll(n int, reply client.Reply, err error) *Result {
	res := &Result{Replies: make([]client.Reply, n), Err: err}
	for i := range res.Replies {
		res.Replies[i] = reply
	}
	return res
}
