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
		return out, warmupLineErr(cfg, "warmup", err)
	}
	// NB: the vmtas' assignments (plan, start) are checked by newTracker,
	// which needs the clock to refuse a start in the future.
	return out, nil
}

// warmupLineErr names the key (key + "." + the field of a
// *warmup.FieldError) and its line.
func warmupLineErr(cfg *configs.Config, key string, err error) error {
	var fe *warmup.FieldError
	if errors.As(err, &fe) {
		return lineErr(cfg, key+"."+fe.Field, errors.New(fe.Msg))
	}
	return lineErr(cfg, key, err)
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
