package warmup

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSimulate_ThirtyDaysOfADoublingPlan(t *testing.T) {
	p := Plan{Name: "double", Doubling: &Doubling{Start: 50, Days: 10}} // 50, 100, ... 25600
	reps, err := Simulate(p, 30, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 30 {
		t.Fatalf("%d reports, want 30 (one group)", len(reps))
	}
	for i, r := range reps {
		wantCap := Unlimited
		if i < 10 {
			wantCap = 50 << i
		}
		if r.Day != i+1 || r.Group != Other || r.Cap != wantCap || r.Sent != max(wantCap, 0) {
			t.Errorf("day %d: %+v, want cap %d fully sent", i+1, r, wantCap)
		}
	}
	if reps[0].Date != "2026-01-05" || reps[29].Date != "2026-02-03" {
		t.Errorf("dates %s..%s", reps[0].Date, reps[29].Date)
	}
	if p.Doubling.Factor != 0 {
		t.Error("Simulate changed the caller's plan")
	}
}

func TestSimulate_VolumeOverflowsOrHolds(t *testing.T) {
	for _, of := range []Overflow{OverflowPool, OverflowHold} {
		p := Plan{Name: "p", Days: []int{100, 200, 400}, Overflow: of}
		reps, err := Simulate(p, 5, 300, nil)
		if err != nil {
			t.Fatal(err)
		}
		var sent, over, held []int
		for _, r := range reps {
			sent, over, held = append(sent, r.Sent), append(over, r.Overflowed), append(held, r.Held)
		}
		wantSent, wantOver, wantHeld := []int{100, 200, 300, 300, 300}, []int{200, 100, 0, 0, 0}, []int{0, 0, 0, 0, 0}
		if of == OverflowHold {
			// held mail is offered again the next day: demand 300, 500, 600, 500, 300
			wantSent, wantOver, wantHeld = []int{100, 200, 400, 500, 300}, []int{0, 0, 0, 0, 0}, []int{200, 300, 200, 0, 0}
		}
		if !reflect.DeepEqual(sent, wantSent) || !reflect.DeepEqual(over, wantOver) || !reflect.DeepEqual(held, wantHeld) {
			t.Errorf("%s: sent %v overflowed %v held %v; want %v %v %v", of, sent, over, held, wantSent, wantOver, wantHeld)
		}
	}
}

func TestSimulate_HealthScriptAndGroups(t *testing.T) {
	p := Plan{
		Name: "p", Days: []int{100, 200, 400, 800}, CountSendingDays: true,
		Groups: map[string]GroupPlan{"gmail": {Fraction: 0.5}},
	}
	health := func(day, sent int) DayStats {
		switch day {
		case 3:
			return DayStats{Deferred: sent / 10} // 10% deferrals: hold
		case 5:
			return DayStats{Bounced: sent / 10} // 10% bounces: step back
		}
		return DayStats{}
	}
	volume := 1000
	reps, err := Simulate(p, 7, volume, health)
	if err != nil {
		t.Fatal(err)
	}
	var gmail, other []string
	for _, r := range reps {
		line := strings.Join([]string{string(r.Decision.Action), itoa(r.Step), itoa(r.Cap)}, "/")
		if r.Group == "gmail" {
			gmail = append(gmail, line)
		} else {
			other = append(other, line)
		}
		if r.Decision.Reason == "" {
			t.Errorf("day %d %s: decision without reason", r.Day, r.Group)
		}
	}
	wantOther := []string{"advance/1/100", "advance/2/200", "hold/3/400", "advance/3/400", "step-back/4/800", "advance/3/400", "advance/4/800"}
	wantGmail := []string{"advance/1/50", "advance/2/100", "hold/3/200", "advance/3/200", "step-back/4/400", "advance/3/200", "advance/4/400"}
	if !reflect.DeepEqual(other, wantOther) || !reflect.DeepEqual(gmail, wantGmail) {
		t.Errorf("other %v\n want %v\ngmail %v\n want %v", other, wantOther, gmail, wantGmail)
	}
}

func TestSimulate_CountSendingDays_IdleDaysHold(t *testing.T) {
	p := Plan{Name: "p", Days: []int{10, 20}, CountSendingDays: true}
	// volume 0 sends each day's cap: both capped days count.
	reps, err := Simulate(p, 2, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reps[1].Step != 2 {
		t.Fatalf("reports %+v", reps)
	}
	// After the curve, volume 0 sends nothing: sending days no longer pass.
	reps, _ = Simulate(p, 4, 0, nil)
	if r := reps[3]; r.Cap != Unlimited || r.Sent != 0 || r.Decision.Action != ActionHold ||
		!strings.Contains(r.Decision.Reason, "no mail sent") {
		t.Errorf("idle uncapped day: %+v", r)
	}
}

func TestSimulate_RejectsABadPlan(t *testing.T) {
	if _, err := Simulate(Plan{Name: "p", Days: []int{10, 5}}, 3, 0, nil); err == nil ||
		!strings.Contains(err.Error(), "days[1]") {
		t.Errorf("Simulate(bad plan) = %v, want an error naming days[1]", err)
	}
}

func itoa(n int) string {
	if n == Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(n)
}
