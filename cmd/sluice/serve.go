package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sluice-mta/sluice/api"
	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/receive"
)

func newServeCmd() *cobra.Command {
	var configPath string
	var checkOnly bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine (SMTP injection, spool, HTTP health and metrics)",
		Long: `Run the engine. With no --config it runs the embedded default configuration
(configs/sluice.yaml). A bad configuration exits with status 2, naming the key and
line, before the spool is touched. --check-config validates and prints the
effective configuration, then exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := configs.Load(configPath)
			if err != nil {
				name := configPath
				if name == "" {
					name = configs.DefaultName
				}
				return &exitError{code: exitCodeConfig, err: fmt.Errorf("%s: %w", name, err)}
			}
			if checkOnly {
				out, err := cfg.YAML()
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "# effective configuration (%s is valid)\n%s", nameOr(configPath), out)
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, configPath)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "configuration file (default: the embedded configs/sluice.yaml)")
	cmd.Flags().BoolVar(&checkOnly, "check-config", false, "validate the configuration, print the effective one and exit")
	return cmd
}

func nameOr(path string) string {
	if path == "" {
		return configs.DefaultName
	}
	return path
}

// newLogger makes the node's logger on stderr in cfg's format; its level is
// the returned LevelVar, which a reload sets (the format needs a restart).
func newLogger(cfg configs.Log) (*slog.Logger, *slog.LevelVar) {
	lv := &slog.LevelVar{}
	setLevel(lv, cfg.Level)
	opts := &slog.HandlerOptions{Level: lv}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), lv
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), lv
}

// setLevel sets lv to a validated log.level (debug, info, warn, error).
func setLevel(lv *slog.LevelVar, level string) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	lv.Set(l)
}

// serve runs the node until ctx is done, then shuts down in order:
// listeners first (no new mail), then the engine (spool closed last).
func serve(ctx context.Context, cfg *configs.Config, configPath string) error {
	log, level := newLogger(cfg.Log)
	slog.SetDefault(log)
	rcfg, err := receiveConfig(cfg, log)
	if err != nil {
		return &exitError{code: exitCodeConfig, err: err}
	}
	// Bind the listeners before opening the spool so that a port clash
	// fails fast and leaves the spool alone.
	var smtpLn, httpLn, grpcLn net.Listener
	if cfg.Listen.SMTP != "" {
		if smtpLn, err = net.Listen("tcp", cfg.Listen.SMTP); err != nil {
			return fmt.Errorf("listen.smtp: %w", err)
		}
	}
	if cfg.Listen.HTTP != "" {
		if httpLn, err = net.Listen("tcp", cfg.Listen.HTTP); err != nil {
			closeIf(smtpLn)
			return fmt.Errorf("listen.http: %w", err)
		}
	}
	if cfg.Listen.GRPC != "" {
		if grpcLn, err = net.Listen("tcp", cfg.Listen.GRPC); err != nil {
			closeIf(smtpLn)
			closeIf(httpLn)
			return fmt.Errorf("listen.grpc: %w", err)
		}
	}
	eng, err := engine.New(cfg, engine.Deps{Logger: log})
	if err != nil {
		closeIf(smtpLn)
		closeIf(httpLn)
		closeIf(grpcLn)
		var ce *configs.Error
		if errors.As(err, &ce) {
			return &exitError{code: exitCodeConfig, err: err}
		}
		return err
	}
	defer eng.Close()
	apiSrv, err := api.New(apiOptions(cfg, eng, log))
	if err != nil {
		closeIf(smtpLn)
		closeIf(httpLn)
		closeIf(grpcLn)
		return &exitError{code: exitCodeConfig, err: err}
	}

	errc := make(chan error, 3)
	apiTLS, err := apiTLSConfig(cfg)
	if err != nil {
		return &exitError{code: exitCodeConfig, err: err}
	}
	var grpcOpts []grpc.ServerOption
	if apiTLS != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(apiTLS)))
	}
	grpcSrv := apiSrv.GRPCServer(grpcOpts...)
	if grpcLn != nil {
		go func() { errc <- grpcSrv.Serve(grpcLn) }()
	}
	var smtpSrv *receive.Server
	if smtpLn != nil {
		rcfg.LocalRecipient = eng.IsFeedbackRecipient // bounces and complaints come from anywhere
		if smtpSrv, err = receive.NewServer(rcfg, eng.SMTPSubmitter()); err != nil {
			return err
		}
		go func() { errc <- smtpSrv.Serve(smtpLn) }()
	}
	var httpSrv *http.Server
	if httpLn != nil {
		rest, err := apiSrv.RESTHandler(ctx)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/", api.NewHTTPHandler(eng))
		mux.Handle("/v1/", rest)
		httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: apiTLS}
		go func() {
			if apiTLS != nil {
				errc <- httpSrv.ServeTLS(httpLn, "", "")
				return
			}
			errc <- httpSrv.Serve(httpLn)
		}()
	}
	log.Info("sluice serving", "version", version, "smtp", addrOf(smtpLn), "http", addrOf(httpLn), "grpc", addrOf(grpcLn),
		"spool", cfg.Spool.Dir)
	go reloadOnHUP(ctx, eng, configPath, log, level)

	select {
	case <-ctx.Done():
	case err = <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener failed", "err", err)
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if smtpSrv != nil {
		_ = smtpSrv.Shutdown(sctx)
	}
	if httpSrv != nil {
		_ = httpSrv.Shutdown(sctx)
	}
	// An open InjectStream can hold GracefulStop forever: cut it after 30 s.
	stopTimer := time.AfterFunc(30*time.Second, grpcSrv.Stop)
	grpcSrv.GracefulStop()
	stopTimer.Stop()
	return err
}

func closeIf(l net.Listener) {
	if l != nil {
		_ = l.Close()
	}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return "off"
	}
	return l.Addr().String()
}

// receiveConfig maps the file's smtp_in section onto the listener's Config.
func receiveConfig(cfg *configs.Config, log *slog.Logger) (receive.Config, error) {
	in := cfg.SMTPIn
	rc := receive.Config{
		Hostname:            in.Hostname,
		MaxMessageBytes:     int64(in.MaxMessageSize),
		MaxRecipients:       in.MaxRecipients,
		MaxLineLength:       in.MaxLineLength,
		RelayNetworks:       in.RelayNetworks,
		AllowInsecureAuth:   in.AllowInsecureAuth,
		MaxConnections:      in.MaxConnections,
		MaxConnectionsPerIP: in.MaxConnectionsPerIP,
		CommandTimeout:      in.CommandTimeout.D(),
		DataTimeout:         in.DataTimeout.D(),
		MinDataRate:         int64(in.MinDataRate),
		SessionTimeout:      in.SessionTimeout.D(),
		MaxBadCommands:      in.MaxBadCommands,
		MaxHeaderLines:      in.MaxHeaderLines,
		MaxHops:             in.MaxHops,
		MaxAuthFailures:     in.MaxAuthFailures,
		AuthFailuresPerIP:   in.AuthFailuresPerIP,
		AuthFailureWindow:   in.AuthFailureWindow.D(),
		Logger:              log,
	}
	for _, u := range in.Users {
		rc.Users = append(rc.Users, receive.User{Name: u.Name, PasswordHash: u.PasswordHash, FromDomains: u.FromDomains})
	}
	if in.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(in.TLS.Cert, in.TLS.Key)
		if err != nil {
			return rc, fmt.Errorf("config: line %d: smtp_in.tls: %v", cfg.Line("smtp_in.tls"), err)
		}
		rc.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	rc.SetDefaults()
	if err := rc.Validate(); err != nil {
		return rc, fmt.Errorf("config: smtp_in: %w", err)
	}
	return rc, nil
}

// reloadOnHUP reloads the configuration file on SIGHUP. A bad file is
// rejected whole, naming the key and line; the running configuration stays.
func reloadOnHUP(ctx context.Context, eng *engine.Engine, path string, log *slog.Logger, level *slog.LevelVar) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := configs.Load(path)
		if err == nil {
			err = eng.Reload(cfg)
		}
		if err != nil {
			log.Error("reload rejected; the running configuration stays", "file", nameOr(path), "err", err)
			continue
		}
		setLevel(level, cfg.Log.Level)
		log.Info("reloaded", "file", nameOr(path), "log_level", cfg.Log.Level)
	}
}

// apiOptions maps the api section onto the API server's options.
func apiOptions(cfg *configs.Config, eng *engine.Engine, log *slog.Logger) api.Options {
	o := api.Options{
		Submitter:               eng,
		Admin:                   eng,
		AllowLoopbackWithoutKey: cfg.API.AllowLoopbackWithoutKey,
		MaxMessageBytes:         int64(cfg.SMTPIn.MaxMessageSize),
		MaxRecipients:           cfg.SMTPIn.MaxRecipients,
		MaxBatchRecipients:      cfg.API.MaxBatchRecipients,
		StreamWindow:            cfg.API.StreamWindow,
		IdempotencyTTL:          cfg.API.IdempotencyTTL.D(),
		Idempotency:             eng.Idempotency(),
		KeyStore:                eng.APIKeys(),
		MessageIDDomain:         cfg.SMTPIn.Hostname,
		Logger:                  log.With("component", "api"),
	}
	for _, k := range cfg.API.Keys {
		o.Keys = append(o.Keys, api.Key{Name: k.Name, Hash: k.KeyHash, Role: api.Role(k.Role),
			SenderDomains: k.SenderDomains, Pools: k.Pools})
	}
	return o
}

// apiTLSConfig builds the API listeners' TLS configuration (nil: plain),
// requiring client certificates signed by api.tls.client_ca when set.
func apiTLSConfig(cfg *configs.Config) (*tls.Config, error) {
	t := cfg.API.TLS
	if t.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("config: line %d: api.tls: %v", cfg.Line("api.tls"), err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCA != "" {
		pem, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("config: line %d: api.tls.client_ca: %v", cfg.Line("api.tls.client_ca"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: line %d: api.tls.client_ca: no PEM certificate in %s", cfg.Line("api.tls.client_ca"), t.ClientCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}
