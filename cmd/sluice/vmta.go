package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func newVMTACmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vmta", Short: "List, disable or enable the virtual MTAs of a running node"}
	client := apiFlags(cmd)
	ls := &cobra.Command{
		Use: "ls", Short: "List virtual MTAs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.ListVmtasResponse
			if err := client().call(http.MethodGet, "/v1/vmtas", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE IP\tHELO\tDISABLED\tQUEUED")
			for _, v := range res.GetVmtas() {
				state := fmt.Sprint(v.GetDisabled())
				if v.GetRemoved() {
					state += " (removed, draining)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", v.GetName(), v.GetSourceIp(), v.GetHelo(), state, v.GetQueuedRecipients())
			}
			return tw.Flush()
		},
	}
	toggle := func(action string) *cobra.Command {
		return &cobra.Command{
			Use: action + " NAME", Short: action + " a vmta (disabled: no new mail, its queues paused)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var res pb.Vmta
				if err := client().call(http.MethodPost, "/v1/vmtas/"+url.PathEscape(args[0])+":"+action, &pb.DisableVmtaRequest{}, &res); err != nil {
					return err
				}
				return printJSON(cmd, &res)
			},
		}
	}
	cmd.AddCommand(ls, toggle("disable"), toggle("enable"))
	return cmd
}

func newPoolCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pool", Short: "List the IP pools of a running node"}
	client := apiFlags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Short: "List pools and their weighted members", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.ListPoolsResponse
			if err := client().call(http.MethodGet, "/v1/pools", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POOL\tMEMBERS")
			for _, p := range res.GetPools() {
				var ms []string
				for _, m := range p.GetMembers() {
					ms = append(ms, fmt.Sprintf("%s (weight %d)", m.GetVmta(), m.GetWeight()))
				}
				fmt.Fprintf(tw, "%s\t%s\n", p.GetName(), strings.Join(ms, ", "))
			}
			return tw.Flush()
		},
	})
	return cmd
}
