package spool

// CheckSpace reports whether Put would accept a message now: it returns an
// error wrapping ErrLowSpace while free disk space is below MinFreeSpace,
// or ErrUnavailable while the storage is failing (Healthy).
// Injectors call it before receiving a body (SMTP MAIL FROM) so that a
// client is refused early, not after uploading megabytes.
func (s *Spool) CheckSpace() error {
	if s.opts.ReadOnly {
		return nil
	}
	if err := s.Healthy(); err != nil {
		return err
	}
	return s.space.check(0)
}
