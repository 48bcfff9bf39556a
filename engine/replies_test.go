package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/queue"
)

func TestReasonOf_MasksAddressesAndNumbers(t *testing.T) {
	for _, c := range []struct {
		reply client.Reply
		want  string
	}{
		{client.Reply{Code: 451, Enhanced: "4.7.1", Text: "<defer3@slow.test>: Try again later"}, "451 4.7.1 <…>: Try again later"},
		{client.Reply{Code: 550, Enhanced: "5.1.1", Text: "user ann@x.test unknown"}, "550 5.1.1 user <…> unknown"},
		{client.Reply{Code: 421, Enhanced: "4.7.0", Text: "[127.0.0.2] rate limited, see id 5F3A9C21B0"}, "421 4.7.0 [#.#.#.#] rate limited, see id #"},
		{client.Reply{Code: 452, Text: "Too many recipients in 30 seconds"}, "452 Too many recipients in # seconds"},
	} {
		if got := reasonOf(c.reply); got != c.want {
			t.Errorf("reasonOf(%q) = %q, want %q", c.reply.String(), got, c.want)
		}
	}
}

// TestReplyLog_RecentAndTopReasons: a queue keeps its last replies newest
// first (a run of equal replies is one line), failures are counted by
// reason, most frequent first, and the reasons stay bounded.
func TestReplyLog_RecentAndTopReasons(t *testing.T) {
	e := &Engine{}
	l := &e.replies
	k := queue.Key{VMTA: "ip2", Domain: "slow.test"}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ok := client.Reply{Code: 250, Text: "ok"}
	later := client.Reply{Code: 451, Enhanced: "4.7.1", Text: "<a@slow.test>: Try again later"}
	gone := client.Reply{Code: 550, Enhanced: "5.1.1", Text: "<b@slow.test>: User unknown"}
	l.record(k, "mx.slow.test", []client.Reply{ok, ok, later}, "mx.slow.test", now)
	l.record(k, "", []client.Reply{gone, later, later}, "", now.Add(time.Second))
	recent, site := l.recent(k)
	if site != "mx.slow.test" {
		t.Errorf("site %q, want the last job's that had one", site)
	}
	want := []string{"451 4.7.1 <a@slow.test>: Try again later/2", "550 5.1.1 <b@slow.test>: User unknown/1",
		"451 4.7.1 <a@slow.test>: Try again later/1", "250 ok/2"}
	if len(recent) != len(want) {
		t.Fatalf("recent: %+v", recent)
	}
	for i, r := range recent {
		if got := fmt.Sprintf("%s/%d", r.Reply, r.Recipients); got != want[i] {
			t.Errorf("recent[%d] = %s, want %s", i, got, want[i])
		}
	}
	top := e.TopReasons("", 0)
	if len(top) != 2 || top[0].Count != 3 || top[0].Outcome != "deferred" || top[1].Outcome != "bounced" || top[1].Count != 1 {
		t.Fatalf("top reasons: %+v", top)
	}
	if only := e.TopReasons("bounced", 0); len(only) != 1 || only[0].Reason != "550 5.1.1 <…>: User unknown" {
		t.Fatalf("bounce reasons: %+v", only)
	}
	for i := range maxReasons + 10 {
		e.replies.record(k, "", []client.Reply{{Code: 450, Text: fmt.Sprintf("reason %c%c", 'a'+i%26, 'a'+i/26)}}, "", now)
	}
	if n := len(e.TopReasons("", 0)); n != maxReasons {
		t.Fatalf("%d reasons kept, want the bound %d", n, maxReasons)
	}
	if e.TopReasons("", 1)[0].Count != 3 {
		t.Fatal("eviction dropped the most frequent reason")
	}
	if n := len(e.replies.queues[k].recent); n != lastReplies {
		t.Fatalf("%d recent replies kept, want %d", n, lastReplies)
	}
}
