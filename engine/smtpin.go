package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/engine/receive"
	"github.com/sluice-mta/sluice/engine/spool"
)

// SMTPSubmitter adapts the engine to the SMTP listener: it turns Submit's
// errors into the replies RFC 5321 and RFC 3463 prescribe.
func (e *Engine) SMTPSubmitter() receive.Submitter { return smtpSubmitter{e} }

type smtpSubmitter struct{ e *Engine }

var _ receive.Submitter = smtpSubmitter{}

var errLowSpaceReply = &smtp.SMTPError{
	Code:         452,
	EnhancedCode: smtp.EnhancedCode{4, 3, 1},
	Message:      "Insufficient system storage, try again later",
}

func (s smtpSubmitter) Accepting() error {
	if err := s.e.Accepting(); err != nil {
		return toSMTPError(err)
	}
	return nil
}

// Healthy implements receive.Healther: a failing spool turns new
// connections away with 421 at the greeting.
func (s smtpSubmitter) Healthy() error { return s.e.Healthy() }

func (s smtpSubmitter) Submit(ctx context.Context, env *receive.Envelope, body []byte) (string, error) {
	source := "smtp " + env.ClientIP.String()
	if env.AuthUser != "" {
		source += " user=" + env.AuthUser
	}
	id, err := s.e.Submit(ctx, Envelope{
		From:     env.From,
		To:       env.To,
		VMTA:     env.VMTA,
		Pool:     env.Pool,
		Campaign: env.Campaign,
		Source:   source,
		Body8Bit: env.Body8Bit,
		SMTPUTF8: env.UTF8,
		DSNRet:   env.DSNRet,
		EnvID:    env.EnvID,
		Notify:   env.Notify,
		ORcpt:    env.ORcpt,
	}, body)
	if err != nil {
		s.e.log.Warn("smtp submit refused", "client", env.ClientIP, "err", err)
		return "", toSMTPError(err)
	}
	return id, nil
}

// toSMTPError maps an engine error to the reply the client sees. The text
// sent to the client is short and fixed; the log keeps the detail.
func toSMTPError(err error) error {
	switch {
	case errors.Is(err, spool.ErrLowSpace):
		return errLowSpaceReply
	case errors.Is(err, spool.ErrUnavailable):
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Mail storage unavailable, try again later"}
	case errors.Is(err, ErrTooLarge):
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed maximum message size"}
	case errors.Is(err, ErrInvalidEnvelope):
		msg := err.Error()
		if i := strings.Index(msg, ErrInvalidEnvelope.Error()+": "); i >= 0 {
			msg = msg[i+len(ErrInvalidEnvelope.Error())+2:]
		}
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 4}, Message: "Invalid message: " + msg}
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Requested action aborted: local error in processing"}
}
