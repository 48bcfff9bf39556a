package dsn

import "testing"

// Reliability row 25 (no DSN to <>).
func TestShouldNotify_DefaultIsFailureOnly_NeverAndNullSenderSuppress(t *testing.T) {
	tests := []struct {
		notify, action, from string
		want                 bool
	}{
		{"", ActionFailed, "s@x", true},
		{"", ActionDelayed, "s@x", false}, // default is FAILURE only
		{"", ActionDelivered, "s@x", false},
		{"NEVER", ActionFailed, "s@x", false},
		{"never", ActionFailed, "s@x", false},
		{"NEVER,FAILURE", ActionFailed, "s@x", false},
		{"SUCCESS", ActionFailed, "s@x", false},
		{"SUCCESS", ActionDelivered, "s@x", true},
		{"SUCCESS", ActionRelayed, "s@x", true},
		{"SUCCESS", ActionExpanded, "s@x", true},
		{"success, failure, delay", ActionDelayed, "s@x", true},
		{"DELAY", ActionFailed, "s@x", false},
		{"FAILURE,DELAY", ActionDelayed, "s@x", true},
		{"BOGUS", ActionFailed, "s@x", true}, // no known keyword: as if absent
		{"FAILURE", "unknown", "s@x", false},
		{"FAILURE", ActionFailed, "", false},
		{"FAILURE", ActionFailed, "<>", false},
		{"", ActionFailed, " <> ", false},
	}
	for _, tt := range tests {
		if got := ShouldNotify(tt.notify, tt.action, tt.from); got != tt.want {
			t.Errorf("ShouldNotify(%q, %q, %q) = %v, want %v", tt.notify, tt.action, tt.from, got, tt.want)
		}
	}
}
