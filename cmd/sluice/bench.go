package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/bench/run"
	"github.com/sluice-mta/sluice/bench/scenarios"
)

// newBenchCmd is `sluice bench`: run the shipped benchmark scenarios.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run benchmark scenarios against Sluice on loopback (sink, fake DNS, serve)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchRunCmd(), newBenchListCmd(), newBenchCompareCmd(), newBenchScalingCmd())
	return cmd
}

// benchFlags are the flags `bench run` and `bench compare` share.
type benchFlags struct {
	opts      run.Options
	jsonPath  string
	chartPath string
	inject    string
	count     int
	verbose   bool
	quiet     bool
}

func (bf *benchFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&bf.opts.Target, "target", "", "SMTP address of a running Sluice (default: start one)")
	f.StringVar(&bf.opts.TargetHTTP, "target-http", "", "with --target: its HTTP address, for /metrics")
	f.IntVar(&bf.opts.TargetPID, "target-pid", 0, "with --target: its pid, for CPU time and memory")
	f.StringVar(&bf.opts.SinkAddr, "sink", "127.0.0.1:0", "sink listen address (fix it for --target)")
	f.StringVar(&bf.opts.DNSAddr, "dns", "127.0.0.1:0", "fake DNS listen address (fix it for --target)")
	f.StringVar(&bf.opts.Bin, "bin", "", "sluice binary to start as the server (default: this one)")
	f.StringVar(&bf.opts.Dir, "dir", "", "work directory, kept afterwards (default: a temp dir, removed)")
	f.StringVar(&bf.jsonPath, "json", "", "also write the report as JSON to this file")
	f.IntVar(&bf.count, "count", 0, "override the scenario's message count")
	f.StringVar(&bf.inject, "inject", "", "override the scenario's injection: smtp, grpc, grpc-batch or grpc-stream")
	f.BoolVarP(&bf.verbose, "verbose", "v", false, "log the runner's steps to stderr")
	f.BoolVarP(&bf.quiet, "quiet", "q", false, "no progress line")
}

// load returns the named scenario with the flags' overrides.
func (bf *benchFlags) load(name string) (scenarios.Scenario, error) {
	sc, err := scenarios.Load(name)
	if err != nil {
		return sc, err
	}
	if bf.count > 0 {
		sc.Count = bf.count
	}
	if bf.inject != "" {
		sc.Inject = bf.inject
		if err := sc.Validate(); err != nil {
			return sc, fmt.Errorf("--inject: %w", err)
		}
	}
	level := slog.LevelWarn
	if bf.verbose {
		level = slog.LevelInfo
	}
	bf.opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if !bf.quiet {
		bf.opts.Progress = os.Stderr
	}
	return sc, nil
}

// signalContext is cmd's context, cancelled by SIGINT or SIGTERM.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
}

func newBenchRunCmd() *cobra.Command {
	var bf benchFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario (a shipped name or a .yaml file) and report throughput, latency, CPU and memory",
		Long: `Run a benchmark scenario end to end on loopback: start a sink and a fake DNS,
start 'sluice serve' on a temporary spool (or use --target), inject the
scenario's mail, wait until every recipient is delivered or bounced, and
print a report (and --json FILE). Exit status 1 if the accounting does not add
up or the run timed out.

--inject overrides how mail goes in (smtp, grpc, grpc-batch, grpc-stream);
--chart FILE draws delivered/s and queue depth over time as SVG. A scenario
may carry a sink profile (shares of defers, bounces and 421s by domain,
reply delays, caps), dead-MX domains whose recipients stay deferred, or a
kill -9 of the server mid-run (crash: the report counts acknowledged
recipients never delivered, which must be 0).

Shipped scenarios: ` + fmt.Sprint(scenarios.Names()) + `

  sluice bench run small --json small.json
  sluice bench run realistic --chart realistic.svg
  sluice bench run crash`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := bf.load(args[0])
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			rep, err := run.Run(ctx, sc, bf.opts)
			if err != nil {
				return err
			}
			if bf.chartPath != "" {
				if err := rep.WriteChartFile(bf.chartPath); err != nil {
					return err
				}
			}
			return reportBench(cmd, rep, bf.jsonPath)
		},
	}
	bf.register(cmd)
	cmd.Flags().StringVar(&bf.chartPath, "chart", "", "also draw delivered/s and queue depth over time to this SVG file")
	return cmd
}

