package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"time"
)

// Local runs commands on the machine nixherd runs on.
type Local struct{}

func (Local) Name() string         { return "local" }
func (Local) IsRoot() bool         { return os.Geteuid() == 0 }
func (Local) Store() string        { return "" }
func (Local) NixSSHOpts() []string { return nil }
func (Local) Close() error         { return nil }

func (l Local) Run(ctx context.Context, c Command) ([]byte, error) {
	args := withSudo(c, l.IsRoot())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := runCmd(cmd, "local", args, c)
	if c.Root && !l.IsRoot() {
		err = explainSudo("local", "the user running nixherd", err)
	}
	return out, err
}

// runCmd runs cmd, collecting stdout and stderr into an *ExitError on failure.
func runCmd(cmd *exec.Cmd, host string, args []string, c Command) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	// An ssh mux client hands its pipes to the master connection, so they
	// can stay open after the client is killed (the remote command keeps
	// running): when the context ends, stop waiting for them soon.
	cmd.WaitDelay = 2 * time.Second
	cmd.Stdin = c.Stdin
	cmd.Stdout = &stdout
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	cmd.Stderr = &stderr
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&stderr, c.Stderr)
	}
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return stdout.Bytes(), &ExitError{Host: host, Args: c.Args, Code: ee.ExitCode(), Stderr: stderr.String()}
	}
	return stdout.Bytes(), &ExitError{Host: host, Args: c.Args, Code: -1, Stderr: stderr.String() + err.Error()}
}
