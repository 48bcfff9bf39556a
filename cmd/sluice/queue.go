package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// newQueueCmd administers a running node's queues through its API.
func newQueueCmd() *cobra.Command {
	var vmta, domain string
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List, trace, pause, resume, flush or purge the queues of a running node",
		Long: `Queue administration of a running node, through its API (the REST gateway on
listen.http). --vmta and --domain filter; empty matches all.

  sluice queue ls
  sluice queue trace QUEUE-ID [RECIPIENT]     # why is it not delivered yet
  sluice queue pause --domain example.com     # mail stays queued, nothing is lost
  sluice queue resume --domain example.com
  sluice queue flush --domain example.com     # retry now
  sluice queue purge --domain example.com [--dsn=false]`,
	}
	client := apiFlags(cmd)
	cmd.PersistentFlags().StringVar(&vmta, "vmta", "", "only queues of this vmta")
	cmd.PersistentFlags().StringVar(&domain, "domain", "", "only queues of this destination domain")
	ls := &cobra.Command{
		Use: "ls", Short: "List queues with their recipient counts, and totals by pool, campaign and tenant", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := client()
			var res pb.ListQueuesResponse
			q := url.Values{"vmta": {vmta}, "domain": {domain}}
			if err := c.call(http.MethodGet, "/v1/queues?"+q.Encode(), nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VMTA\tDOMAIN\tRECIPIENTS\tNEXT DUE\tPAUSED")
			for _, q := range res.GetQueues() {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\n", q.GetVmta(), q.GetDomain(), q.GetRecipients(),
					q.GetEarliestDue().AsTime().Format(time.RFC3339), q.GetPaused())
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			var st pb.GetStatsResponse
			if err := c.call(http.MethodGet, "/v1/stats", nil, &st); err != nil {
				return err
			}
			for _, t := range []struct {
				name string
				m    map[string]int64
			}{{"pool", st.GetByPool()}, {"campaign", st.GetByCampaign()}, {"tenant", st.GetByTenant()}} {
				for _, k := range sortedKeys(t.m) {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %d recipients\n", t.name, k, t.m[k])
				}
			}
			return nil
		},
	}
	trace := &cobra.Command{
		Use: "trace QUEUE-ID [RECIPIENT]", Short: "Explain why a message's recipients are not delivered yet",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 2 {
				q.Set("recipient", args[1])
			}
			var res pb.TraceRecipientResponse
			if err := client().call(http.MethodGet, "/v1/queues/messages/"+url.PathEscape(args[0])+"?"+q.Encode(), nil, &res); err != nil {
				return err
			}
			return printJSON(cmd, &res)
		},
	}
	pause := &cobra.Command{
		Use: "pause", Short: "Pause delivery of the matching queues (mail stays queued)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.PauseQueuesResponse
			if err := client().call(http.MethodPost, "/v1/queues:pause", &pb.PauseQueuesRequest{Vmta: vmta, Domain: domain}, &res); err != nil {
				return err
			}
			return printJSON(cmd, &res)
		},
	}
	resume := &cobra.Command{
		Use: "resume", Short: "Resume the matching queues", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.ResumeQueuesResponse
			if err := client().call(http.MethodPost, "/v1/queues:resume", &pb.ResumeQueuesRequest{Vmta: vmta, Domain: domain}, &res); err != nil {
				return err
			}
			return printJSON(cmd, &res)
		},
	}
	flush := &cobra.Command{
		Use: "flush", Short: "Retry the matching queues' mail now", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.FlushQueuesResponse
			if err := client().call(http.MethodPost, "/v1/queues:flush", &pb.FlushQueuesRequest{Vmta: vmta, Domain: domain}, &res); err != nil {
				return err
			}
			return printJSON(cmd, &res)
		},
	}
	var dsn, all bool
	purge := &cobra.Command{
		Use: "purge", Short: "Remove the matching queues' mail (with DSNs to senders unless --dsn=false)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.PurgeQueuesResponse
			req := &pb.PurgeQueuesRequest{Vmta: vmta, Domain: domain, Dsn: &dsn, All: all}
			if err := client().call(http.MethodPost, "/v1/queues:purge", req, &res); err != nil {
				return err
			}
			return printJSON(cmd, &res)
		},
	}
	purge.Flags().BoolVar(&dsn, "dsn", true, "send a DSN to each sender")
	purge.Flags().BoolVar(&all, "all", false, "allow purging every queue when no filter is given")
	cmd.AddCommand(ls, trace, pause, resume, flush, purge)
	return cmd
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
