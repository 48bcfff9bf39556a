package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// addWarmupOps adds the commands that read and steer the warm-up of a
// running node (through its API) to the warmup command.
func addWarmupOps(warmup *cobra.Command) {
	var asJSON bool
	status := &cobra.Command{
		Use:   "status [VMTA]",
		Short: "Show where each warming vmta of a running node stands, per receiver group",
		Args:  cobra.MaximumNArgs(1),
	}
	client := apiFlags(status)
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	status.RunE = func(cmd *cobra.Command, args []string) error {
		var vs []*pb.WarmupVmta
		if len(args) == 1 {
			var v pb.WarmupVmta
			if err := client().call(http.MethodGet, "/v1/warmup/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			vs = []*pb.WarmupVmta{&v}
		} else {
			var res pb.ListWarmupResponse
			if err := client().call(http.MethodGet, "/v1/warmup", nil, &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, &res)
			}
			vs = res.GetVmtas()
			if len(vs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no vmta follows a warm-up plan (vmtas[].warmup)")
				return nil
			}
		}
		if asJSON {
			return printJSON(cmd, vs[0])
		}
		return warmupTable(cmd.OutOrStdout(), vs...)
	}
	warmup.AddCommand(status)
	for _, op := range []struct{ name, short string }{
		{"pause", "Hold a vmta's warm-up step at each day's end (the day's cap still applies)"},
		{"resume", "Undo pause"},
		{"advance", "Move a vmta one warm-up step on now, whatever the day's health"},
		{"reset", "Put a vmta back on warm-up day 1 (clears today's count and the pause)"},
	} {
		var group string
		c := &cobra.Command{Use: op.name + " VMTA [--group G]", Short: op.short, Args: cobra.ExactArgs(1)}
		client := apiFlags(c)
		c.Flags().StringVar(&group, "group", "", "only this receiver group (default: every group)")
		c.RunE = func(cmd *cobra.Command, args []string) error {
			var v pb.WarmupVmta
			path := "/v1/warmup/" + url.PathEscape(args[0]) + ":" + op.name
			if err := client().call(http.MethodPost, path, &pb.WarmupControlRequest{Group: group}, &v); err != nil {
				return err
			}
			return warmupTable(cmd.OutOrStdout(), &v)
		}
		warmup.AddCommand(c)
	}
}

// warmupTable prints a line per (vmta, receiver group).
func warmupTable(w io.Writer, vs ...*pb.WarmupVmta) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VMTA\tGROUP\tDAY\tCAP\tSENT\tHEADROOM\tPAUSED\tLAST DECISION")
	for _, v := range vs {
		for _, g := range v.GetGroups() {
			last := "-"
			if d := g.GetLastDecision(); d != nil {
				last = fmt.Sprintf("%s %s (day %d -> %d): %s", d.GetDay(), d.GetAction(), d.GetFromDay(), d.GetToDay(), d.GetReason())
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%v\t%s\n", v.GetVmta(), g.GetGroup(), g.GetDay(), countOrUnlimited(g.GetCap()),
				g.GetSent(), countOrUnlimited(g.GetHeadroom()), g.GetPaused(), last)
		}
	}
	return tw.Flush()
}

// countOrUnlimited prints a warm-up count or cap, warmup.Unlimited (-1)
// being unlimited.
func countOrUnlimited[N int | int32](n N) string {
	if n < 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}
