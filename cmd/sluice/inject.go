package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/bench/inject"
	"github.com/sluice-mta/sluice/configs"
)

func newInjectCmd() *cobra.Command {
	var (
		cfg      inject.Config
		size     string
		headers  []string
		asJSON   bool
		quiet    bool
		deadline time.Duration
		mode     string
	)
	cmd := &cobra.Command{
		Use:   "inject (--to-smtp HOST:PORT | --grpc HOST:PORT)",
		Short: "Inject generated test mail over SMTP or gRPC and report throughput and latency",
		Long: `Inject generated messages into an SMTP server (a Sluice node, a sink, or any MTA)
or a Sluice node's gRPC Injector, and report acknowledged messages (and
recipients) per second and the latency of the acknowledgement: the final 250,
the Inject or InjectBatch reply, or the stream ack.

  sluice inject --to-smtp 127.0.0.1:2525 --count 1000 --concurrency 20 --size 4KB
  sluice inject --grpc 127.0.0.1:2970 --mode stream --count 100000 --concurrency 8
  sluice inject --grpc 127.0.0.1:2970 --mode batch --count 100000 --batch-size 1000 --concurrency 4

--mode is inject (one Inject call per message), batch (InjectBatch calls of
--batch-size recipients; --count then counts recipients) or stream
(--concurrency InjectStream streams; the default). --api-key (or
$SLUICE_API_KEY) is sent as "authorization: Bearer <key>".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := setInjectMode(cmd, &cfg, mode); err != nil {
				return err
			}
			n, err := configs.ParseSize(size)
			if err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			cfg.Size = int(n)
			if len(headers) > 0 {
				cfg.Headers = map[string]string{}
				for _, h := range headers {
					k, v, ok := strings.Cut(h, ":")
					if !ok {
						return fmt.Errorf("--header %q: want Name: value", h)
					}
					cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
			cfg.SetDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, deadline)
				defer cancel()
			}
			progress := func(done, failed int) {
				if !quiet {
					fmt.Fprintf(os.Stderr, "\r%d/%d done, %d failed", done, cfg.Count, failed)
				}
			}
			res, err := inject.Run(ctx, cfg, progress)
			if !quiet {
				fmt.Fprintln(os.Stderr)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), res.String())
			}
			if res.Failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d %s failed", res.Failed, cfg.Count, res.Unit)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Target, "to-smtp", "", "SMTP server to inject into (host:port)")
	f.StringVar(&cfg.GRPCTarget, "grpc", "", "gRPC Injector to inject into (host:port, plaintext)")
	f.StringVar(&mode, "mode", "stream", "with --grpc: inject, batch or stream")
	f.IntVar(&cfg.BatchSize, "batch-size", inject.DefaultBatchSize, "recipients per InjectBatch (--mode batch)")
	f.StringVar(&cfg.APIKey, "api-key", "", "API key for --grpc (default $SLUICE_API_KEY)")
	f.IntVar(&cfg.Count, "count", 1000, "messages to send (recipients with --mode batch)")
	f.IntVar(&cfg.Concurrency, "concurrency", 10, "parallel SMTP sessions, gRPC callers or streams")
	f.StringVar(&size, "size", "4KB", "approximate message size (e.g. 1KB, 100KB)")
	f.IntVar(&cfg.Recipients, "rcpts", 1, "recipients per message")
	f.IntVar(&cfg.Domains, "domains", 100, "spread recipients over d0.test .. dN-1.test")
	f.StringVar(&cfg.From, "from", "bench@sluice.test", "MAIL FROM address")
	f.IntVar(&cfg.MessagesPerConnection, "per-conn", 100, "messages per connection (1 = a connection per message)")
	f.StringVar(&cfg.LocalAddr, "source-ip", "", "source IP to dial from")
	f.StringArrayVar(&headers, "header", nil, "extra header, e.g. 'X-Sluice-Pool: bulk' (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	f.DurationVar(&deadline, "timeout", 0, "give up after this long (0 = no limit)")
	cmd.MarkFlagsMutuallyExclusive("to-smtp", "grpc")
	cmd.MarkFlagsOneRequired("to-smtp", "grpc")
	return cmd
}

// setInjectMode sets cfg.Mode from --grpc and --mode, and cfg.APIKey from
// $SLUICE_API_KEY when --api-key is not given.
func setInjectMode(cmd *cobra.Command, cfg *inject.Config, mode string) error {
	if cfg.GRPCTarget == "" {
		for _, name := range []string{"mode", "batch-size", "api-key"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s needs --grpc", name)
			}
		}
		cfg.Mode = inject.ModeSMTP
		return nil
	}
	switch mode {
	case "inject":
		cfg.Mode = inject.ModeGRPC
	case "batch":
		cfg.Mode = inject.ModeGRPCBatch
	case "stream":
		cfg.Mode = inject.ModeGRPCStream
	default:
		return fmt.Errorf("--mode %q: want inject, batch or stream", mode)
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("SLUICE_API_KEY")
	}
	return nil
}
