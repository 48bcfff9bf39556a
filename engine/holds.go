package engine

import (
	"sync"
	"time"

	"github.com/sluice-mta/sluice/engine/queue"
)

// holds are the queues held until a time: by warm-up (a cap reached, plan
// overflow: hold) and by feedback actions (suspend, disable-source-ip with
// no other member to take the mail). The dispatcher and scheduleHead keep a
// held queue off the schedule until its time.
type holds struct {
	mu    sync.Mutex
	until map[queue.Key]time.Time
}

// heldUntil returns when k's hold ends, or the zero time.
func (h *holds) heldUntil(k queue.Key, now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.until[k]
	if ok && !now.Before(t) {
		delete(h.until, k)
		return time.Time{}
	}
	return t
}

func (h *holds) hold(k queue.Key, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.until == nil {
		h.until = map[queue.Key]time.Time{}
	}
	if until.After(h.until[k]) {
		h.until[k] = until
	}
}

// clear lifts every hold of vmta ("" for all): after an operator's
// warm-up change, a lifted action or a reload the reasons have changed.
func (h *holds) clear(vmta string) []queue.Key {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []queue.Key
	for k := range h.until {
		if vmta == "" || k.VMTA == vmta {
			delete(h.until, k)
			out = append(out, k)
		}
	}
	return out
}
