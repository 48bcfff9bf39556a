package engine

import (
	"cmp"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/queue"
)

// What receivers said lately, for the monitor: the last few replies of
// each (vmta, domain) queue, and the failure replies counted by reason
// (the reply with addresses and numbers masked, so one receiver's "try
// again later" is one reason however many recipients and queue IDs it
// names). Both are bounded: lastReplies entries per queue, maxReasons
// reasons (the least frequent goes first), maxReplyQueues queues.

const (
	lastReplies    = 8
	maxReasons     = 512
	maxReplyQueues = 20_000
)

// ReplyInfo is one reply a queue got.
type ReplyInfo struct {
	Time       time.Time `json:"time"`
	Outcome    string    `json:"outcome"` // delivered, deferred or bounced
	Reply      string    `json:"reply"`
	Host       string    `json:"host,omitempty"`
	Recipients int       `json:"recipients"` // of the job that got it
}

// Reason is a failure reply counted over every queue since start.
type Reason struct {
	Outcome string    `json:"outcome"` // deferred or bounced
	Reason  string    `json:"reason"`  // the reply, addresses and numbers masked
	Count   int64     `json:"count"`   // recipients
	Last    time.Time `json:"last"`
	// VMTA and Domain are the queue that saw it last.
	VMTA   string `json:"vmta"`
	Domain string `json:"domain"`
}

// queueReplies is what one queue was told lately.
type queueReplies struct {
	site   string       // the deliver pool's site of the last job ("" when made up locally)
	recent []heardReply // newest last
}

// heardReply is a ReplyInfo as kept: the reply is formatted only when read.
type heardReply struct {
	time  time.Time
	reply client.Reply
	host  string
	n     int
}

type replyLog struct {
	mu      sync.Mutex
	queues  map[queue.Key]*queueReplies
	reasons map[[2]string]*Reason // {outcome, reason}
}

var (
	maskAddr   = regexp.MustCompile(`<?[^\s<>@]+@[^\s<>]+>?`)
	maskNumber = regexp.MustCompile(`\b[0-9A-Fa-f]*[0-9][0-9A-Fa-f]{5,}\b|\b\d+\b`)
)

// reasonOf is reply's text with addresses and numbers masked, the codes kept.
func reasonOf(r client.Reply) string {
	t := maskAddr.ReplaceAllString(r.Text, "<…>")
	t = maskNumber.ReplaceAllString(t, "#")
	if len(t) > 160 {
		t = t[:160] + "…"
	}
	return client.Reply{Code: r.Code, Enhanced: r.Enhanced, Text: t}.String()
}

// record notes a finished job's replies: one entry in its queue's recent
// replies per distinct reply, and a count per failure reason.
func (l *replyLog) record(k queue.Key, site string, replies []client.Reply, host string, now time.Time) {
	if len(replies) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.queues == nil {
		l.queues, l.reasons = map[queue.Key]*queueReplies{}, map[[2]string]*Reason{}
	}
	q := l.queues[k]
	if q == nil {
		if len(l.queues) >= maxReplyQueues {
			clear(l.queues) // rare: a burst of new queues; the recent past starts again
		}
		q = &queueReplies{}
		l.queues[k] = q
	}
	if site != "" {
		q.site = site
	}
	recent := q.recent
	for i := 0; i < len(replies); {
		r := replies[i]
		j := i + 1
		for j < len(replies) && replies[j] == r {
			j++
		}
		n := j - i
		i = j
		recent = append(recent, heardReply{time: now, reply: r, host: host, n: n})
		if !r.Positive() {
			l.count(outcomeOf(r), reasonOf(r), n, k, now)
		}
	}
	if len(recent) > lastReplies {
		recent = slices.Clone(recent[len(recent)-lastReplies:])
	}
	q.recent = recent
}

func (l *replyLog) count(outcome, reason string, n int, k queue.Key, now time.Time) {
	key := [2]string{outcome, reason}
	r := l.reasons[key]
	if r == nil {
		if len(l.reasons) >= maxReasons {
			var least [2]string
			var min int64 = -1
			for rk, rv := range l.reasons {
				if min < 0 || rv.Count < min {
					least, min = rk, rv.Count
				}
			}
			delete(l.reasons, least)
		}
		r = &Reason{Outcome: outcome, Reason: reason}
		l.reasons[key] = r
	}
	r.Count += int64(n)
	r.Last, r.VMTA, r.Domain = now, k.VMTA, k.Domain
}

func outcomeOf(r client.Reply) string {
	switch {
	case r.Positive():
		return "delivered"
	case r.Permanent():
		return "bounced"
	}
	return "deferred"
}

// recent returns queue k's last replies, newest first, and the site of
// its last job.
func (l *replyLog) recent(k queue.Key) ([]ReplyInfo, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queues[k]
	if q == nil {
		return nil, ""
	}
	out := make([]ReplyInfo, len(q.recent))
	for i, h := range q.recent {
		out[len(out)-1-i] = ReplyInfo{Time: h.time, Outcome: outcomeOf(h.reply), Reply: h.reply.String(), Host: h.host, Recipients: h.n}
	}
	return out, q.site
}

// TopReasons returns the n most frequent failure reasons of outcome
// (deferred or bounced; "" for both) since start, most frequent first.
func (e *Engine) TopReasons(outcome string, n int) []Reason {
	e.replies.mu.Lock()
	out := make([]Reason, 0, len(e.replies.reasons))
	for _, r := range e.replies.reasons {
		if outcome == "" || r.Outcome == outcome {
			out = append(out, *r)
		}
	}
	e.replies.mu.Unlock()
	slices.SortFunc(out, func(a, b Reason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), b.Last.Compare(a.Last), cmp.Compare(a.Reason, b.Reason))
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