// reportBench prints rep, writes it to jsonPath if set, and fails unless
// the run was correct.
func reportBench(cmd *cobra.Command, rep *run.Report, jsonPath string) error {
	if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
		return err
	}
	if jsonPath != "" {
		if err := rep.WriteJSONFile(jsonPath); err != nil {
			return err
		}
	}
	if !rep.Correct {
		return &exitError{code: 1, err: fmt.Errorf("bench %s: accounting does not add up or timed out", rep.Scenario)}
	}
	return nil
}

func newBenchListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the shipped scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range scenarios.Names() {
				sc, err := scenarios.Load(n)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-12s %s\n", n, sc.Description)
			}
			return nil
		},
	}
}

func newBenchCompareCmd() *cobra.Command {
	var (
		bf benchFlags
		co run.CompareOptions
	)
	cmd := &cobra.Command{
		Use:   "compare SCENARIO",
		Short: "Run a scenario beside the loopback limit and a Postfix relay, and print the ratios",
		Long: `Measure, in one run and each into a fresh sink that counts:

  loopback limit  smtp-source -> sink (no queue at all)
  postfix         smtp-source -> a private Postfix relay -> sink (durable)
  sluice          smtp-source -> sluice serve -> sink (durable)
  sluice          the scenario as 'bench run' runs it (Sluice's own injector)

The smtp-source rows send the scenario's count, size and recipients over its
sessions. Postfix runs as a private instance under a temp dir (config, queue
and data directories of its own, its own port on 127.0.0.1), relaying to the
sink with Sluice's delivery limits; bench/peers/postfix.sh sets it up. It
needs Postfix installed (make bench-deps) and root; --postfix=false leaves
it out. Prints every row and Sluice's delivered msgs/s over Postfix's, over
the loopback limit and over half of it (--json FILE for all of it).

  sluice bench compare small --json compare-small.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := bf.load(args[0])
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			c, err := run.Compare(ctx, sc, bf.opts, co)
			if err != nil {
				return err
			}
			if err := c.WriteTable(cmd.OutOrStdout()); err != nil {
				return err
			}
			if bf.jsonPath != "" {
				if err := c.WriteJSONFile(bf.jsonPath); err != nil {
					return err
				}
			}
			if !c.Correct() {
				return &exitError{code: 1, err: fmt.Errorf("bench compare %s: a row did not deliver everything exactly once", sc.Name)}
			}
			return nil
		},
	}
	bf.register(cmd)
	cmd.Flags().StringVar(&co.SMTPSource, "smtp-source", run.DefaultSMTPSource, "Postfix smtp-source binary")
	cmd.Flags().BoolVar(&co.Postfix, "postfix", true, "also measure a private Postfix relay (needs Postfix and root)")
	return cmd
}

func newBenchScalingCmd() *cobra.Command {
	var jsonPath string
	cmd := &cobra.Command{
		Use:   "scaling REPORT...",
		Short: "Summarise 'bench run' reports taken at several core counts (SCENARIO-Ncores.json)",
		Long: `Read 'bench run --json' reports named SCENARIO-Ncores.json (the server had N
cores) and print, per scenario and core count, delivered msgs/s, the speed-up
over the fewest cores measured, and the server's CPU seconds per 1,000
messages. The bench bundle's scale.sh (make bench-static) writes such reports.

  sluice bench scaling out/small-1cores.json out/small-2cores.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pts, err := run.LoadScaling(args)
			if err != nil {
				return err
			}
			if err := run.WriteScalingTable(cmd.OutOrStdout(), pts); err != nil {
				return err
			}
			if jsonPath != "" {
				b, err := json.MarshalIndent(pts, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("bench scaling: %w", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&jsonPath, "json", "", "also write the summary as JSON to this file")
	return cmd
}
