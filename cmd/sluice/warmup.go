package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/warmup"
)

func newWarmupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "warmup", Short: "IP warm-up plans: simulate one, or show and steer a running node's"}
	var (
		configPath, plan, chart  string
		days, volume             int
		deferralRate, bounceRate float64
		asJSON                   bool
	)
	sim := &cobra.Command{
		Use:   "simulate --plan P [--days 30] [--volume N]",
		Short: "Show what a warm-up plan would let an IP send, day by day and per receiver group",
		Long: `Simulate a warm-up plan from the configuration: each day's cap, what was sent of the
day's volume, what overflowed to other IPs or was held, and the health decision, per receiver
group. --deferral-rate and --bounce-rate play bad days (the plan's health rules then hold or
step back). --chart FILE also writes the curve as an SVG chart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := configs.Load(configPath)
			if err != nil {
				return &exitError{code: exitCodeConfig, err: fmt.Errorf("%s: %w", nameOr(configPath), err)}
			}
			wc, err := engine.WarmupConfig(cfg)
			if err != nil {
				return &exitError{code: exitCodeConfig, err: fmt.Errorf("%s: %w", nameOr(configPath), err)}
			}
			var p *warmup.Plan
			for i := range wc.Plans {
				if wc.Plans[i].Name == plan {
					p = &wc.Plans[i]
				}
			}
			if p == nil {
				return fmt.Errorf("--plan %q: no such plan in %s (plans: %d)", plan, nameOr(configPath), len(wc.Plans))
			}
			health := func(day, sent int) warmup.DayStats {
				return warmup.DayStats{Sent: sent, Deferred: int(float64(sent) * deferralRate), Bounced: int(float64(sent) * bounceRate)}
			}
			rows, err := warmup.Simulate(*p, days, volume, health)
			if err != nil {
				return err
			}
			if chart != "" {
				title := simulateTitle(plan, days, volume, deferralRate, bounceRate)
				if err := os.WriteFile(chart, warmup.ChartSVG(rows, title), 0o644); err != nil {
					return fmt.Errorf("--chart: %w", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "chart written to %s\n", chart)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DAY\tDATE\tGROUP\tSTEP\tCAP\tDEMAND\tSENT\tOVERFLOW\tHELD\tDECISION")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Day, r.Date, r.Group, r.Step, countOrUnlimited(r.Cap),
					r.Demand, r.Sent, r.Overflowed, r.Held, r.Decision.Reason)
			}
			return tw.Flush()
		},
	}
	sim.Flags().StringVarP(&configPath, "config", "c", "", "configuration file with the plan (default: the embedded one)")
	sim.Flags().StringVar(&plan, "plan", "", "plan name")
	sim.Flags().IntVar(&days, "days", 30, "days to simulate")
	sim.Flags().IntVar(&volume, "volume", 100000, "mail offered per day")
	sim.Flags().Float64Var(&deferralRate, "deferral-rate", 0, "deferred share of what is sent (0..1)")
	sim.Flags().Float64Var(&bounceRate, "bounce-rate", 0, "bounced share of what is sent (0..1)")
	sim.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	sim.Flags().StringVar(&chart, "chart", "", "also write the simulated curve as an SVG chart to this file")
	_ = sim.MarkFlagRequired("plan")
	cmd.AddCommand(sim)
	addWarmupOps(cmd) // status, pause, resume, advance, reset: warmupops.go
	return cmd
}

// simulateTitle is the title of a simulate chart: the plan and the inputs.
func simulateTitle(plan string, days, volume int, deferralRate, bounceRate float64) string {
	t := fmt.Sprintf("Warm-up plan %s: %d days, ", plan, days)
	if volume > 0 {
		t += fmt.Sprintf("%d recipients a day", volume)
	} else {
		t += "each day's cap sent"
	}
	if deferralRate > 0 || bounceRate > 0 {
		t += fmt.Sprintf(", deferral %g, bounce %g", deferralRate, bounceRate)
	}
	return t
}
