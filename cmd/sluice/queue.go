package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/engine"
)

// newQueueCmd talks to a running `serve` over its HTTP admin port.
func newQueueCmd() *cobra.Command {
	var server, vmta, domain string
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List, pause, resume, flush or purge the queues of a running node",
		Long: `Queue administration of a running node, over its HTTP admin port (listen.http).
Each command takes --vmta and --domain filters; empty matches all.

  sluice queue ls
  sluice queue pause --domain example.com      # mail stays queued, nothing is lost
  sluice queue resume --domain example.com
  sluice queue flush --domain example.com      # retry now
  sluice queue purge --domain example.com [--dsn=false]`,
	}
	cmd.PersistentFlags().StringVar(&server, "server", "127.0.0.1:8080", "the node's HTTP admin address")
	cmd.PersistentFlags().StringVar(&vmta, "vmta", "", "only queues of this vmta")
	cmd.PersistentFlags().StringVar(&domain, "domain", "", "only queues of this destination domain")
	call := func(method, path string, extra url.Values) ([]byte, error) {
		q := url.Values{}
		if vmta != "" {
			q.Set("vmta", vmta)
		}
		if domain != "" {
			q.Set("domain", domain)
		}
		for k, v := range extra {
			q[k] = v
		}
		return adminCall(server, method, path+"?"+q.Encode())
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List queues with their recipient counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := call(http.MethodGet, "/admin/queues", nil)
			if err != nil {
				return err
			}
			var res struct {
				Queues []engine.QueueInfo
				Totals struct {
					ByPool     map[string]int64 `json:"by_pool"`
					ByCampaign map[string]int64 `json:"by_campaign"`
				}
			}
			if err := json.Unmarshal(body, &res); err != nil {
				return err
			}
			defer func() {
				out := cmd.OutOrStdout()
				for _, t := range []struct {
					name string
					m    map[string]int64
				}{{"pool", res.Totals.ByPool}, {"campaign", res.Totals.ByCampaign}} {
					for _, k := range sortedKeys(t.m) {
						fmt.Fprintf(out, "%s %s: %d recipients\n", t.name, k, t.m[k])
					}
				}
			}()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VMTA\tDOMAIN\tRECIPIENTS\tNEXT DUE\tPAUSED")
			for _, q := range res.Queues {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\n", q.VMTA, q.Domain, q.Recipients, q.EarliestDue.Format(time.RFC3339), q.Paused)
			}
			return tw.Flush()
		},
	}
	action := func(name, short string, extra func() url.Values) *cobra.Command {
		return &cobra.Command{
			Use:   name,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				var ex url.Values
				if extra != nil {
					ex = extra()
				}
				body, err := call(http.MethodPost, "/admin/queues/"+name, ex)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(body)
				return err
			},
		}
	}
	var dsn, all bool
	purge := action("purge", "Remove the matching queues' mail (with DSNs to senders unless --dsn=false)", func() url.Values {
		return url.Values{"dsn": {fmt.Sprint(dsn)}, "all": {fmt.Sprint(all)}}
	})
	purge.Flags().BoolVar(&dsn, "dsn", true, "send a DSN to each sender")
	purge.Flags().BoolVar(&all, "all", false, "allow purging every queue when no filter is given")
	trace := &cobra.Command{
		Use:   "trace QUEUE-ID [RECIPIENT]",
		Short: "Explain why a message's recipients are not delivered yet",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"id": {args[0]}}
			if len(args) == 2 {
				q.Set("rcpt", args[1])
			}
			body, err := adminCall(server, http.MethodGet, "/admin/trace?"+q.Encode())
			if err == nil {
				_, err = cmd.OutOrStdout().Write(body)
			}
			return err
		},
	}
	cmd.AddCommand(ls, trace,
		action("pause", "Pause delivery of the matching queues (mail stays queued)", nil),
		action("resume", "Resume the matching queues", nil),
		action("flush", "Retry the matching queues' mail now", nil),
		purge)
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
