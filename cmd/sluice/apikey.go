package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/api"
)

func newAPIKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "api-key", Short: "Make API keys"}
	var name, role string
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Print a new random API key (shown once) and the config entry holding its hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch role {
			case "inject", "admin", "read":
			default:
				return fmt.Errorf("--role %q: want inject, admin or read", role)
			}
			plain, hash := api.NewKey()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "key (give it to the client; it is not stored): %s\n\n", plain)
			fmt.Fprintf(out, "api:\n  keys:\n    - {name: %s, key_hash: %q, role: %s}\n", name, hash, role)
			return nil
		},
	}
	newCmd.Flags().StringVar(&name, "name", "client", "key name (logs, idempotency scope)")
	newCmd.Flags().StringVar(&role, "role", "inject", "inject, admin or read")
	cmd.AddCommand(newCmd)
	return cmd
}
