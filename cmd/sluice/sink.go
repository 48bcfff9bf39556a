package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-mta/sluice/bench/sink"
)

func newSinkCmd() *cobra.Command {
	var (
		listen   []string
		httpAddr string
		dnsAddr  string
		mxHosts  int
		cfg      sink.Config
	)
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Run an SMTP sink that accepts all mail and counts it (GET /stats)",
		Long: `Run an SMTP sink for tests and benchmarks: it accepts every message, keeps none,
and serves counters as JSON at GET /stats (POST /reset zeroes them).

With --behaviours (the default) it answers RCPT by the recipient's local part:
bounce* 550, defer* 451, throttle* 421 and hangs up, slow* waits --slow-delay
then 250; anyone else 250. Switch it at run time over HTTP:
  POST /behaviour?prefix=defer&reply=accept   (accept|bounce|defer|throttle|slow)
  POST /accept-all?on=true

With --dns it also serves DNS: every *.test domain has MX mx.<domain> (or one
of --mx-hosts shared hosts) with the first --listen address.

  sluice sink --listen 127.0.0.1:2526 --http 127.0.0.1:2580 --dns 127.0.0.1:5353`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			cfg.SetDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			if len(listen) == 0 {
				return errors.New("--listen: at least one address is needed")
			}
			s := sink.New(cfg)
			defer s.Close()
			errc := make(chan error, len(listen)+1)
			var first net.Addr
			for _, addr := range listen {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("--listen %s: %w", addr, err)
				}
				if first == nil {
					first = ln.Addr()
				}
				go func() { errc <- s.Serve(ln) }()
			}
			if dnsAddr != "" {
				ds, err := sink.StartDNS(dnsAddr, mxHosts, first)
				if err != nil {
					return fmt.Errorf("--dns %s: %w", dnsAddr, err)
				}
				defer ds.Close()
				cfg.Logger.Info("sink dns serving", "addr", ds.Addr(), "suffix", sink.DNSSuffix, "mx_hosts", mxHosts)
			}
			var hs *http.Server
			if httpAddr != "" {
				ln, err := net.Listen("tcp", httpAddr)
				if err != nil {
					return fmt.Errorf("--http %s: %w", httpAddr, err)
				}
				hs = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go func() { errc <- hs.Serve(ln) }()
			}
			cfg.Logger.Info("sink serving", "smtp", listen, "http", httpAddr)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			var err error
			select {
			case <-ctx.Done():
			case err = <-errc:
			}
			if hs != nil {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = hs.Shutdown(sctx)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&listen, "listen", []string{"127.0.0.1:2526"}, "SMTP listen addresses (repeatable or comma-separated)")
	f.StringVar(&httpAddr, "http", "127.0.0.1:2580", "HTTP address for /stats (empty: off)")
	f.StringVar(&cfg.Hostname, "hostname", "sink.test", "banner host name")
	f.BoolVar(&cfg.Behaviours, "behaviours", true, "script RCPT replies by local part (bounce*, defer*, throttle*, slow*)")
	f.DurationVar(&cfg.SlowDelay, "slow-delay", sink.DefaultSlowDelay, "RCPT delay for slow* recipients")
	f.BoolVar(&cfg.TrackDuplicates, "track-duplicates", false, "keep delivered addresses to count duplicates (memory per address)")
	f.StringVar(&dnsAddr, "dns", "", "also serve fake DNS for *.test on this address, UDP and TCP (empty: off)")
	f.IntVar(&mxHosts, "mx-hosts", 0, "with --dns: number of shared MX hosts (0: one MX per domain)")
	return cmd
}
