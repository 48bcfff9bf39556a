// Command sluice is the Sluice bulk-mail engine: one binary for the server
// (`serve`), its tools (`inject`, `sink`, `spool inspect`) and `version`.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a process exit status up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCodeConfig is the status for a bad configuration (as sysexits' EX_USAGE is 64; we keep 2 like flag errors).
const exitCodeConfig = 2

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Sluice: a high-volume bulk and marketing mail engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newInjectCmd(), newSinkCmd(), newSpoolCmd(), newQueueCmd(), newVMTACmd(), newPoolCmd(), newBenchCmd(), newAPIKeyCmd(), newWarmupCmd(), newFeedbackCmd(), newSuppressCmd(), newVersionCmd(), newHashPasswordCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "sluice %s\n", version)
		},
	}
}
