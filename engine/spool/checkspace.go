package spool

// CheckSpace reports whether Put would accept a message now: it returns an
// error wrapping ErrLowSpace while free disk space is below MinFreeSpace.
// Injectors call it before receiving a body (SMTP MAIL FROM) so that a
// client is refused early, not after uploading megabytes.
func (s *Spool) CheckSpace() error {
	if s.opts.ReadOnly {
		return nil
	}
	return s.space.check(0)
}
