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
		cfg      sink.Config
	)
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Run an SMTP sink that accepts all mail and counts it (GET /stats)",
		Long: `Run an SMTP sink for tests and benchmarks: it accepts every message, keeps none,
and serves counters as JSON at GET /stats (POST /reset zeroes them).

  sluice sink --listen 127.0.0.1:2526 --http 127.0.0.1:2580`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			s := sink.New(cfg)
			defer s.Close()
			errc := make(chan error, len(listen)+1)
			for _, addr := range listen {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("--listen %s: %w", addr, err)
				}
				go func() { errc <- s.Serve(ln) }()
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
	return cmd
}
