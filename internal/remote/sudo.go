package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nixherd/nixherd/internal/shell"
)

// SudoPasswordError is a root command that sudo refused to run because it
// asks the deploy user for a password and nixherd had none to give: run
// unattended, root commands use `sudo -n`, which fails instead of prompting.
type SudoPasswordError struct {
	Host string
	User string // user@host, or the local user
	Err  error
}

func (e *SudoPasswordError) Error() string {
	return fmt.Sprintf("%s: sudo asks %s for a password; pass --ask-sudo-password to give it "+
		"(asked on the terminal, or read as the first line of stdin), or let the user run sudo without one (NOPASSWD)", e.Host, e.User)
}

func (e *SudoPasswordError) Unwrap() error { return e.Err }

// explainSudo turns sudo -n's "a password is required" into a
// SudoPasswordError that says what to do.
func explainSudo(host, user string, err error) error {
	var ee *ExitError
	if errors.As(err, &ee) && strings.Contains(ee.Stderr, "sudo: a password is required") {
		return &SudoPasswordError{Host: host, User: user, Err: err}
	}
	return err
}

// SetSudoPassword gives the pool the deploy user's sudo password
// (--ask-sudo-password), for hosts whose sudo asks for one. It reaches sudo
// on standard input (sudo -S), never on a command line.
func (p *Pool) SetSudoPassword(pw []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sudoPassword = pw
}

// setupSudo decides, for a non-root connection, whether root commands need
// the password: only where passwordless sudo fails. Sending a password to a
// sudo that does not read it would hand it to the command as input.
func (p *Pool) setupSudo(ctx context.Context, s *SSH) error {
	p.mu.Lock()
	pw := p.sudoPassword
	p.mu.Unlock()
	if s.root || pw == nil {
		return nil
	}
	if _, err := s.Run(ctx, RootCmd("true")); err == nil {
		return nil // sudo -n works: no password needed
	}
	s.sudoPassword = pw
	if _, err := s.Run(ctx, RootCmd("true")); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s: sudo refused the password of %s: %w", s.name, s.destination(), err)
		}
		return err
	}
	return nil
}

// withSudoPassword is c run through `sudo -k -S`: -k makes sudo ask (and so
// read the password line) every time, even with credentials cached from the
// previous command, so the line never reaches the command itself.
func (s *SSH) withSudoPassword(c Command) (string, Command) {
	line := `PATH="$PATH:` + nixPath + `"; export PATH; exec sudo -k -S -p '' -- ` + withPath + ` ` + shell.Join(c.Args)
	in := c.Stdin
	if in == nil {
		in = bytes.NewReader(nil)
	}
	pw := append(append([]byte{}, s.sudoPassword...), '\n')
	c.Stdin = io.MultiReader(bytes.NewReader(pw), in)
	return line, c
}
