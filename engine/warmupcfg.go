package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/warmup"
)

// WarmupConfig maps the file's warmup section onto package warmup's
// Config and validates it whole; errors name the key and its line.
func WarmupConfig(cfg *configs.Config) (warmup.Config, error) {
	out := warmup.Config{}
	if len(cfg.Warmup.Groups) > 0 {
		out.Groups = warmup.Groups(cfg.Warmup.Groups)
	}
	for i, p := range cfg.Warmup.Plans {
		key := fmt.Sprintf("warmup.plans[%d]", i)
		wp, err := warmupPlan(cfg, key, p)
		if err != nil {
			return out, err
		}
		out.Plans = append(out.Plans, wp)
	}
	out.SetDefaults()
	if err := out.Validate(); err != nil {
		var fe *warmup.FieldError
		if errors.As(err, &fe) {
			return out, lineErr(cfg, "warmup."+fe.Field, errors.New(fe.Msg))
		}
		return out, lineErr(cfg, "warmup", err)
	}
	for i, v := range cfg.VMTAs {
		if v.Warmup == nil {
			continue
		}
		key := fmt.Sprintf("vmtas[%d].warmup", i)
		if !hasPlan(out, v.Warmup.Plan) {
			return out, lineErr(cfg, key+".plan", fmt.Errorf("unknown warm-up plan %q", v.Warmup.Plan))
		}
		if _, err := time.Parse(time.DateOnly, v.Warmup.Start); err != nil {
			return out, lineErr(cfg, key+".start", fmt.Errorf("want a date YYYY-MM-DD, got %q", v.Warmup.Start))
		}
	}
	return out, nil
}

func hasPlan(c warmup.Config, name string) bool {
	for _, p := range c.Plans {
		if p.Name == name {
			return true
		}
	}
	return false
}

func warmupPlan(cfg *configs.Config, key string, p configs.WarmupPlan) (warmup.Plan, error) {
	wp := warmup.Plan{Name: p.Name, Days: p.Days, AllowPlateaus: p.AllowPlateaus, HourlySpread: p.HourlySpread,
		Overflow: warmup.Overflow(p.Overflow), CountSendingDays: p.CountSendingDays, Doubling: doubling(p.Doubling)}
	if p.SendingHours != nil {
		wp.SendingHours = warmup.Hours{From: p.SendingHours.From, To: p.SendingHours.To}
	}
	if p.TimeZone != "" {
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			return wp, lineErr(cfg, key+".time_zone", fmt.Errorf("unknown time zone %q", p.TimeZone))
		}
		wp.Location = loc
	}
	if len(p.Groups) > 0 {
		wp.Groups = map[string]warmup.GroupPlan{}
		for g, gp := range p.Groups {
			wp.Groups[g] = warmup.GroupPlan{Days: gp.Days, Doubling: doubling(gp.Doubling), Fraction: gp.Fraction}
		}
	}
	if h := p.Health; h != nil {
		wp.Health = warmup.HealthRules{StepBackSteps: h.StepBackSteps, MinSent: h.MinSent,
			Hold:     warmup.Rates{Deferral: h.Hold.Deferral, Bounce: h.Hold.Bounce, Complaint: h.Hold.Complaint},
			StepBack: warmup.Rates{Deferral: h.StepBack.Deferral, Bounce: h.StepBack.Bounce, Complaint: h.StepBack.Complaint}}
	}
	return wp, nil
}

func doubling(d *configs.WarmupDoubling) *warmup.Doubling {
	if d == nil {
		return nil
	}
	return &warmup.Doubling{Start: d.Start, Factor: d.Factor, Days: d.Days}
}
