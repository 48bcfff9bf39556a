// Package queue decides which (vmta, domain) queue the engine reads next.
//
// The spool holds the truth: one key per pending recipient, each queue's keys
// in due order. This package holds one small entry per queue, never one per
// recipient, so a backlog of millions of deferred recipients costs its
// queues' entries here and nothing more.
//
// # Algorithm
//
//	entries: map[Key]*entry; heap: the unpaused entries with a due time, by due
//	Schedule(k, due): entry(k).due = min(entry.due, due); fix heap; wake Next
//	Next(ctx):
//	    loop:
//	        top := heap.min
//	        if top == nil: wait for a Schedule or ctx
//	        if top.due > clock.Now(): wait until top.due (clock timer), a Schedule, or ctx
//	        else: pop top (its due is cleared) and return its key
//
// The caller (the engine's dispatcher) reads a batch from the head of the
// popped queue and, once the batch is handed on, schedules the queue again
// at the spool's next due time for it. A queue whose due time is in the
// future sits in the heap untouched until then: no polling, no scans.
//
// Fairness: the heap orders queues by due time, and a queue is popped once
// per batch, so a queue with a million due recipients takes turns with a
// queue of one; within a queue the spool's key order (due time) puts new mail
// (due now) beside retries that are due, never behind retries still waiting.
//
// Rejected designs: scanning the whole queue on a tick (maddy's retry timer)
// does not scale to millions of deferred recipients; a timer per recipient
// costs memory per recipient; a timer wheel would suit millions of queues,
// but queues number in the thousands to hundreds of thousands, where a heap's
// O(log n) is cheap and exact.
//
// Time comes from a Clock so that retry and expiry tests run on simulated
// time, without sleeps.
package queue
