package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// newSuppressCmd administers the suppression list of a running node.
func newSuppressCmd() *cobra.Command {
	var scope, reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "suppress",
		Short: "List, add, remove or import suppressed recipients of a running node",
		Long: `The suppression list of a running node, through its API (the REST gateway on
listen.http): recipients never to mail again, globally (scope "") or for one sender domain
or tenant (--scope).

  sluice suppress ls [--scope S]                 # every scope unless --scope ("" = global)
  sluice suppress add ADDR... [--scope S] [--reason R]
  sluice suppress rm ADDR [--scope S]
  sluice suppress import FILE.csv [--scope S] [--reason R]   # rows address[,scope[,reason]]`,
	}
	client := apiFlags(cmd)
	cmd.PersistentFlags().StringVar(&scope, "scope", "", `sender domain or tenant; "" for every sender`)

	ls := &cobra.Command{
		Use: "ls [--scope S]", Short: "List suppressed recipients (every scope unless --scope)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := client()
			q := url.Values{"page_size": {"1000"}}
			if f := cmd.Flag("scope"); f != nil && f.Changed {
				q.Set("scope", scope)
			}
			var all pb.ListSuppressionsResponse
			for {
				var res pb.ListSuppressionsResponse
				if err := c.call(http.MethodGet, "/v1/suppressions?"+q.Encode(), nil, &res); err != nil {
					return err
				}
				all.Suppressions = append(all.Suppressions, res.GetSuppressions()...)
				if res.GetNextPageToken() == "" {
					break
				}
				q.Set("page_token", res.GetNextPageToken())
			}
			if asJSON {
				return printJSON(cmd, &all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ADDRESS\tSCOPE\tREASON\tADDED\tSOURCE")
			for _, s := range all.GetSuppressions() {
				sc := s.GetScope()
				if sc == "" {
					sc = "(global)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.GetAddress(), sc, s.GetReason(),
					s.GetCreatedAt().AsTime().Format(time.RFC3339), s.GetSource())
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d suppressed\n", len(all.GetSuppressions()))
			return nil
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	add := &cobra.Command{
		Use: "add ADDR... [--scope S] [--reason R]", Short: "Suppress recipients", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &pb.AddSuppressionsRequest{}
			for _, a := range args {
				req.Entries = append(req.Entries, &pb.Suppression{Address: a, Scope: scope, Reason: reason})
			}
			var res pb.AddSuppressionsResponse
			if err := client().call(http.MethodPost, "/v1/suppressions", req, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d added (%d already suppressed)\n", res.GetAdded(), len(args)-int(res.GetAdded()))
			return nil
		},
	}
	add.Flags().StringVar(&reason, "reason", "", `why (default "manual")`)

	rm := &cobra.Command{
		Use: "rm ADDR [--scope S]", Short: "Lift the suppression of a recipient in one scope", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if strings.Contains(args[0], "/") { // no path carries it: the body form
				err = client().call(http.MethodPost, "/v1/suppressions:delete",
					&pb.DeleteSuppressionRequest{Address: args[0], Scope: scope}, &pb.DeleteSuppressionResponse{})
			} else {
				path := "/v1/suppressions/" + url.PathEscape(args[0]) + "?" + url.Values{"scope": {scope}}.Encode()
				err = client().call(http.MethodDelete, path, nil, &pb.DeleteSuppressionResponse{})
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s no longer suppressed%s\n", args[0], scopeNote(scope))
			return nil
		},
	}

	imp := &cobra.Command{
		Use: "import FILE.csv [--scope S] [--reason R]", Short: "Suppress the rows of a CSV file (all or none; \"-\" reads stdin)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readFileOrStdin(cmd, args[0])
			if err != nil {
				return err
			}
			var res pb.AddSuppressionsResponse
			req := &pb.ImportSuppressionsRequest{Csv: string(b), Scope: scope, Reason: reason}
			if err := client().call(http.MethodPost, "/v1/suppressions:import", req, &res); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d added\n", res.GetAdded())
			return nil
		},
	}
	imp.Flags().StringVar(&reason, "reason", "", `reason of rows that give none (default "import")`)
	cmd.AddCommand(ls, add, rm, imp)
	return cmd
}

// scopeNote is " in scope S", or "" for the global scope.
func scopeNote(scope string) string {
	if scope == "" {
		return ""
	}
	return " in scope " + strconv.Quote(scope)
}
