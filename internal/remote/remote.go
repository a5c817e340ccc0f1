// Package remote runs commands on the machines nixherd manages: over the
// system ssh for remote hosts (so ~/.ssh/config, agents and ProxyJump work as
// the user set them up), or directly for the machine nixherd runs on.
//
// A remote host gets one master connection for the whole run (ssh
// ControlMaster with its socket in a private temporary directory); every
// command and every `nix copy` to that host reuses it, so a deploy costs one
// SSH handshake per host. Host keys are verified as ssh is configured to:
// nothing here turns StrictHostKeyChecking off, and UnsafeOptions names the
// ssh arguments that would (or would run programs here), which a fleet's
// own files may not set unless the user allows it.
//
// A host's answers are data: every runner reads at most MaxOutput of a
// command's output (Exec), keeps only the end of its stderr, and errors
// quote two lines of it (Excerpt).
package remote

import (
	"context"
	"fmt"
	"io"
)

// Command is one program to run on a host.
type Command struct {
	Args []string
	// Root runs the command as root: directly when the connection already
	// is root, else through `sudo -n` (no password prompt: a deploy runs
	// unattended, so sudo must be passwordless for the deploy user).
	Root  bool
	Stdin io.Reader
	// Stdout, when set, receives the command's stdout as it runs (Run
	// then returns no stdout).
	Stdout io.Writer
	// Stderr, when set, receives the command's stderr as it runs (its end
	// is still kept for the error message).
	Stderr io.Writer
	// MaxOutput is the most stdout Run takes (default MaxOutput); a
	// command that prints more is ended with an *OutputLimitError.
	MaxOutput int
}

// Cmd is a Command that runs args as the connecting user.
func Cmd(args ...string) Command { return Command{Args: args} }

// RootCmd is a Command that runs args as root.
func RootCmd(args ...string) Command { return Command{Args: args, Root: true} }

// Sh runs a POSIX shell script; args become $1, $2, ...
func Sh(script string, args ...string) Command {
	return Command{Args: append([]string{"sh", "-c", script, "nixherd"}, args...)}
}

// Runner runs commands on one host. SSH and Local implement it.
type Runner interface {
	// Name is the host as the user wrote it, for messages.
	Name() string
	// Run runs c and returns its stdout. A non-zero exit is an *ExitError.
	Run(ctx context.Context, c Command) ([]byte, error)
	// IsRoot reports whether commands run as root without sudo.
	IsRoot() bool
	// Store is the URL `nix copy --to` uses to reach the host's store, or
	// "" when the host is the local machine (nothing to copy).
	Store() string
	// NixSSHOpts are the ssh options nix must use (NIX_SSHOPTS) to reuse
	// this host's master connection.
	NixSSHOpts() []string
	// Close ends the master connection.
	Close() error
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Host   string
	Args   []string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	// The end of stderr is where programs say why they failed; a line or
	// two of it, whatever the host sent.
	msg := Excerpt(e.Stderr)
	prog := ""
	if len(e.Args) > 0 {
		prog = progName(e.Args)
	}
	if msg == "" {
		return fmt.Sprintf("%s: %s exited with status %d", e.Host, prog, e.Code)
	}
	return fmt.Sprintf("%s: %s exited with status %d: %s", e.Host, prog, e.Code, msg)
}

func withSudo(c Command, isRoot bool) []string {
	if c.Root && !isRoot {
		return append([]string{"sudo", "-n", "--"}, c.Args...)
	}
	return c.Args
}
