package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/engine"
)

// adminCall sends one request to a node's HTTP admin port.
func adminCall(server, method, path string) ([]byte, error) {
	req, err := http.NewRequest(method, "http://"+server+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req) // a flush or purge of a big queue takes a while
	if err != nil {
		return nil, fmt.Errorf("is a node running with listen.http %s? %w", server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return body, nil
}

func newVMTACmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{Use: "vmta", Short: "List, disable or enable the virtual MTAs of a running node"}
	cmd.PersistentFlags().StringVar(&server, "server", "127.0.0.1:8080", "the node's HTTP admin address")
	ls := &cobra.Command{
		Use: "ls", Short: "List virtual MTAs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := adminCall(server, http.MethodGet, "/admin/vmtas")
			if err != nil {
				return err
			}
			var res struct{ VMTAs []engine.VMTAInfo }
			if err := json.Unmarshal(body, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE IP\tHELO\tDISABLED\tQUEUED")
			for _, v := range res.VMTAs {
				state := fmt.Sprint(v.Disabled)
				if v.Removed {
					state += " (removed, draining)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", v.Name, v.SourceIP, v.HELO, state, v.Queued)
			}
			return tw.Flush()
		},
	}
	toggle := func(action string) *cobra.Command {
		return &cobra.Command{
			Use: action + " NAME", Short: action + " a vmta (disabled: no new mail, its queues paused)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				body, err := adminCall(server, http.MethodPost, "/admin/vmtas/"+args[0]+"/"+action)
				if err == nil {
					_, err = cmd.OutOrStdout().Write(body)
				}
				return err
			},
		}
	}
	cmd.AddCommand(ls, toggle("disable"), toggle("enable"))
	return cmd
}

func newPoolCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{Use: "pool", Short: "List the IP pools of a running node"}
	cmd.PersistentFlags().StringVar(&server, "server", "127.0.0.1:8080", "the node's HTTP admin address")
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Short: "List pools and their weighted members", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := adminCall(server, http.MethodGet, "/admin/pools")
			if err != nil {
				return err
			}
			var res struct{ Pools []engine.PoolInfo }
			if err := json.Unmarshal(body, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POOL\tMEMBERS")
			for _, p := range res.Pools {
				ms := ""
				for i, m := range p.Members {
					if i > 0 {
						ms += ", "
					}
					ms += fmt.Sprintf("%s (weight %d)", m.VMTA, m.Weight)
				}
				fmt.Fprintf(tw, "%s\t%s\n", p.Name, ms)
			}
			return tw.Flush()
		},
	})
	return cmd
}
