package warmup

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	gmailSite = "alt1.gmail-smtp-in.l.google.com,gmail-smtp-in.l.google.com"
	otherSite = "mx.example.net"
)

// testTracker returns a Tracker with plan p and vmta "ip1" on it since now.
func testTracker(t *testing.T, p Plan, now time.Time) *Tracker {
	t.Helper()
	tr, err := NewTracker(Config{Plans: []Plan{p}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Assign("ip1", Assignment{Plan: p.Name}, now); err != nil {
		t.Fatal(err)
	}
	return tr
}

func status(t *testing.T, tr *Tracker, now time.Time, group string) GroupStatus {
	t.Helper()
	st, err := tr.Status(now, "ip1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Group == group {
			return s
		}
	}
	t.Fatalf("no status for group %s in %+v", group, st)
	return GroupStatus{}
}

func TestTracker_ManyConcurrentReservers_NeverExceedTheCap(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	tr := testTracker(t, Plan{Name: "p", Days: []int{5000}}, now)
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		granted, freed int
	)
	for w := range 100 {
		wg.Go(func() {
			g, f := 0, 0
			for i := 0; ; i++ {
				r, ok := tr.Reserve(now, "ip1", gmailSite, 1+(w+i)%17)
				if !ok {
					break
				}
				g += r.N
				if i%5 == 0 { // a connection failed before the receiver judged anything
					tr.Release(r, r.N)
					f += r.N
				}
				_ = tr.HasHeadroomAt(now, "ip1", gmailSite)
			}
			mu.Lock()
			granted, freed = granted+g, freed+f
			mu.Unlock()
		})
	}
	wg.Wait()
	s := status(t, tr, now, "gmail")
	if got := granted - freed; got != 5000 || s.Sent != 5000 || s.Headroom != 0 {
		t.Fatalf("granted-released = %d, status sent %d headroom %d; want exactly the cap 5000 and no headroom",
			got, s.Sent, s.Headroom)
	}
	if tr.HasHeadroomAt(now, "ip1", gmailSite) {
		t.Error("HasHeadroomAt = true at the cap")
	}
	// The other group has its own counter.
	if r, ok := tr.Reserve(now, "ip1", otherSite, 10); !ok || r.N != 10 || r.Group != Other {
		t.Errorf("Reserve for another group = %+v, %v; want 10 granted", r, ok)
	}
}

func TestTracker_ReserveGrantsPartOfABatchAtTheCap(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	tr := testTracker(t, Plan{Name: "p", Days: []int{50}}, now)
	if r, ok := tr.Reserve(now, "ip1", otherSite, 40); !ok || r.N != 40 {
		t.Fatalf("first Reserve = %+v", r)
	}
	if r, ok := tr.Reserve(now, "ip1", otherSite, 40); !ok || r.N != 10 {
		t.Fatalf("second Reserve = %+v, want 10 of 40 granted", r)
	}
	r, ok := tr.Reserve(now, "ip1", otherSite, 1)
	if ok || r.N != 0 || r.Overflow != OverflowPool || !r.Until.Equal(time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Reserve at the cap = %+v, %v; want refused until tomorrow with overflow pool", r, ok)
	}
}

