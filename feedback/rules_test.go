package feedback

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultRules_ParseAndHaveEveryGroup(t *testing.T) {
	r, err := ParseRules(defaultRulesYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gmail", "microsoft", "yahoo", "apple", "gmx", "orange", "mailru", GroupOther}
	if got := strings.Join(r.Groups(), ","); got != strings.Join(want, ",") {
		t.Errorf("groups = %s, want %s", got, strings.Join(want, ","))
	}
	for _, g := range r.groups {
		for _, rule := range g.rules {
			if rule.Source == "" {
				t.Errorf("%s line %d: rule without a source", g.name, rule.Line)
			}
		}
	}
}

func TestRules_Group_ByMXHost(t *testing.T) {
	r := DefaultRules()
	tests := []struct {
		mx   []string
		want string
	}{
		{[]string{"aspmx.l.google.com."}, "gmail"},
		{[]string{"ALT1.ASPMX.L.GOOGLE.COM"}, "gmail"},
		{[]string{"gmail-smtp-in.l.googlemail.com"}, "gmail"},
		{[]string{"example-com.mail.protection.outlook.com"}, "microsoft"},
		{[]string{"hotmail-com.olc.protection.outlook.com"}, "microsoft"},
		{[]string{"mta5.am0.yahoodns.net"}, "yahoo"},
		{[]string{"mx-aol.mail.gm0.yahoodns.net"}, "yahoo"},
		{[]string{"mx01.mail.icloud.com"}, "apple"},
		{[]string{"mx00.gmx.net"}, "gmx"},
		{[]string{"mx-ha03.web.de"}, "gmx"},
		{[]string{"smtp-in.orange.fr"}, "orange"},
		{[]string{"mxs.mail.ru"}, "mailru"},
		{[]string{"mx.example.org", "mx2.google.com"}, "gmail"},
		{[]string{"google.com"}, GroupOther},
		{[]string{"mx.notgoogle.com"}, GroupOther},
		{nil, GroupOther},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.mx, ","), func(t *testing.T) {
			if got := r.Group(tt.mx...); got != tt.want {
				t.Errorf("Group(%v) = %q, want %q", tt.mx, got, tt.want)
			}
		})
	}
}

func TestParseRules_BadInput_NamesTheLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"bad regexp", "groups:\n  - name: x\n    rules:\n      - pattern: 'a(b'\n        category: quota\n", "line 4"},
		{"unknown key", "groups:\n  - name: x\n    rulez: []\n", "line 3"},
		{"unknown top-level key", "groupz: []\n", "line 1"},
		{"unknown category", "groups:\n  - name: x\n    rules:\n      - pattern: a\n        category: nope\n", "line 5: group x: unknown category"},
		{"unknown action", "groups:\n  - name: x\n    rules:\n      - pattern: a\n        action: explode\n        duration: 1h\n", "line 5: group x: unknown action"},
		{"action without duration", "groups:\n  - name: x\n    rules:\n      - pattern: a\n        action: suspend\n", "line 5: group x: action suspend needs a duration"},
		{"duration without action", "groups:\n  - name: x\n    rules:\n      - pattern: a\n        category: quota\n        duration: 1h\n", "line 6"},
		{"bad duration", "groups:\n  - name: x\n    rules:\n      - pattern: a\n        action: suspend\n        duration: soon\n", "line 6: group x: bad duration"},
		{"rule with nothing to say", "groups:\n  - name: x\n    rules:\n      - pattern: a\n", "line 4: group x: a rule needs a category"},
		{"rule without pattern", "groups:\n  - name: x\n    rules:\n      - category: quota\n", "line 4: group x: a rule needs a pattern"},
		{"group without name", "groups:\n  - mx: ['*.a.test']\n    rules:\n      - pattern: a\n        category: quota\n", "a group needs a name"},
		{"duplicate group", "groups:\n  - name: x\n  - name: x\n", "line 3: group \"x\" already defined on line 2"},
		{"bad mx pattern", "groups:\n  - name: x\n    mx: ['a.*.test']\n", "line 3: group x: MX pattern"},
		{"list where a value belongs", "groups:\n  - name: [x]\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseRules_Empty_IsNoRules(t *testing.T) {
	r, err := ParseRules(nil)
	if err != nil || len(r.Groups()) != 0 {
		t.Fatalf("ParseRules(nil) = %v, %v", r.Groups(), err)
	}
	if got := r.Group("aspmx.l.google.com"); got != GroupOther {
		t.Errorf("Group = %q", got)
	}
}

func TestRules_Extend_UserRulesComeFirst(t *testing.T) {
	user, err := ReadRules(strings.NewReader(`
groups:
  - name: gmail
    rules:
      - pattern: 'unusual rate of unsolicited mail'
        category: spam-related
        action: suspend
        duration: 2h
        source: ops decision 2026-11
  - name: seznam
    mx: ['*.seznam.cz']
    rules:
      - pattern: 'IP address has bad reputation'
        category: spam-related
  - name: other
    rules:
      - pattern: 'custom greylist text'
        category: transient
`))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultRules()
	before := len(def.Rules("gmail"))
	r := def.Extend(user)
	if len(def.Rules("gmail")) != before {
		t.Fatal("Extend modified the default rules")
	}
	if got := r.Groups(); got[0] != "gmail" || got[1] != "seznam" || got[len(got)-1] != GroupOther {
		t.Errorf("groups = %v, want user groups first and other last", got)
	}
	if got := r.Group("mx1.seznam.cz"); got != "seznam" {
		t.Errorf("Group(seznam) = %q", got)
	}
	if got := r.Group("aspmx.l.google.com"); got != "gmail" {
		t.Errorf("Group(google) = %q: default MX patterns lost", got)
	}
	gmail := Reply{421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail originating from your IP address.", false}
	_, act := Decide("gmail", gmail, r, time.Unix(0, 0))
	if act == nil || act.Kind != ActionSuspend || act.Duration != 2*time.Hour {
		t.Errorf("user rule did not win: %+v", act)
	}
	if got := Classify(Reply{450, "", "custom greylist text", false}, r); got != CategoryTransient {
		t.Errorf("user other rule: %q", got)
	}
	if got := Classify(Reply{550, "", "user unknown", false}, r); got != CategoryBadMailbox {
		t.Errorf("default other rules lost: %q", got)
	}
}

func TestRules_Nil_IsSafe(t *testing.T) {
	var r *Rules
	if r.Group("x") != GroupOther || r.Groups() != nil || r.Rules("gmail") != nil {
		t.Error("nil Rules misbehaves")
	}
	if got := r.Extend(DefaultRules()).Group("aspmx.l.google.com"); got != "gmail" {
		t.Errorf("nil.Extend(default).Group = %q", got)
	}
}
