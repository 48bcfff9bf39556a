package warmup

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate_NamesTheField(t *testing.T) {
	base := func() Plan { return Plan{Name: "new-ip", Days: []int{50, 100, 200}} }
	tests := []struct {
		name   string
		edit   func(c *Config)
		field  string
		substr string
	}{
		{"no name", func(c *Config) { c.Plans[0].Name = "" }, "plans[0].name", "required"},
		{"no curve", func(c *Config) { c.Plans[0].Days = nil }, "plans[0].days", "required"},
		{"both curves", func(c *Config) { c.Plans[0].Doubling = &Doubling{Start: 1, Days: 3} }, "plans[0].days", "not both"},
		{"flat step", func(c *Config) { c.Plans[0].Days = []int{50, 50} }, "plans[0].days[1]", "does not increase"},
		{"decreasing step with plateaus", func(c *Config) {
			c.Plans[0].Days, c.Plans[0].AllowPlateaus = []int{50, 40}, true
		}, "plans[0].days[1]", "must not decrease"},
		{"zero cap", func(c *Config) { c.Plans[0].Days = []int{0, 10} }, "plans[0].days[0]", "outside"},
		{"factor 1", func(c *Config) {
			c.Plans[0].Days, c.Plans[0].Doubling = nil, &Doubling{Start: 10, Factor: 1, Days: 3}
		}, "plans[0].doubling.factor", "outside"},
		{"doubling stalls", func(c *Config) {
			c.Plans[0].Days, c.Plans[0].Doubling = nil, &Doubling{Start: 1, Factor: 1.2, Days: 5}
		}, "plans[0].doubling", "raise start or factor"},
		{"doubling too large", func(c *Config) {
			c.Plans[0].Days, c.Plans[0].Doubling = nil, &Doubling{Start: 1000, Factor: 10, Days: 10}
		}, "plans[0].doubling", "above"},
		{"bad overflow", func(c *Config) { c.Plans[0].Overflow = "drop" }, "plans[0].overflow", "drop"},
		{"bad hours", func(c *Config) { c.Plans[0].SendingHours = Hours{From: 9, To: 9} }, "plans[0].sending_hours", "9..9"},
		{"unknown group", func(c *Config) {
			c.Plans[0].Groups = map[string]GroupPlan{"aol": {Fraction: 0.5}}
		}, "plans[0].groups.aol", "unknown receiver group"},
		{"group with two curves", func(c *Config) {
			c.Plans[0].Groups = map[string]GroupPlan{"gmail": {Fraction: 0.5, Days: []int{1, 2}}}
		}, "plans[0].groups.gmail", "exactly one"},
		{"group fraction above 1", func(c *Config) {
			c.Plans[0].Groups = map[string]GroupPlan{"gmail": {Fraction: 1.5}}
		}, "plans[0].groups.gmail.fraction", "outside"},
		{"group curve not increasing", func(c *Config) {
			c.Plans[0].Groups = map[string]GroupPlan{"gmail": {Days: []int{5, 4}}}
		}, "plans[0].groups.gmail.days[1]", "does not increase"},
		{"step-back below hold", func(c *Config) {
			c.Plans[0].Health.Hold.Bounce, c.Plans[0].Health.StepBack.Bounce = 0.1, 0.05
		}, "plans[0].health.step_back.bounce", "below the hold rate"},
		{"duplicate plan", func(c *Config) { c.Plans = append(c.Plans, base()) }, "plans[1].name", "already defined"},
		{"overlapping groups", func(c *Config) {
			c.Groups = Groups{"gmail": {"*.google.com"}, "gsuite": {"aspmx.l.google.com"}}
		}, "groups.gsuite[0]", "overlaps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Plans: []Plan{base()}}
			tt.edit(&c)
			c.SetDefaults()
			err := c.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want a *FieldError wrapping ErrInvalid", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.substr) {
				t.Errorf("Validate() = %q, want field %q and %q in the message", err, tt.field, tt.substr)
			}
		})
	}
}

func TestConfigValidate_GoodConfigPasses(t *testing.T) {
	c := Config{Plans: []Plan{
		{Name: "table", Days: []int{50, 100, 100, 400}, AllowPlateaus: true},
		{Name: "doubling", Doubling: &Doubling{Start: 50, Days: 14}, HourlySpread: true,
			SendingHours: Hours{From: 8, To: 20}, Overflow: OverflowHold, CountSendingDays: true,
			Groups: map[string]GroupPlan{"gmail": {Fraction: 0.5}, "yahoo": {Days: []int{20, 40}}}},
	}}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Plans[1].Doubling.Factor != 2 || c.Plans[0].Location != time.UTC || c.Plans[0].Overflow != OverflowPool {
		t.Errorf("defaults not filled: %+v", c.Plans[0])
	}
}

func TestPlanCap_CurvesAndUnlimitedAfterLastDay(t *testing.T) {
	p := Plan{
		Name: "p", Days: []int{50, 100, 200},
		Groups: map[string]GroupPlan{
			"gmail":     {Fraction: 0.5},
			"microsoft": {Doubling: &Doubling{Start: 10, Factor: 3, Days: 4}},
			"yahoo":     {Fraction: 0.001},
		},
	}
	p.SetDefaults()
	if err := p.Validate(DefaultGroups()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		group string
		want  []int // caps for steps 0..
	}{
		{Other, []int{50, 100, 200, Unlimited, Unlimited}},
		{"gmail", []int{25, 50, 100, Unlimited}},
		{"microsoft", []int{10, 30, 90, 270, Unlimited}},
		{"yahoo", []int{1, 1, 1, Unlimited}}, // a scaled cap is at least 1
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			for step, want := range tt.want {
				if got := p.Cap(tt.group, step); got != want {
					t.Errorf("Cap(%s, %d) = %d, want %d", tt.group, step, got, want)
				}
			}
		})
	}
	if got := p.Steps("microsoft"); got != 4 {
		t.Errorf("Steps(microsoft) = %d, want 4", got)
	}
}

func TestPlanAllowed_HourlySpreadIsCumulative(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	p := Plan{Name: "p", Days: []int{1000}, HourlySpread: true, SendingHours: Hours{From: 8, To: 18}, Location: ny}
	p.SetDefaults()
	tests := []struct {
		hour, want int
	}{
		{0, 0}, {7, 0}, {8, 100}, {9, 200}, {12, 500}, {17, 1000}, {18, 1000}, {23, 1000},
	}
	for _, tt := range tests {
		now := time.Date(2026, 6, 1, tt.hour, 30, 0, 0, ny)
		if got := p.Allowed(Other, 0, now); got != tt.want {
			t.Errorf("Allowed at %02d:30 = %d, want %d", tt.hour, got, tt.want)
		}
	}
	// The hour is the plan's local hour, not UTC's: 12:30 UTC is 08:30 EDT.
	if got := p.Allowed(Other, 0, time.Date(2026, 6, 1, 12, 30, 0, 0, time.UTC)); got != 100 {
		t.Errorf("Allowed at 12:30 UTC = %d, want 100 (08:30 in New York)", got)
	}
	// Past the curve: unlimited at every hour.
	if got := p.Allowed(Other, 1, time.Date(2026, 6, 1, 3, 0, 0, 0, ny)); got != Unlimited {
		t.Errorf("Allowed after the last day = %d, want Unlimited", got)
	}
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s: %v", name, err)
	}
	return loc
}