func TestTracker_DayRollsAtLocalMidnightInNewYork_AcrossDST(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(m time.Month, d, h, min, s int) time.Time { return time.Date(2026, m, d, h, min, s, 0, ny) }
	utc := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, time.UTC) }
	type step struct {
		name    string
		now     time.Time
		wantDay int // 1-based warm-up day; the cap is 10 per day
		wantKey string
	}
	tests := []struct {
		name  string
		start time.Time
		steps []step
	}{
		// Sunday 8 March 2026: clocks jump from 02:00 EST to 03:00 EDT (a 23-hour day).
		{"spring forward", at(3, 7, 9, 0, 0), []step{
			{"last second of 7 March (EST)", at(3, 7, 23, 59, 59), 1, "2026-03-07"},
			{"midnight of the DST day", at(3, 8, 0, 0, 0), 2, "2026-03-08"},
			{"03:00 EDT, right after the jump", at(3, 8, 3, 0, 0), 2, "2026-03-08"},
			{"23:59 EDT is 03:59 UTC of 9 March", utc(3, 9, 3, 59), 2, "2026-03-08"},
			{"midnight EDT is 04:00 UTC", utc(3, 9, 4, 0), 3, "2026-03-09"},
		}},
		// Sunday 1 November 2026: 02:00 EDT goes back to 01:00 EST (a 25-hour day).
		{"fall back", at(10, 31, 12, 0, 0), []step{
			{"first 01:30 (EDT) of 1 November", utc(11, 1, 5, 30), 2, "2026-11-01"},
			{"second 01:30 (EST) of 1 November", utc(11, 1, 6, 30), 2, "2026-11-01"},
			{"23:59 EST is 04:59 UTC of 2 November", utc(11, 2, 4, 59), 2, "2026-11-01"},
			{"midnight EST is 05:00 UTC", utc(11, 2, 5, 0), 3, "2026-11-02"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := testTracker(t, Plan{Name: "p", Days: []int{10, 20, 30, 40, 50}, Location: ny}, tt.start)
			for _, st := range tt.steps {
				// Fill the day: exactly the cap goes through, then nothing.
				for range 100 {
					r, ok := tr.Reserve(st.now, "ip1", otherSite, 3)
					if !ok {
						break
					}
					if r.Day != st.wantKey {
						t.Fatalf("%s: reservation counted on %s, want %s", st.name, r.Day, st.wantKey)
					}
				}
				s := status(t, tr, st.now, Other)
				if want := 10 * st.wantDay; s.Day != st.wantDay || s.Cap != want || s.Sent != want {
					t.Errorf("%s: day %d cap %d sent %d; want day %d cap %d, full",
						st.name, s.Day, s.Cap, s.Sent, st.wantDay, want)
				}
			}
		})
	}
}

func TestTracker_HourlySpreadOnTheSpringForwardDay(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	p := Plan{Name: "p", Days: []int{240}, Location: ny, HourlySpread: true, SendingHours: Hours{From: 0, To: 24}}
	day := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	tr := testTracker(t, p, day)
	// 00:xx local allows 10, 01:xx 20; 02:xx does not exist; 03:xx allows 40.
	for _, c := range []struct {
		utcHour, want int
	}{{5, 10}, {6, 20}, {7, 40}, {8, 50}} {
		now := time.Date(2026, 3, 8, c.utcHour, 15, 0, 0, time.UTC)
		for {
			if _, ok := tr.Reserve(now, "ip1", otherSite, 1); !ok {
				break
			}
		}
		if s := status(t, tr, now, Other); s.Sent != c.want || s.Allowed != c.want {
			t.Errorf("at %s: sent %d allowed %d, want %d", now.In(ny).Format("15:04 MST"), s.Sent, s.Allowed, c.want)
		}
	}
	// Refused mid-day: the next window is the next local hour.
	now := time.Date(2026, 3, 8, 8, 15, 0, 0, time.UTC) // 04:15 EDT
	r, ok := tr.Reserve(now, "ip1", otherSite, 1)
	if want := time.Date(2026, 3, 8, 5, 0, 0, 0, ny); ok || !r.Until.Equal(want) {
		t.Errorf("Reserve = %+v, %v; want refused until %v", r, ok, want)
	}
}

func TestTracker_HourlySpread_NothingBeforeSendingHours(t *testing.T) {
	p := Plan{Name: "p", Days: []int{100}, HourlySpread: true, SendingHours: Hours{From: 8, To: 18}}
	night := time.Date(2026, 5, 4, 3, 0, 0, 0, time.UTC)
	tr := testTracker(t, p, night)
	r, ok := tr.Reserve(night, "ip1", otherSite, 1)
	if want := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC); ok || !r.Until.Equal(want) {
		t.Fatalf("Reserve at 03:00 = %+v, %v; want refused until 08:00", r, ok)
	}
	evening := time.Date(2026, 5, 4, 20, 0, 0, 0, time.UTC)
	if r, _ := tr.Reserve(evening, "ip1", otherSite, 500); r.N != 100 {
		t.Fatalf("Reserve after sending hours granted %d, want the whole cap 100", r.N)
	}
	r, _ = tr.Reserve(evening, "ip1", otherSite, 1)
	if want := time.Date(2026, 5, 5, 8, 0, 0, 0, time.UTC); !r.Until.Equal(want) {
		t.Errorf("Until = %v, want tomorrow 08:00", r.Until)
	}
}

