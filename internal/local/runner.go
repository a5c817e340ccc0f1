package local

import (
	"context"
	"io"
	"os"

	"github.com/nixherd/nixherd/internal/remote"
)

// Runner runs a local rebuild's commands on this machine. It differs from
// remote.Local, which a deploy uses, in two ways that suit a person at a
// terminal: root commands go through a plain sudo that may ask for the
// password (a deploy must never wait on a prompt), and the commands' stderr
// (the activation's own messages) is shown as it is written.
type Runner struct {
	// Stderr receives the commands' stderr as they run; nil keeps it only
	// for error messages.
	Stderr io.Writer
	// Sudo is the sudo program (default "sudo").
	Sudo string
}

var _ remote.Runner = Runner{}

func (Runner) Name() string         { return "local" }
func (Runner) IsRoot() bool         { return os.Geteuid() == 0 }
func (Runner) Store() string        { return "" }
func (Runner) NixSSHOpts() []string { return nil }
func (Runner) Close() error         { return nil }

// Run runs c, through sudo when it needs root and this process is not root.
func (r Runner) Run(ctx context.Context, c remote.Command) ([]byte, error) {
	var shown []io.Writer
	for _, w := range []io.Writer{c.Stderr, r.Stderr} {
		if w != nil {
			shown = append(shown, w)
		}
	}
	if len(shown) > 0 {
		c.Stderr = io.MultiWriter(shown...)
	}
	return remote.Exec(ctx, "local", r.argv(c), c)
}

// argv is the command line: c.Args, behind sudo when root is needed. sudo
// reads the password from the terminal itself, so the command's own stdin
// stays what the caller gave.
func (r Runner) argv(c remote.Command) []string {
	if !c.Root || r.IsRoot() {
		return c.Args
	}
	sudo := r.Sudo
	if sudo == "" {
		sudo = "sudo"
	}
	return append([]string{sudo, "--"}, c.Args...)
}
