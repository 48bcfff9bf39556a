package pools

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func members121() []Member {
	return []Member{{VMTA: "ip2", Weight: 1}, {VMTA: "ip3", Weight: 2}, {VMTA: "ip4", Weight: 1}}
}

func mustNew(t testing.TB, ms []Member) *Pool {
	t.Helper()
	p, err := New("default", ms)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// eligibleExcept makes every vmta eligible except the named ones.
type eligibleExcept map[string]bool

func (e eligibleExcept) Eligible(vmta, _ string) bool { return !e[vmta] }

func TestNew_RejectsBadMembers(t *testing.T) {
	tests := []struct {
		name    string
		pool    string
		members []Member
		wantErr string
	}{
		{"empty name", "", members121(), "name required"},
		{"no members", "p", nil, "pool p: invalid pool: no members"},
		{"zero weight", "p", []Member{{"ip2", 0}}, "members[0] (ip2): invalid pool: weight 0 outside 1..1000000"},
		{"negative weight", "p", []Member{{"ip2", 1}, {"ip3", -1}}, "members[1] (ip3)"},
		{"weight too large", "p", []Member{{"ip2", MaxWeight + 1}}, "outside"},
		{"empty vmta", "p", []Member{{"", 1}}, "members[0]: invalid pool: vmta name required"},
		{"duplicate vmta", "p", []Member{{"ip2", 1}, {"ip3", 1}, {"ip2", 2}}, "members[2]: invalid pool: vmta ip2 already listed as members[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.pool, tt.members)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNew_CopiesMembers(t *testing.T) {
	ms := members121()
	p := mustNew(t, ms)
	ms[0].VMTA = "changed"
	if got := p.Members()[0].VMTA; got != "ip2" {
		t.Fatalf("pool saw the caller's edit: %s", got)
	}
	if !p.Has("ip3") || p.Has("ip9") || p.Name() != "default" {
		t.Fatal("Has/Name disagree with the configuration")
	}
}

func TestPick_Weights121Over8000_ExactSplit(t *testing.T) {
	p := mustNew(t, members121())
	counts := map[string]int{}
	for range 8000 {
		v, ok := p.Pick("site", nil)
		if !ok {
			t.Fatal("Pick() not ok")
		}
		counts[v]++
	}
	want := map[string]int{"ip2": 2000, "ip3": 4000, "ip4": 2000}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("counts = %v, want %v", counts, want)
	}
}

func TestPick_Weights121_SmoothNoTripleRuns(t *testing.T) {
	p := mustNew(t, members121())
	var seq []string
	for range 400 {
		v, _ := p.Pick("site", nil)
		seq = append(seq, v)
	}
	if got := strings.Join(seq[:4], " "); got != "ip3 ip2 ip4 ip3" {
		t.Errorf("first cycle = %s, want ip3 ip2 ip4 ip3", got)
	}
	for i := 2; i < len(seq); i++ {
		if seq[i] == seq[i-1] && seq[i] == seq[i-2] {
			t.Fatalf("%s picked 3 times in a row at %d: %v", seq[i], i, seq[i-2:i+1])
		}
	}
}

func TestPick_DisabledMember_SkippedOthersKeepRatio(t *testing.T) {
	p := mustNew(t, members121())
	el := eligibleExcept{"ip3": true}
	counts := map[string]int{}
	for range 1000 {
		v, ok := p.Pick("site", el)
		if !ok {
			t.Fatal("Pick() not ok")
		}
		counts[v]++
	}
	if counts["ip3"] != 0 || counts["ip2"] != 500 || counts["ip4"] != 500 {
		t.Fatalf("counts = %v, want ip2 500, ip4 500, ip3 0", counts)
	}
}

func TestPick_MemberReturns_NoBurstFromSavedCredit(t *testing.T) {
	p := mustNew(t, members121())
	off := eligibleExcept{"ip3": true}
	for range 1001 { // odd: leaves ip2/ip4 credits unequal
		p.Pick("site", off)
	}
	// Back in: over the next full cycles the 1:2:1 ratio holds exactly.
	counts := map[string]int{}
	for range 4 * 100 {
		v, _ := p.Pick("site", nil)
		counts[v]++
	}
	for v, want := range map[string]int{"ip2": 100, "ip3": 200, "ip4": 100} {
		if d := counts[v] - want; d < -1 || d > 1 {
			t.Errorf("%s picked %d times, want %d±1", v, counts[v], want)
		}
	}
}

func TestPick_SiteIsPassedToEligibility(t *testing.T) {
	p := mustNew(t, members121())
	// ip2 is suspended for gmail only.
	el := Checks{Suspended: func(v, site string) bool { return v == "ip2" && site == "gmail" }}
	for range 100 {
		if v, _ := p.Pick("gmail", el); v == "ip2" {
			t.Fatal("suspended ip2 picked for gmail")
		}
	}
	seen := false
	for range 4 {
		v, _ := p.Pick("yahoo", el)
		seen = seen || v == "ip2"
	}
	if !seen {
		t.Fatal("ip2 never picked for yahoo, where it is not suspended")
	}
}

func TestPick_AllIneligible_NotOK(t *testing.T) {
	p := mustNew(t, members121())
	v, ok := p.Pick("site", eligibleExcept{"ip2": true, "ip3": true, "ip4": true})
	if ok || v != "" {
		t.Fatalf("Pick() = %q, %v; want \"\", false", v, ok)
	}
}

type headroom map[string]bool

func (h headroom) HasHeadroom(vmta, _ string) bool { return h[vmta] }

func TestChecks_EachCheckExcludes(t *testing.T) {
	c := Checks{
		Disabled:  func(v string) bool { return v == "off" },
		Suspended: func(v, s string) bool { return v == "susp" && s == "gmail" },
		Headroom:  headroom{"off": true, "susp": true, "ok": true},
	}
	tests := []struct {
		vmta, site string
		want       bool
	}{
		{"ok", "gmail", true},
		{"off", "gmail", false},
		{"susp", "gmail", false},
		{"susp", "yahoo", true},
		{"cold", "gmail", false}, // no headroom
	}
	for _, tt := range tests {
		if got := c.Eligible(tt.vmta, tt.site); got != tt.want {
			t.Errorf("Eligible(%s, %s) = %v, want %v", tt.vmta, tt.site, got, tt.want)
		}
	}
	if !(Checks{}).Eligible("any", "site") {
		t.Error("zero Checks must make every member eligible")
	}
}

func TestPick_ConcurrentPicks_ExactTotals(t *testing.T) {
	p := mustNew(t, members121())
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			local := map[string]int{}
			for range 1000 {
				v, _ := p.Pick("site", eligibleExcept{})
				local[v]++
			}
			mu.Lock()
			for k, n := range local {
				counts[k] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts["ip2"] != 2000 || counts["ip3"] != 4000 || counts["ip4"] != 2000 {
		t.Fatalf("counts = %v, want 2000/4000/2000", counts)
	}
}

func TestPick_ManyMembers_BeyondStackBuffer(t *testing.T) {
	var ms []Member
	for i := range stackMembers + 10 {
		ms = append(ms, Member{VMTA: fmt.Sprintf("ip%d", i), Weight: 1})
	}
	p := mustNew(t, ms)
	seen := map[string]bool{}
	for range len(ms) {
		v, _ := p.Pick("site", nil)
		seen[v] = true
	}
	if len(seen) != len(ms) {
		t.Fatalf("one cycle picked %d distinct members, want %d", len(seen), len(ms))
	}
}

func TestPick_NoAllocation(t *testing.T) {
	p := mustNew(t, members121())
	var el Eligibility = eligibleExcept{"ip4": true}
	if n := testing.AllocsPerRun(1000, func() { p.Pick("site", el) }); n != 0 {
		t.Fatalf("Pick allocates %v times per call", n)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 32} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			var ms []Member
			for i := range n {
				ms = append(ms, Member{VMTA: fmt.Sprintf("ip%d", i), Weight: 1 + i%3})
			}
			p := mustNew(b, ms)
			var el Eligibility = eligibleExcept{"ip1": true}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p.Pick("gmail", el)
				}
			})
		})
	}
}
