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
	"strings"
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
		profile  string
		ips      int
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

With --profile (a shipped name: gmail, yahoo, outlook, providers; or a YAML
file) recipients whose domain is in one of the profile's groups get its shares
of 250 / 4xx / 5xx / 421, its reply texts and delays; its limits cap messages
per connection and connections per client IP (421 beyond them). GET /stats
adds peers, peak connections and replies by group.

With --dns it also serves DNS: every *.test domain has MX mx.<domain> (or one
of --mx-hosts shared hosts, mx<k>.test, which resolves to the k-th --listen
address, cyclically). --loopback-ips N listens on 127.0.0.1 .. 127.0.0.N at
the first --listen port.

  sluice sink --listen 127.0.0.1:2526 --http 127.0.0.1:2580 --dns 127.0.0.1:5353
  sluice sink --profile gmail --loopback-ips 8 --mx-hosts 64 --dns 127.0.0.1:5353`,
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
			if profile != "" {
				p, err := sink.LoadProfile(profile)
				if err != nil {
					return fmt.Errorf("--profile: %w", err)
				}
				cfg.Profile = p
			}
			listen, err := loopbackListen(listen, ips)
			if err != nil {
				return err
			}
			s := sink.New(cfg)
			defer s.Close()
			errc := make(chan error, len(listen)+1)
			var addrs []net.Addr
			for _, addr := range listen {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("--listen %s: %w", addr, err)
				}
				addrs = append(addrs, ln.Addr())
				go func() { errc <- s.Serve(ln) }()
			}
			if dnsAddr != "" {
				ds, err := sink.StartDNSSpread(dnsAddr, mxHosts, addrs)
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
			err = nil
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
	f.StringVar(&profile, "profile", "", "behaviour profile: a shipped name ("+strings.Join(sink.ProfileNames(), ", ")+") or a YAML file")
	f.IntVar(&ips, "loopback-ips", 0, "listen on 127.0.0.1 .. 127.0.0.N at the first --listen port (0: only --listen)")
	return cmd
}

// loopbackListen returns listen, or with n > 0 the addresses 127.0.0.1 ..
// 127.0.0.n at the port of listen's first address.
func loopbackListen(listen []string, n int) ([]string, error) {
	if n == 0 {
		return listen, nil
	}
	if n < 0 || n > 254 {
		return nil, fmt.Errorf("--loopback-ips %d: want 1 to 254", n)
	}
	_, port, err := net.SplitHostPort(listen[0])
	if err != nil || port == "0" {
		return nil, fmt.Errorf("--loopback-ips needs a fixed port in --listen, got %q", listen[0])
	}
	out := make([]string, n)
	for i := range out {
		out[i] = net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i+1), port)
	}
	return out, nil
}
