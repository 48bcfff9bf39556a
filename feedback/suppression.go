package feedback

import (
	"slices"
	"strings"
	"time"
)

// Suppression is a list of recipients never to mail again, each global or
// scoped to a sender domain or tenant. Addresses are compared lower-cased
// (local parts are case-sensitive in theory and never in practice).
//
// It is the in-memory index; the engine owns persistence (loads the list
// from the spool, writes each change there) and the locking: a Suppression
// is not safe for concurrent use.
type Suppression struct {
	m map[suppressionKey]SuppressionEntry
}

type suppressionKey struct{ scope, addr string }

// SuppressionEntry is one suppressed recipient.
type SuppressionEntry struct {
	// Address is the recipient, lower-cased.
	Address string
	// Scope is "" for every sender, else the sender domain or tenant it
	// applies to (lower-cased).
	Scope string
	// Reason says why: "complaint", "bad-mailbox", "manual", an import's name.
	Reason string
	// Source names what caused it (an FBL report's Message-ID, an operator).
	Source string
	// At is when it was added.
	At time.Time
}

// NewSuppression returns an empty list.
func NewSuppression() *Suppression {
	return &Suppression{m: map[suppressionKey]SuppressionEntry{}}
}

// NormalizeAddress is the form Suppression keys addresses by: trimmed, angle
// brackets removed, lower case.
func NormalizeAddress(addr string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
}

// Add suppresses e.Address in e.Scope, replacing an entry already there.
// It reports false (and adds nothing) for an empty address.
func (s *Suppression) Add(e SuppressionEntry) bool {
	e.Address, e.Scope = NormalizeAddress(e.Address), strings.ToLower(strings.TrimSpace(e.Scope))
	if e.Address == "" {
		return false
	}
	s.m[suppressionKey{e.Scope, e.Address}] = e
	return true
}

// Contains reports whether addr is suppressed for mail in scope: globally,
// or in scope itself.
func (s *Suppression) Contains(scope, addr string) bool {
	_, ok := s.Lookup(scope, addr)
	return ok
}

// Lookup returns the entry that suppresses addr for mail in scope: the
// global one first, else the scope's.
func (s *Suppression) Lookup(scope, addr string) (SuppressionEntry, bool) {
	addr = NormalizeAddress(addr)
	if e, ok := s.m[suppressionKey{"", addr}]; ok {
		return e, true
	}
	scope = strings.ToLower(strings.TrimSpace(scope))
	if scope == "" {
		return SuppressionEntry{}, false
	}
	e, ok := s.m[suppressionKey{scope, addr}]
	return e, ok
}

// Remove lifts the entry for addr in exactly scope ("" the global one) and
// reports whether there was one.
func (s *Suppression) Remove(scope, addr string) bool {
	k := suppressionKey{strings.ToLower(strings.TrimSpace(scope)), NormalizeAddress(addr)}
	_, ok := s.m[k]
	delete(s.m, k)
	return ok
}

// Len returns the number of entries.
func (s *Suppression) Len() int { return len(s.m) }

// List returns every entry, sorted by scope then address.
func (s *Suppression) List() []SuppressionEntry {
	out := make([]SuppressionEntry, 0, len(s.m))
	for _, e := range s.m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b SuppressionEntry) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	return out
}
