package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// newFeedbackCmd shows and lifts the feedback actions of a running node
// and posts inbound reports to it.
func newFeedbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feedback",
		Short: "Feedback actions in force, their lift, and inbound bounce and complaint reports",
		Long: `Feedback of a running node, through its API (the REST gateway on listen.http).

  sluice feedback actions                        # backoffs, suspensions... by vmta and MX site
  sluice feedback lift VMTA [--site S] [--kind K]
  sluice feedback report --kind complaint FILE   # an ARF report, as received ("-": stdin)
  sluice feedback report --kind bounce --rcpt VERP-ADDRESS FILE
  sluice feedback unreadable                     # reports kept because they could not be read`,
	}
	client := apiFlags(cmd)
	var asJSON bool
	actions := &cobra.Command{
		Use: "actions", Short: "List the actions in force", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.ListActionsResponse
			if err := client().call(http.MethodGet, "/v1/actions", nil, &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, &res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VMTA\tSITE\tGROUP\tKIND\tUNTIL\tCAUSE")
			for _, a := range res.GetActions() {
				until := "quiet"
				if a.GetExpiry() != nil {
					until = a.GetExpiry().AsTime().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.GetVmta(), a.GetSite(), a.GetGroup(), a.GetKind(), until, a.GetCause())
			}
			return tw.Flush()
		},
	}
	actions.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var site, kind string
	lift := &cobra.Command{
		Use: "lift VMTA [--site S] [--kind K]", Short: "End the actions in force for a vmta (every site and kind by default)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.LiftActionResponse
			if err := client().call(http.MethodPost, "/v1/actions:lift", &pb.LiftActionRequest{Vmta: args[0], Site: site, Kind: kind}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d action(s) lifted\n", res.GetLifted())
			return nil
		},
	}
	lift.Flags().StringVar(&site, "site", "", "only this MX site (as `feedback actions` shows it)")
	lift.Flags().StringVar(&kind, "kind", "", "only this kind: backoff, suspend, disable-source-ip or bounce-all")

	var reportKind, rcpt string
	report := &cobra.Command{
		Use:   "report --kind bounce|complaint [--rcpt ADDR] FILE",
		Short: "Post an inbound bounce or ARF complaint as received (FILE \"-\" reads stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg, err := readFileOrStdin(cmd, args[0])
			if err != nil {
				return err
			}
			var res pb.FeedbackResult
			req := &pb.ReportFeedbackRequest{Kind: reportKind, Recipient: rcpt, Message: msg}
			if err := client().call(http.MethodPost, "/v1/feedback:report", req, &res); err != nil {
				return err
			}
			return printJSON(cmd, &res)
		},
	}
	report.Flags().StringVar(&reportKind, "kind", "", "bounce or complaint")
	report.Flags().StringVar(&rcpt, "rcpt", "", "the address the report was sent to (a bounce's VERP return path)")
	_ = report.MarkFlagRequired("kind")

	var withMessages bool
	unreadable := &cobra.Command{
		Use: "unreadable", Short: "List the inbound reports kept because they could not be read", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res pb.ListBadFeedbackResponse
			q := url.Values{}
			if withMessages {
				q.Set("include_messages", "true")
				asJSON = true
			}
			if err := client().call(http.MethodGet, "/v1/feedback/unreadable?"+q.Encode(), nil, &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, &res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RECEIVED\tKIND\tSIZE\tKEY\tERROR")
			for _, b := range res.GetReports() {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", b.GetReceivedAt().AsTime().Format(time.RFC3339), b.GetKind(), b.GetSize(),
					b.GetKey(), b.GetError())
			}
			return tw.Flush()
		},
	}
	unreadable.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	unreadable.Flags().BoolVar(&withMessages, "messages", false, "include each report's text (JSON, base64)")
	cmd.AddCommand(actions, lift, report, unreadable)
	return cmd
}

// readFileOrStdin reads path, or the command's input for "-".
func readFileOrStdin(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(path)
}
