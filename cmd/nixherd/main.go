// Command nixherd provisions a fleet of NixOS, nix-darwin and home-manager
// machines from one Nix flake.
//
// This package only wires subcommands together: each subcommand lives in its
// own file and registers itself with register; the work is done by the
// packages under internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

// exitError carries a specific exit code out of a subcommand. Commands that
// have already printed their findings (check, secrets check) use it to exit
// non-zero without a second message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode returns err wrapped so that main exits with code. A nil err means
// "the reason was already printed".
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

var subcommands []func() *cobra.Command

// register adds a subcommand constructor; every command file calls it from init.
func register(newCmd func() *cobra.Command) { subcommands = append(subcommands, newCmd) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "nixherd",
		Short: "Provision a fleet of NixOS, nix-darwin and home-manager machines from one flake",
		Long: `nixherd provisions a fleet of NixOS, nix-darwin and home-manager machines
from one Nix flake: it checks the fleet's rules, switches the local machine,
deploys to many hosts in parallel with rollback, manages agenix secrets and
adds services to the fleet in one command.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd())
	}
	return root
}

// run executes nixherd with args and returns the process exit code. An
// interrupt (Ctrl-C, SIGTERM, SIGHUP) cancels the command's context, once,
// here: every command stops what it started and cleans up; a second
// interrupt kills at once.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	// Errors carry what hosts said: printed escaped (ui.EscapeText).
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "nixherd:", ui.EscapeText(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "nixherd:", ui.EscapeText(err.Error()))
	return 1
}

func main() { os.Exit(run(os.Args[1:])) }
