package warmup

import "slices"

// Entries returns every state the Tracker holds, sorted by vmta and group,
// for a full save (shutdown, reload). It clears the changed marks.
func (t *Tracker) Entries() []Entry { return t.collect(false) }

// Changed returns the states changed since the last Entries or Changed call,
// sorted by vmta and group. The engine writes them to the spool in the same
// batch as the delivery results they reflect, so after a crash the counters
// agree with the spool (see the package doc).
func (t *Tracker) Changed() []Entry { return t.collect(true) }

func (t *Tracker) collect(onlyDirty bool) []Entry {
	var out []Entry
	for _, vmta := range sortedKeys(t.vmtas) {
		v := t.vmtas[vmta]
		v.mu.Lock()
		for _, g := range sortedKeys(v.groups) {
			if !onlyDirty || v.dirty[g] {
				out = append(out, Entry{VMTA: vmta, Group: g, State: *v.groups[g]})
			}
		}
		clear(v.dirty)
		v.mu.Unlock()
	}
	return out
}

// Restore loads saved states (after a restart or into a reloaded Tracker),
// replacing any state held for the same pair. Entries of vmtas without a
// plan or of unknown groups are dropped and returned; steps past the end of
// a (changed) plan are clamped to it. Call it before the Tracker is shared.
func (t *Tracker) Restore(entries []Entry) (dropped []Entry) {
	for _, e := range entries {
		v := t.vmtas[e.VMTA]
		if v == nil || !t.knownGroup(e.Group) {
			dropped = append(dropped, e)
			continue
		}
		s := e.State
		s.Step = min(max(s.Step, 0), v.plan.Steps(e.Group))
		v.groups[e.Group] = &s
	}
	return slices.Clip(dropped)
}
