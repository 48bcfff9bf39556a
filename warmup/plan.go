package warmup

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Unlimited is the cap of a step past a plan's last day: no cap.
const Unlimited = -1

// MaxCap is the largest daily cap a plan may reach (a larger number is a
// mistake, and it keeps the hourly arithmetic far from overflow).
const MaxCap = 1_000_000_000

// ErrInvalid is wrapped by every configuration error this package returns;
// errors.As with *FieldError yields the offending field.
var ErrInvalid = errors.New("invalid warm-up configuration")

// FieldError is a configuration error naming the field that holds the bad
// value, as a path of configuration keys ("plans[1].days[3]"), so the
// configuration loader can map it back to a line.
type FieldError struct {
	// Field is the path of the offending key, relative to the warmup section.
	Field string
	// Msg says what is wrong and what to do.
	Msg string
}

func (e *FieldError) Error() string { return "warmup: " + e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Overflow says where mail goes when a vmta has no headroom for a site.
type Overflow string

const (
	// OverflowPool sends the mail through other members of the pool that have
	// headroom (overflow to warm IPs). The default.
	OverflowPool Overflow = "pool"
	// OverflowHold keeps the mail for this vmta until its next window opens
	// (the next hour slice or the next day).
	OverflowHold Overflow = "hold"
)

// Doubling is a curve of daily caps that grows geometrically: the cap of
// warm-up day i (0-based) is floor(Start * Factor^i), for Days days; after
// them there is no cap.
type Doubling struct {
	// Start is the cap of the first day, in messages (recipients). At least 1.
	Start int
	// Factor multiplies the cap each day; above 1. Default 2.
	Factor float64
	// Days is how many capped days the curve has; at least 1.
	Days int
}

// Hours is a range of local hours [From, To) in a plan's time zone.
type Hours struct {
	// From is the first sending hour, 0..23. Default 0.
	From int
	// To is the hour sending ends (exclusive), 1..24. Default 24.
	To int
}

// GroupPlan overrides a plan's curve for one receiver group. Exactly one of
// Days, Doubling and Fraction is set.
type GroupPlan struct {
	// Days is the group's own table of daily caps.
	Days []int
	// Doubling is the group's own geometric curve.
	Doubling *Doubling
	// Fraction scales the plan's curve for this group: (0, 1]. A scaled cap
	// is rounded down, and is at least 1.
	Fraction float64
}

// Plan is a named warm-up plan: a curve of daily caps that each (vmta,
// receiver group) climbs one step per good day, and the rules for climbing.
//
// Caps count recipients handed to the receiver, per vmta and receiver group:
// every group climbs its own curve on its own health. Groups without a
// GroupPlan use the plan's curve.
type Plan struct {
	// Name identifies the plan; vmtas name it.
	Name string
	// Days is a table of daily caps, in recipients: Days[0] is the first
	// warm-up day's cap. After the last day there is no cap. Each step must
	// be above the one before unless AllowPlateaus is set. Exactly one of
	// Days and Doubling is set.
	Days []int
	// Doubling is a geometric curve instead of a table.
	Doubling *Doubling
	// AllowPlateaus lets a step of Days equal the one before (a table that
	// repeats a cap). Default false: steps must increase.
	AllowPlateaus bool
	// HourlySpread spreads a day's cap over SendingHours: at local hour h the
	// cumulative cap is cap*(h-From+1)/(To-From) (rounded down), nothing
	// before From, the whole cap from To on. Default false: the whole cap is
	// available from midnight.
	HourlySpread bool
	// SendingHours are the hours a spread cap is spread over. Used only with
	// HourlySpread. Default 0..24.
	SendingHours Hours
	// Groups overrides the curve per receiver group (keys are group names,
	// see Groups).
	Groups map[string]GroupPlan
	// Location is the plan's time zone: days and hours begin there. Default
	// UTC.
	Location *time.Location
	// Overflow says where mail goes when a vmta is at its cap. Default
	// OverflowPool.
	Overflow Overflow
	// CountSendingDays counts only days on which the vmta sent mail to the
	// group as warm-up days; a day without mail keeps the step. Default
	// false: every calendar day counts (a day without mail advances).
	CountSendingDays bool
	// Health gates progression at each day's end.
	Health HealthRules
}

// SetDefaults fills the zero fields that have defaults.
func (p *Plan) SetDefaults() {
	if p.Doubling != nil && p.Doubling.Factor == 0 {
		p.Doubling.Factor = 2
	}
	for name, g := range p.Groups {
		if g.Doubling != nil && g.Doubling.Factor == 0 {
			g.Doubling.Factor = 2
			p.Groups[name] = g
		}
	}
	if p.SendingHours == (Hours{}) {
		p.SendingHours = Hours{From: 0, To: 24}
	}
	if p.Location == nil {
		p.Location = time.UTC
	}
	if p.Overflow == "" {
		p.Overflow = OverflowPool
	}
	p.Health.SetDefaults()
}

// Validate checks the plan after SetDefaults; groups are the receiver groups
// its Groups may name. The error is a *FieldError whose field is relative to
// the plan ("days[3]").
func (p *Plan) Validate(groups Groups) error {
	if p.Name == "" {
		return fieldErr("name", "required")
	}
	if err := validateCurve("", p.Days, p.Doubling, !p.AllowPlateaus); err != nil {
		return err
	}
	if h := p.SendingHours; h.From < 0 || h.From > 23 || h.To < 1 || h.To > 24 || h.From >= h.To {
		return fieldErr("sending_hours", "%d..%d is not a range of hours within 0..24 (from < to)", h.From, h.To)
	}
	switch p.Overflow {
	case OverflowPool, OverflowHold:
	default:
		return fieldErr("overflow", "%q is not %q or %q", p.Overflow, OverflowPool, OverflowHold)
	}
	for _, name := range sortedKeys(p.Groups) {
		if err := p.validateGroup(name, groups); err != nil {
			return err
		}
	}
	return p.Health.Validate()
}

func (p *Plan) validateGroup(name string, groups Groups) error {
	field := "groups." + name
	if _, ok := groups[name]; !ok && name != Other {
		return fieldErr(field, "unknown receiver group %q (define it under warmup.groups)", name)
	}
	g := p.Groups[name]
	set := 0
	for _, b := range []bool{len(g.Days) > 0, g.Doubling != nil, g.Fraction != 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		return fieldErr(field, "set exactly one of days, doubling and fraction")
	}
	if g.Fraction != 0 {
		if !(g.Fraction > 0 && g.Fraction <= 1) {
			return fieldErr(field+".fraction", "%v is outside (0, 1]", g.Fraction)
		}
		return nil
	}
	return validateCurve(field+".", g.Days, g.Doubling, !p.AllowPlateaus)
}

func validateCurve(prefix string, days []int, d *Doubling, increasing bool) error {
	switch {
	case len(days) > 0 && d != nil:
		return fieldErr(prefix+"days", "set days or doubling, not both")
	case len(days) == 0 && d == nil:
		return fieldErr(prefix+"days", "required (or doubling): a plan needs a curve of daily caps")
	case d != nil:
		return validateDoubling(prefix+"doubling", d)
	}
	for i, c := range days {
		switch {
		case c < 1 || c > MaxCap:
			return fieldErr(fmt.Sprintf("%sdays[%d]", prefix, i), "cap %d outside 1..%d", c, MaxCap)
		case i > 0 && increasing && c <= days[i-1]:
			return fieldErr(fmt.Sprintf("%sdays[%d]", prefix, i), "cap %d does not increase on days[%d] (%d); steps must increase (or set allow_plateaus)", c, i-1, days[i-1])
		case i > 0 && c < days[i-1]:
			return fieldErr(fmt.Sprintf("%sdays[%d]", prefix, i), "cap %d is below days[%d] (%d); steps must not decrease", c, i-1, days[i-1])
		}
	}
	return nil
}

func validateDoubling(field string, d *Doubling) error {
	switch {
	case d.Start < 1 || d.Start > MaxCap:
		return fieldErr(field+".start", "%d outside 1..%d", d.Start, MaxCap)
	case !(d.Factor > 1) || d.Factor > 100:
		return fieldErr(field+".factor", "%v outside (1, 100]", d.Factor)
	case d.Days < 1 || d.Days > 3650:
		return fieldErr(field+".days", "%d outside 1..3650", d.Days)
	}
	prev := 0
	for i := range d.Days {
		c := doublingCap(d, i)
		if c > MaxCap {
			return fieldErr(field, "day %d's cap %d is above %d: lower start, factor or days", i+1, c, MaxCap)
		}
		if c <= prev {
			return fieldErr(field, "days %d and %d both cap at %d: raise start or factor", i, i+1, c)
		}
		prev = c
	}
	return nil
}

func doublingCap(d *Doubling, step int) int {
	f := math.Floor(float64(d.Start) * math.Pow(d.Factor, float64(step)))
	if f > MaxCap*2 {
		return MaxCap * 2
	}
	return int(f)
}

// curveCap is the cap of step on a curve, or Unlimited past its end.
func curveCap(days []int, d *Doubling, step int) int {
	switch {
	case step < 0:
		step = 0
	case d != nil && step >= d.Days, d == nil && step >= len(days):
		return Unlimited
	}
	if d != nil {
		return doublingCap(d, step)
	}
	return days[step]
}

func curveLen(days []int, d *Doubling) int {
	if d != nil {
		return d.Days
	}
	return len(days)
}

// Cap returns the daily cap of warm-up step (0-based: step 0 is day 1) for
// group, or Unlimited once the step is past the group's curve.
func (p *Plan) Cap(group string, step int) int {
	g, ok := p.Groups[group]
	switch {
	case !ok:
		return curveCap(p.Days, p.Doubling, step)
	case g.Fraction != 0:
		base := curveCap(p.Days, p.Doubling, step)
		if base == Unlimited {
			return Unlimited
		}
		return max(1, int(float64(base)*g.Fraction))
	default:
		return curveCap(g.Days, g.Doubling, step)
	}
}

// Steps returns how many capped days group's curve has; step Steps(group)
// is the first without a cap.
func (p *Plan) Steps(group string) int {
	if g, ok := p.Groups[group]; ok && g.Fraction == 0 {
		return curveLen(g.Days, g.Doubling)
	}
	return curveLen(p.Days, p.Doubling)
}

// Allowed returns the cumulative number of recipients group may have been
// sent by now on a day at step: the day's cap, or with HourlySpread the
// share of it due by the current local hour. Unlimited when uncapped.
func (p *Plan) Allowed(group string, step int, now time.Time) int {
	c := p.Cap(group, step)
	if c == Unlimited || !p.HourlySpread {
		return c
	}
	return spread(c, p.SendingHours, now.In(p.loc()).Hour())
}

// spread is the cumulative share of dayCap due by the end of local hour h.
func spread(dayCap int, hs Hours, h int) int {
	switch {
	case h < hs.From:
		return 0
	case h >= hs.To:
		return dayCap
	}
	return int(int64(dayCap) * int64(h-hs.From+1) / int64(hs.To-hs.From))
}

func (p *Plan) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Config is the warmup section of the configuration: the receiver groups and
// the named plans.
type Config struct {
	// Groups are the receiver groups by MX pattern. Default DefaultGroups().
	Groups Groups
	// Plans are the warm-up plans vmtas may name.
	Plans []Plan
}

// SetDefaults fills the defaults of the config and of every plan.
func (c *Config) SetDefaults() {
	if c.Groups == nil {
		c.Groups = DefaultGroups()
	}
	for i := range c.Plans {
		c.Plans[i].SetDefaults()
	}
}

// Validate checks the config after SetDefaults. The error is a *FieldError
// with the field relative to the warmup section ("plans[1].days[3]").
func (c *Config) Validate() error {
	if err := c.Groups.Validate(); err != nil {
		return err
	}
	seen := make(map[string]int, len(c.Plans))
	for i := range c.Plans {
		p := &c.Plans[i]
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			return fieldErr(fmt.Sprintf("plans[%d].name", i), "plan %q already defined as plans[%d]", p.Name, j)
		}
		seen[p.Name] = i
		if err := p.Validate(c.Groups); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return fieldErr(fmt.Sprintf("plans[%d].%s", i, fe.Field), "%s", fe.Msg)
			}
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
