package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/engine/spool"
)

func newSpoolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spool",
		Short: "Work on a spool directory offline",
	}
	cmd.AddCommand(newSpoolInspectCmd())
	return cmd
}

// inspectReport is the JSON printed by `spool inspect --json`.
type inspectReport struct {
	Messages   int64            `json:"messages"`
	Recipients int64            `json:"recipients"`
	BodyBytes  int64            `json:"body_bytes"`
	ByDomain   map[string]int64 `json:"by_domain"`
	ByVMTA     map[string]int64 `json:"by_vmta"`
}

func newSpoolInspectCmd() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect --dir DIR",
		Short: "Print what a stopped node's spool holds (like postqueue -p)",
		Long: `Open a stopped node's spool read-only and print its message and recipient counts,
per destination domain. With --json print {"messages": N, "recipients": M, ...}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sp, err := spool.Open(spool.Options{Dir: dir, ReadOnly: true})
			if err != nil {
				return fmt.Errorf("open spool %s (is a node still running on it?): %w", dir, err)
			}
			defer sp.Close()
			st := sp.Stats()
			rep := inspectReport{Messages: st.Messages, Recipients: st.Recipients, BodyBytes: st.BodyBytes,
				ByDomain: st.ByDomain, ByVMTA: st.ByVMTA}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(out, "spool %s: %d messages, %d recipients, %d body bytes\n\n", dir, rep.Messages, rep.Recipients, rep.BodyBytes)
			domains := make([]string, 0, len(rep.ByDomain))
			for d := range rep.ByDomain {
				domains = append(domains, d)
			}
			sort.Slice(domains, func(i, j int) bool {
				if rep.ByDomain[domains[i]] != rep.ByDomain[domains[j]] {
					return rep.ByDomain[domains[i]] > rep.ByDomain[domains[j]]
				}
				return domains[i] < domains[j]
			})
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tRECIPIENTS")
			for _, d := range domains {
				fmt.Fprintf(tw, "%s\t%d\n", d, rep.ByDomain[d])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "./data", "spool directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