// day returns noon of the n-th day (from 0) after d.
func day(d time.Time, n int) time.Time { return d.AddDate(0, 0, n).Add(12 * time.Hour) }

func TestTracker_CountSendingDays_IdleDaysDoNotCount(t *testing.T) {
	d0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	for _, sendingDays := range []bool{true, false} {
		p := Plan{Name: "p", Days: []int{10, 20, 30, 40, 50, 60}, CountSendingDays: sendingDays}
		tr := testTracker(t, p, d0)
		tr.Reserve(day(d0, 0), "ip1", otherSite, 10) // day 0 sends
		// days 1-3 idle
		tr.Reserve(day(d0, 4), "ip1", otherSite, 5) // day 4 sends
		s := status(t, tr, day(d0, 5), Other)
		want := 3 // two sending days: 1 -> 2 -> 3
		if !sendingDays {
			want = 6 // five calendar days: 1 -> 6
		}
		if s.Day != want {
			t.Errorf("CountSendingDays=%v: day %d, want %d (last: %+v)", sendingDays, s.Day, want, s.LastDecision)
		}
		ev := tr.Tick(day(d0, 5))
		if sendingDays {
			if len(ev) != 2 || ev[0].To != 1 || ev[1].To != 2 {
				t.Errorf("events = %+v; want one advance per sending day, nothing for idle days", ev)
			}
		} else if len(ev) != 3 || !strings.Contains(ev[1].Reason, "3 calendar day(s) without mail") {
			t.Errorf("events = %+v; want the idle days counted in one decision", ev)
		}
	}
}

func TestTracker_HealthGating_OverScriptedDays(t *testing.T) {
	d0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	p := Plan{Name: "p", Days: []int{100, 200, 400, 800}}
	tr := testTracker(t, p, d0)
	script := []struct {
		deferred, bounced int
		wantAction        Action
		wantDayAfter      int
	}{
		{0, 0, ActionAdvance, 2},
		{0, 0, ActionAdvance, 3},
		{40, 0, ActionHold, 3},     // 10% deferrals of 400
		{0, 40, ActionStepBack, 2}, // 10% bounces: a bad day
		{0, 0, ActionAdvance, 3},
		{0, 0, ActionAdvance, 4},
		{0, 0, ActionAdvance, 5}, // past the curve: unlimited
		{0, 0, ActionAdvance, 5}, // stays there
	}
	for i, sc := range script {
		now := day(d0, i)
		r, _ := tr.Reserve(now, "ip1", gmailSite, 400)
		tr.Record(now, "ip1", gmailSite, DayStats{Deferred: sc.deferred, Bounced: sc.bounced})
		if i >= 6 && r.N != 400 {
			t.Errorf("day %d: granted %d, want all 400 once uncapped", i, r.N)
		}
		s := status(t, tr, day(d0, i+1), "gmail")
		if s.LastDecision.Action != sc.wantAction || s.Day != sc.wantDayAfter || s.LastDecision.Reason == "" {
			t.Fatalf("after day %d: %+v, want %s to day %d", i, s, sc.wantAction, sc.wantDayAfter)
		}
	}
	if s := status(t, tr, day(d0, 8), "gmail"); s.Cap != Unlimited || s.Headroom != Unlimited ||
		!strings.Contains(s.LastDecision.Reason, "plan complete") {
		t.Errorf("graduated status = %+v", s)
	}
}

