package api

import (
	"google.golang.org/grpc"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// Server implements the gRPC services: Injector over a Submitter and, when
// Options.Admin is set, Queues, Vmtas, Pools, Stats, Events, Warmup,
// Feedback and Suppressions over it. One Server
// backs both the gRPC listener (GRPCServer) and the REST gateway
// (RESTHandler), so that both share the idempotency guard. It is safe for
// concurrent use.
type Server struct {
	pb.UnimplementedInjectorServer

	opts    Options
	auth    *authenticator
	flights flights

	// The admin services; nil without Options.Admin.
	queues *queuesService
	vmtas  *vmtasService
	pools  *poolsService
	stats  *statsService
	events *eventsService
	warmup *warmupService
	fb     *feedbackService
	suppr  *suppressionsService
	keys   *keysService // nil without Options.KeyStore

	// history is the monitor's sampled counters (monitor.go).
	history history
}

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, auth: newAuthenticator(opts.Keys, opts.AllowLoopbackWithoutKey)}
	s.flights.m = map[string]chan struct{}{}
	if opts.Admin != nil {
		s.queues, s.vmtas, s.pools, s.stats = &queuesService{s: s}, &vmtasService{s: s}, &poolsService{s: s}, &statsService{s: s}
		s.events = &eventsService{s: s}
		s.warmup, s.fb, s.suppr = &warmupService{s: s}, &feedbackService{s: s}, &suppressionsService{s: s}
	}
	if opts.KeyStore != nil {
		s.keys = &keysService{s: s}
		if err := s.loadKeys(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ServerOptions are the grpc.ServerOptions the services need: the
// authentication interceptors and the request size limit.
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.auth.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.auth.streamInterceptor),
		grpc.MaxRecvMsgSize(s.opts.MaxRequestBytes),
	}
}

// Register registers the services on r: Injector, and the admin services
// when Options.Admin is set. r must have been built with ServerOptions:
// without the interceptors every call is Unauthenticated.
func (s *Server) Register(r grpc.ServiceRegistrar) {
	pb.RegisterInjectorServer(r, s)
	if s.opts.Admin != nil {
		pb.RegisterQueuesServer(r, s.queues)
		pb.RegisterVmtasServer(r, s.vmtas)
		pb.RegisterPoolsServer(r, s.pools)
		pb.RegisterStatsServer(r, s.stats)
		pb.RegisterEventsServer(r, s.events)
		pb.RegisterWarmupServer(r, s.warmup)
		pb.RegisterFeedbackServer(r, s.fb)
		pb.RegisterSuppressionsServer(r, s.suppr)
	}
	if s.keys != nil {
		pb.RegisterKeysServer(r, s.keys)
	}
}

// GRPCServer returns a grpc.Server with ServerOptions, extra (TLS
// credentials, keepalive) and the services registered.
func (s *Server) GRPCServer(extra ...grpc.ServerOption) *grpc.Server {
	g := grpc.NewServer(append(s.ServerOptions(), extra...)...)
	s.Register(g)
	return g
}

// NewGRPCServer is New followed by GRPCServer, for callers that need no
// REST gateway.
func NewGRPCServer(opts Options, extra ...grpc.ServerOption) (*grpc.Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	return s.GRPCServer(extra...), nil
}
