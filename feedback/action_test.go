package feedback

import (
	"strings"
	"testing"
	"time"
)

func TestDecide_PatternRules(t *testing.T) {
	now := time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		group    string
		r        Reply
		wantCat  Category
		wantKind ActionKind // "" for no action
		wantDur  time.Duration
	}{
		{"gmail 421-4.7.28 backs off for an hour", "gmail",
			Reply{421, "4.7.28", "[192.0.2.1      15] Our system has detected an unusual rate of\nunsolicited mail originating from your IP address. To protect our\nusers from spam, mail sent from your IP address has been temporarily\nrate limited. For more information, go to\nhttps://support.google.com/mail/?p=UnsolicitedRateLimitError", false},
			CategorySpamRelated, ActionBackoff, time.Hour},
		{"gmail 550-5.7.26 unauthenticated is policy without action", "gmail",
			Reply{550, "5.7.26", "This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.", false},
			CategoryPolicyRelated, "", 0},
		{"gmail 452-4.2.2 over quota is quota without action", "gmail",
			Reply{452, "4.2.2", "The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp", false},
			CategoryQuota, "", 0},
		{"gmail 550-5.7.1 low IP reputation disables the source IP", "gmail",
			Reply{550, "5.7.1", "[192.0.2.1] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address.", false},
			CategorySpamRelated, ActionDisableSourceIP, 4 * time.Hour},
		{"microsoft S3140 block list disables the source IP", "microsoft",
			Reply{550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", false},
			CategorySpamRelated, ActionDisableSourceIP, 6 * time.Hour},
		{"microsoft 451 4.7.500 server busy backs off", "microsoft",
			Reply{451, "4.7.500", "Server busy. Please try again later from [192.0.2.1]. (S77719) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]", false},
			CategoryTransient, ActionBackoff, 30 * time.Minute},
		{"microsoft 4.7.650 IP reputation rate limit backs off", "microsoft",
			Reply{451, "4.7.650", "The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)", false},
			CategorySpamRelated, ActionBackoff, time.Hour},
		{"yahoo TSS04 backs off", "yahoo",
			Reply{421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", false},
			CategorySpamRelated, ActionBackoff, time.Hour},
		{"yahoo TSS09 disables the source IP", "yahoo",
			Reply{421, "4.7.0", "[TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", false},
			CategorySpamRelated, ActionDisableSourceIP, 24 * time.Hour},
		{"yahoo 554 5.7.9 policy reasons", "yahoo",
			Reply{554, "5.7.9", "Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes", false},
			CategoryPolicyRelated, "", 0},
		{"orange too many connections backs off", "orange",
			Reply{421, "", "mwinf5c12 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR005_104 [104]", false},
			CategoryTransient, ActionBackoff, 30 * time.Minute},
		{"a rule of another group does not apply", "gmail",
			Reply{421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints", false},
			CategorySpamRelated, "", 0},
		{"unknown group falls back to other's rules", "nosuch",
			Reply{550, "", "No such user here", false},
			CategoryBadMailbox, "", 0},
		{"local reply never acts", "gmail",
			Reply{421, "4.7.28", "unusual rate of unsolicited mail", true},
			CategorySpamRelated, "", 0},
		{"success never acts", "gmail", Reply{250, "2.0.0", "OK unusual rate of unsolicited mail", false}, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, act := Decide(tt.group, tt.r, DefaultRules(), now)
			if cat != tt.wantCat {
				t.Errorf("category = %q, want %q", cat, tt.wantCat)
			}
			if tt.wantKind == "" {
				if act != nil {
					t.Errorf("action = %+v, want none", act)
				}
				return
			}
			if act == nil {
				t.Fatalf("no action, want %s", tt.wantKind)
			}
			if act.Kind != tt.wantKind || act.Duration != tt.wantDur || !act.Start.Equal(now) || !act.Expiry.Equal(now.Add(tt.wantDur)) {
				t.Errorf("action = %+v, want %s for %v from %v", act, tt.wantKind, tt.wantDur, now)
			}
			if !strings.Contains(act.Cause, tt.r.String()) || act.Group != tt.group {
				t.Errorf("cause %q / group %q do not name the reply and group", act.Cause, act.Group)
			}
		})
	}
}

func TestAction_ExpiresAtItsExpiry(t *testing.T) {
	now := time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)
	_, act := Decide("yahoo", Reply{421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred", false}, DefaultRules(), now)
	if act == nil {
		t.Fatal("no action")
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{now, false},
		{now.Add(59 * time.Minute), false},
		{now.Add(time.Hour), true},
		{now.Add(2 * time.Hour), true},
	} {
		if got := act.Expired(tc.at); got != tc.want {
			t.Errorf("Expired(+%v) = %v, want %v", tc.at.Sub(now), got, tc.want)
		}
	}
}

func TestActionKind_Valid(t *testing.T) {
	for _, k := range []ActionKind{ActionBackoff, ActionSuspend, ActionDisableSourceIP, ActionBounceAll} {
		if !k.Valid() {
			t.Errorf("%q not valid", k)
		}
	}
	if ActionKind("pause").Valid() {
		t.Error("pause reported valid")
	}
}
