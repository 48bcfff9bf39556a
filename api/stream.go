package api

import (
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// InjectStream implements pb.InjectorServer.
//
// Flow control: one goroutine reads requests and starts storing each; a
// second sends the acks in request order, each after its message's Submit
// returned. At most StreamWindow messages are in flight: while the window
// is full the reader does not call Recv, gRPC's flow-control window fills
// and the client's Send blocks. A slow spool therefore slows the client and
// nothing is dropped or buffered without bound.
func (s *Server) InjectStream(stream pb.Injector_InjectStreamServer) error {
	ctx := stream.Context()
	k, err := authorize(ctx, RoleInject)
	if err != nil {
		return err
	}
	type pending struct {
		ack chan *pb.InjectStreamResponse
	}
	inflight := make(chan pending, s.opts.StreamWindow-1) // plus the one the sender waits on
	sent := make(chan error, 1)
	go func() {
		var sendErr error
		for p := range inflight {
			ack := <-p.ack // wait even after a failed Send: no goroutine outlives the call
			if sendErr == nil {
				sendErr = stream.Send(ack)
			}
		}
		sent <- sendErr
	}()
	var recvErr error
	for {
		req, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				recvErr = err
			}
			break
		}
		p := pending{ack: make(chan *pb.InjectStreamResponse, 1)}
		inflight <- p // blocks while the window is full
		go func() { p.ack <- s.injectAck(stream, k, req) }()
	}
	close(inflight)
	if err := <-sent; err != nil {
		return err
	}
	return recvErr
}

// injectAck stores one stream message and returns its ack.
func (s *Server) injectAck(stream pb.Injector_InjectStreamServer, k *Key, req *pb.InjectStreamRequest) *pb.InjectStreamResponse {
	ack := &pb.InjectStreamResponse{Seq: req.GetSeq()}
	if req.GetMessage() == nil {
		ack.Code, ack.Message, ack.Field = int32(codes.InvalidArgument), "message: required", "message"
		return ack
	}
	resp, err := s.inject(stream.Context(), k, req.GetMessage())
	if err != nil {
		st := status.Convert(err)
		ack.Code, ack.Message, ack.Field = int32(st.Code()), st.Message(), fieldOf(st)
		return ack
	}
	ack.Result = resp
	return ack
}
