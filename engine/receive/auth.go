package receive

import (
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"
)

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl lacks: "Username:", then "Password:" challenges; a username
// sent as initial response skips the first.
type loginServer struct {
	step         int
	user         string
	authenticate func(user, pass string) error
}

// Next implements sasl.Server.
func (a *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch a.step {
	case 0:
		a.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		a.user, a.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		a.step = 3
		return nil, true, a.authenticate(a.user, string(resp))
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}

// checkPassword reports whether name/pass match a configured user, spending
// a bcrypt comparison even for an unknown name so that timing does not tell
// which names exist.
func (s *Server) checkPassword(name, pass string) (*User, bool) {
	u := s.users[name]
	hash := s.dummyHash
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	if u == nil || err != nil {
		return nil, false
	}
	return u, true
}

// newDummyHash returns a hash with the highest cost among users, for
// checkPassword's unknown-user path.
func newDummyHash(users []User) []byte {
	cost := bcrypt.MinCost
	for _, u := range users {
		if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil && c > cost {
			cost = c
		}
	}
	h, err := bcrypt.GenerateFromPassword([]byte("sluice-no-such-user"), cost)
	if err != nil {
		return nil
	}
	return h
}

// senderAllowed reports whether u may use the reverse-path from: its domain
// (after the last "@", compared case-insensitively) must be listed in
// u.FromDomains, or FromDomains must contain AnyDomain.
func senderAllowed(u *User, from string) bool {
	domain := ""
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = from[i+1:]
	}
	for _, d := range u.FromDomains {
		if d == AnyDomain || (domain != "" && strings.EqualFold(d, domain)) {
			return true
		}
	}
	return false
}

// Replies this package sends itself.
var (
	errShuttingDown        = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}
	errRelayDenied         = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied: authenticate first"}
	errEncryptionRequired  = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required for requested authentication mechanism: use STARTTLS first"}
	errAuthInTransaction   = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "AUTH not permitted during a mail transaction"}
	errNotAccepting        = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Not accepting mail right now, try again later"}
	errLocal               = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Requested action aborted: local error in processing"}
	errTooManyErrors       = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many errors, closing connection"}
	errTooManyAuthFailures = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many authentication failures, closing connection"}
	errTooManyHeaderLines  = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Too many header lines"}
	errTooManyHops         = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Too many hops (Received: fields): mail loop?"}
	errClosing             = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 0}, Message: "Connection closing"}
	errNoTransaction       = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Bad sequence of commands"}
)