func TestTracker_RestartMidDay_KeepsCounters(t *testing.T) {
	d0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	p := Plan{Name: "p", Days: []int{100, 200}}
	tr := testTracker(t, p, d0)
	tr.Reserve(day(d0, 0), "ip1", gmailSite, 100)
	tr.Reserve(day(d0, 1), "ip1", gmailSite, 150) // day 2: cap 200
	tr.Record(day(d0, 1), "ip1", gmailSite, DayStats{Deferred: 3})
	if err := tr.Pause(day(d0, 1), "ip1", Other); err != nil {
		t.Fatal(err)
	}
	changed := tr.Changed()
	if len(changed) != 2 {
		t.Fatalf("Changed = %+v, want gmail and other", changed)
	}
	if again := tr.Changed(); len(again) != 0 {
		t.Errorf("Changed twice = %+v, want nothing new", again)
	}
	blob, err := json.Marshal(changed)
	if err != nil {
		t.Fatal(err)
	}

	// kill -9; a new process loads the spool's entries.
	var loaded []Entry
	if err := json.Unmarshal(blob, &loaded); err != nil {
		t.Fatal(err)
	}
	tr2 := testTracker(t, p, d0)
	if dropped := tr2.Restore(append(loaded, Entry{VMTA: "gone", Group: "gmail"})); len(dropped) != 1 {
		t.Errorf("Restore dropped %+v, want only the unknown vmta", dropped)
	}
	later := day(d0, 1).Add(3 * time.Hour)
	if r, _ := tr2.Reserve(later, "ip1", gmailSite, 100); r.N != 50 {
		t.Errorf("after restart granted %d, want the 50 left of 200", r.N)
	}
	s := status(t, tr2, later, "gmail")
	if s.Day != 2 || s.Sent != 200 || s.LastDecision.Action != ActionAdvance {
		t.Errorf("restored gmail = %+v", s)
	}
	if o := status(t, tr2, later, Other); !o.Paused {
		t.Errorf("restored other = %+v, want paused", o)
	}
}

func TestTracker_ReleaseGivesBackOnlyTheSameDay(t *testing.T) {
	d0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	tr := testTracker(t, Plan{Name: "p", Days: []int{100, 200}}, d0)
	r, _ := tr.Reserve(day(d0, 0), "ip1", otherSite, 80)
	tr.Release(r, 30)
	tr.Release(r, 1000) // clamped to r.N
	if s := status(t, tr, day(d0, 0), Other); s.Sent != 0 {
		t.Errorf("sent %d after releases, want 0", s.Sent)
	}
	r, _ = tr.Reserve(day(d0, 0).Add(11*time.Hour+59*time.Minute), "ip1", otherSite, 80) // 23:59
	tr.Reserve(day(d0, 1), "ip1", otherSite, 50)
	tr.Release(r, 80) // yesterday's reservation: today's count stays
	if s := status(t, tr, day(d0, 1), Other); s.Sent != 50 {
		t.Errorf("sent %d after a stale release, want 50", s.Sent)
	}
}

func TestTracker_OperatorActions(t *testing.T) {
	d0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	tr := testTracker(t, Plan{Name: "p", Days: []int{10, 20, 30}}, d0)
	now := day(d0, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.AdvanceManually(now, "ip1", "gmail"))
	must(tr.AdvanceManually(now, "ip1", "gmail"))
	if s := status(t, tr, now, "gmail"); s.Day != 3 || s.Cap != 30 || s.LastDecision.Reason != "advanced by operator" {
		t.Errorf("after two advances: %+v", s)
	}
	if s := status(t, tr, now, "yahoo"); s.Day != 1 {
		t.Errorf("yahoo moved with gmail: %+v", s)
	}
	must(tr.Pause(now, "ip1", ""))
	tr.Reserve(now, "ip1", gmailSite, 30)
	if s := status(t, tr, day(d0, 1), "gmail"); s.Day != 3 || !s.Paused || s.LastDecision.Reason != "paused by operator" {
		t.Errorf("paused day end: %+v", s)
	}
	must(tr.Resume(day(d0, 1), "ip1", ""))
	must(tr.Reset(day(d0, 1), "ip1", "gmail"))
	if s := status(t, tr, day(d0, 1), "gmail"); s.Day != 1 || s.Paused || s.Sent != 0 || s.LastDecision.Action != ActionStepBack {
		t.Errorf("after reset: %+v", s)
	}
	if err := tr.Pause(now, "nope", ""); !errors.Is(err, ErrUnknownVMTA) {
		t.Errorf("Pause(unknown vmta) = %v", err)
	}
	if err := tr.Pause(now, "ip1", "aol"); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("Pause(unknown group) = %v", err)
	}
	if ev := tr.Tick(day(d0, 1)); len(ev) == 0 || ev[0].VMTA != "ip1" {
		t.Errorf("Tick = %+v, want the operator decisions", ev)
	}
}

