package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// payload is the body of one POST.
type payload struct {
	Webhook string  `json:"webhook"`
	Events  []Event `json:"events"`
}

// send POSTs batch until the receiver takes it (or rejects it for good); it
// fails only when ctx ends first.
func (s *Sink) send(ctx context.Context, batch []Event) error {
	body, err := json.Marshal(payload{Webhook: s.opts.Name, Events: batch})
	if err != nil {
		return fmt.Errorf("webhook %s: encode batch: %w", s.opts.Name, err)
	}
	b := s.newBackoff()
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := s.post(ctx, body)
		switch {
		case err == nil && status/100 == 2:
			s.observe(Sent, len(batch))
			return nil
		case err == nil && !retryable(status):
			s.observe(Rejected, len(batch))
			s.opts.Logger.Warn("webhook: receiver rejected a batch; it is skipped, not retried", "webhook", s.opts.Name,
				"status", status, "events", len(batch), "first_cursor", batch[0].Cursor, "last_cursor", batch[len(batch)-1].Cursor)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("webhook %s: %w", s.opts.Name, ctx.Err())
		}
		s.observe(Failed, len(batch))
		wait := b.next()
		if retryAfter > 0 {
			wait = min(retryAfter, s.opts.RetryMax)
		}
		if err == nil {
			err = fmt.Errorf("HTTP status %d", status)
		}
		s.opts.Logger.Warn("webhook: POST failed; retrying", "webhook", s.opts.Name, "attempt", attempt, "events", len(batch),
			"retry_in", wait, "err", err)
		if !sleep(ctx, wait) {
			return fmt.Errorf("webhook %s: %w", s.opts.Name, ctx.Err())
		}
	}
}

// retryable reports whether a non-2xx status is worth another try: 408 and
// 429 (the receiver asks for it), 5xx, and anything outside 4xx.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status/100 != 4
}

// post sends body once. The error never names the URL (it may hold a token).
func (s *Sink) post(ctx context.Context, body []byte) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, errors.New("cannot make the request (check the URL)")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-webhook")
	req.Header.Set("X-Sluice-Webhook", s.opts.Name)
	if s.opts.Authorization != "" {
		req.Header.Set("Authorization", s.opts.Authorization)
	}
	if s.opts.SigningSecret != "" {
		ts := strconv.FormatInt(s.opts.Clock().Unix(), 10)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(s.opts.SigningSecret, ts, body))
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop "Post <url>:"
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), nil
}

// parseRetryAfter reads a Retry-After in seconds (the HTTP-date form is
// ignored); 0 when absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

func (s *Sink) observe(o Outcome, n int) {
	if s.opts.Observe != nil {
		s.opts.Observe(o, n)
	}
}

// backoff is an exponential wait: RetryInitial doubling up to RetryMax,
// jittered by ±10%.
type backoff struct {
	cur, max time.Duration
}

func (s *Sink) newBackoff() *backoff {
	return &backoff{cur: s.opts.RetryInitial, max: s.opts.RetryMax}
}

func (b *backoff) next() time.Duration {
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
