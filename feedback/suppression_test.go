package feedback

import (
	"testing"
	"time"
)

func TestSuppression_AddContainsRemove(t *testing.T) {
	s := NewSuppression()
	at := time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)
	s.Add(SuppressionEntry{Address: " <Alice@Example.COM> ", Reason: "complaint", Source: "<fbl-1@yahoo.com>", At: at})
	s.Add(SuppressionEntry{Address: "bob@example.com", Scope: "Acme", Reason: "manual", At: at})
	if s.Add(SuppressionEntry{Address: "  "}) {
		t.Error("empty address added")
	}
	tests := []struct {
		name, scope, addr string
		want              bool
	}{
		{"global entry, any case, no scope", "", "alice@example.com", true},
		{"global entry applies in every scope", "other-tenant", "ALICE@example.com", true},
		{"scoped entry in its scope", "acme", "bob@example.com", true},
		{"scoped entry, scope case folded", "ACME", "Bob@Example.com", true},
		{"scoped entry outside its scope", "other-tenant", "bob@example.com", false},
		{"scoped entry without a scope", "", "bob@example.com", false},
		{"unknown address", "", "carol@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Contains(tt.scope, tt.addr); got != tt.want {
				t.Errorf("Contains(%q, %q) = %v, want %v", tt.scope, tt.addr, got, tt.want)
			}
		})
	}
	e, ok := s.Lookup("", "alice@example.com")
	if !ok || e.Reason != "complaint" || !e.At.Equal(at) || e.Address != "alice@example.com" {
		t.Errorf("Lookup = %+v, %v", e, ok)
	}
	if s.Remove("", "bob@example.com") {
		t.Error("Remove of a scoped entry from the global scope reported success")
	}
	if !s.Remove("acme", "BOB@example.com") || s.Contains("acme", "bob@example.com") {
		t.Error("Remove in scope failed")
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1", s.Len())
	}
}

func TestSuppression_List_SortedByScopeThenAddress(t *testing.T) {
	s := NewSuppression()
	for _, e := range []SuppressionEntry{
		{Address: "z@x.test"}, {Address: "a@x.test", Scope: "t2"}, {Address: "b@x.test"}, {Address: "a@x.test"},
	} {
		s.Add(e)
	}
	s.Add(SuppressionEntry{Address: "B@x.test", Reason: "again"}) // replaces
	var got []string
	for _, e := range s.List() {
		got = append(got, e.Scope+"/"+e.Address+"/"+e.Reason)
	}
	want := []string{"/a@x.test/", "/b@x.test/again", "/z@x.test/", "t2/a@x.test/"}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("List = %v, want %v", got, want)
		}
	}
}