func TestTracker_Assign(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	tr, err := NewTracker(Config{Plans: []Plan{{Name: "p", Days: []int{10, 20, 30, 40}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		a     Assignment
		field string
	}{
		{Assignment{Plan: "q"}, "plan"},
		{Assignment{Plan: "p", Start: "2026-05-05"}, "start"},
		{Assignment{Plan: "p", Start: "May 1"}, "start"},
	}
	for _, tt := range tests {
		var fe *FieldError
		if err := tr.Assign("ip9", tt.a, now); !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Assign(%+v) = %v, want an error for %s", tt.a, err, tt.field)
		}
	}
	// Started two days ago on calendar days: on day 3 now.
	if err := tr.Assign("ip1", Assignment{Plan: "p", Start: "2026-05-02"}, now); err != nil {
		t.Fatal(err)
	}
	if s := status(t, tr, now, Other); s.Day != 3 || s.Cap != 30 {
		t.Errorf("status = %+v, want day 3", s)
	}
}

func TestGate_OverflowRuleDecidesEligibility(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	tr, err := NewTracker(Config{Plans: []Plan{
		{Name: "to-pool", Days: []int{1}},
		{Name: "hold", Days: []int{1}, Overflow: OverflowHold},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for vmta, plan := range map[string]string{"cold1": "to-pool", "cold2": "hold"} {
		if err := tr.Assign(vmta, Assignment{Plan: plan}, now); err != nil {
			t.Fatal(err)
		}
	}
	// The pools package's seam, declared here as pools declares it.
	var h interface{ HasHeadroom(vmta, site string) bool } = &Gate{Tracker: tr, Now: func() time.Time { return now }}
	for _, v := range []string{"cold1", "cold2"} {
		if _, ok := tr.Reserve(now, v, gmailSite, 1); !ok {
			t.Fatalf("%s: first reservation refused", v)
		}
	}
	if h.HasHeadroom("cold1", gmailSite) {
		t.Error("cold1 (overflow: pool) at its cap is still eligible")
	}
	if !h.HasHeadroom("cold2", gmailSite) {
		t.Error("cold2 (overflow: hold) must stay eligible so its mail waits for it")
	}
	if r, ok := tr.Reserve(now, "cold2", gmailSite, 1); ok || r.Overflow != OverflowHold {
		t.Errorf("cold2 Reserve = %+v, want refused with hold", r)
	}
	if !h.HasHeadroom("warm", gmailSite) || !h.HasHeadroom("cold1", otherSite) {
		t.Error("a vmta without a plan, or another group, must have headroom")
	}
	if r, ok := tr.Reserve(now, "warm", gmailSite, 7); !ok || r.N != 7 {
		t.Errorf("Reserve for a vmta without a plan = %+v", r)
	}
}

func TestTracker_TickAndEntries(t *testing.T) {
	d0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	tr := testTracker(t, Plan{Name: "p", Days: []int{10, 20}}, d0)
	tr.Reserve(day(d0, 0), "ip1", gmailSite, 10)
	tr.Reserve(day(d0, 0), "ip1", otherSite, 10)
	if ev := tr.Tick(day(d0, 0)); len(ev) != 0 {
		t.Errorf("Tick on the same day = %+v, want nothing", ev)
	}
	ev := tr.Tick(day(d0, 1))
	if len(ev) != 2 || ev[0].Group != "gmail" || ev[1].Group != Other || ev[0].Action != ActionAdvance {
		t.Errorf("Tick at the next day = %+v, want one advance per group", ev)
	}
	if ev := tr.Tick(day(d0, 1)); len(ev) != 0 {
		t.Errorf("second Tick = %+v, want nothing", ev)
	}
	all := tr.Entries()
	if len(all) != 2 || all[0].State.Step != 1 || all[0].State.Day != "2026-05-05" {
		t.Errorf("Entries = %+v", all)
	}
	if ch := tr.Changed(); len(ch) != 0 {
		t.Errorf("Changed after Entries = %+v, want nothing", ch)
	}
	// A plan shortened by a reload clamps restored steps.
	tr2 := testTracker(t, Plan{Name: "p", Days: []int{10}}, d0)
	all[0].State.Step = 7
	tr2.Restore(all)
	if s := status(t, tr2, day(d0, 1), "gmail"); s.Day != 2 || s.Cap != Unlimited {
		t.Errorf("clamped status = %+v", s)
	}
	if tr2.Plan("p") == nil || tr2.Plan("q") != nil {
		t.Error("Plan lookup")
	}
}
