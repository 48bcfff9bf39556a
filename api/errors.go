package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool"
)

// maxViolations bounds the field violations one error carries; the message
// says how many more there were.
const maxViolations = 100

// violation is one wrong field of a request.
type violation struct {
	field, msg string
}

// invalid returns an InvalidArgument status naming every field in vs (at
// least one) in a google.rpc.BadRequest detail and in its message.
func invalid(vs ...violation) error {
	msg := vs[0].field + ": " + vs[0].msg
	if len(vs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(vs)-1)
	}
	br := &errdetails.BadRequest{}
	for i, v := range vs {
		if i == maxViolations {
			break
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.field, Description: v.msg})
	}
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(br)
	if err != nil {
		return status.Error(codes.InvalidArgument, msg)
	}
	return st.Err()
}

// badField is invalid with one violation.
func badField(field, format string, args ...any) error {
	return invalid(violation{field, fmt.Sprintf(format, args...)})
}

// fieldOf returns the first field a status error names, or "".
func fieldOf(st *status.Status) string {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}

// submitStatus maps an error of Submitter.Submit onto a status. field is
// the request field a rejected envelope concerns.
func submitStatus(err error, field string) *status.Status {
	switch {
	case errors.Is(err, engine.ErrTooLarge):
		return statusOf(badField("content", "%s", trimEngine(err)))
	case errors.Is(err, engine.ErrUnknownPool):
		return statusOf(badField("pool", "%s", trimEngine(err)))
	case errors.Is(err, engine.ErrUnknownVMTA):
		return statusOf(badField("vmta", "%s", trimEngine(err)))
	case errors.Is(err, engine.ErrNoVMTA):
		return status.New(codes.FailedPrecondition, trimEngine(err))
	case errors.Is(err, engine.ErrInvalidEnvelope):
		return statusOf(badField(field, "%s", trimEngine(err)))
	case errors.Is(err, spool.ErrLowSpace):
		return status.New(codes.ResourceExhausted, "the spool is short of disk space; retry later")
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "request canceled before the message was stored")
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline passed before the message was stored")
	}
	return status.New(codes.Unavailable, "the message could not be stored; retry later")
}

func statusOf(err error) *status.Status {
	st, _ := status.FromError(err)
	return st
}

// trimEngine strips the "engine: submit: " prefix of an engine error.
func trimEngine(err error) string {
	s := err.Error()
	for _, p := range []string{"engine: ", "submit: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}
