package warmup

import (
	"errors"
	"testing"
)

func TestGroupsOf(t *testing.T) {
	g := Groups{
		"gmail":     {"*.google.com", "*.googlemail.com"},
		"microsoft": {"*.outlook.com"},
		"yahoo":     {"*.yahoodns.net"},
		"corp":      {"mx.example.com"},
	}
	tests := []struct {
		site, want string
	}{
		{"alt1.gmail-smtp-in.l.google.com,gmail-smtp-in.l.google.com", "gmail"},
		{"ALT1.ASPMX.L.GOOGLE.COM.", "gmail"},
		{"example-com.mail.protection.outlook.com", "microsoft"},
		{"mta5.am0.yahoodns.net,mta6.am0.yahoodns.net", "yahoo"},
		{"mx.example.com", "corp"},
		{"mx2.example.com", Other},
		{"google.com", Other}, // "*.google.com" needs a label before google.com
		{"evilgoogle.com", Other},
		{"mx.backup.net,aspmx.l.google.com", "gmail"}, // first matching host decides
		{"", Other},
		{",,", Other},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			if got := g.Of(tt.site); got != tt.want {
				t.Errorf("Of(%q) = %q, want %q", tt.site, got, tt.want)
			}
		})
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := DefaultGroups().Validate(); err != nil {
		t.Fatalf("DefaultGroups: %v", err)
	}
}

func TestGroupsValidate(t *testing.T) {
	tests := []struct {
		name  string
		g     Groups
		field string // "" for valid
	}{
		{"same pattern twice in one group", Groups{"a": {"*.x.com", "*.x.com"}}, ""},
		{"sub-domain wildcard of another group", Groups{"a": {"*.x.com"}, "b": {"*.mx.x.com"}}, "groups.b[0]"},
		{"host under another group's wildcard", Groups{"a": {"mx.x.com"}, "b": {"*.x.com"}}, "groups.b[0]"},
		{"same host in two groups", Groups{"a": {"mx.x.com"}, "b": {"MX.X.COM."}}, "groups.b[0]"},
		{"disjoint suffixes", Groups{"a": {"*.x.com"}, "b": {"*.yx.com"}}, ""},
		{"bare wildcard", Groups{"a": {"*"}}, "groups.a[0]"},
		{"inner wildcard", Groups{"a": {"mx.*.com"}}, "groups.a[0]"},
		{"empty label", Groups{"a": {"mx..com"}}, "groups.a[0]"},
		{"patterns on other", Groups{Other: {"*.x.com"}}, "groups.other"},
		{"empty other is fine", Groups{Other: nil}, ""},
		{"bad name", Groups{"G/1": {"*.x.com"}}, "groups.G/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.g.Validate()
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Fatalf("Validate() = %v, want an error for %s", err, tt.field)
			}
		})
	}
}
