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
	"slices"
	"syscall"

	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

// Exit codes, one contract for every command (README, "Exit status").
const (
	exitDone        = 0 // the command did what it was asked
	exitReported    = 1 // what the command exists to report: findings, failed machines
	exitUsage       = 2 // usage or bad input: nothing was done
	exitUnreachable = 3 // a host could not be reached
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
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd())
	}
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil {
		needsSubcommand(c)
	}
	// Cobra's own errors (unknown command or flag, a bad flag value, the
	// wrong number of arguments) are usage errors; every error a command
	// returns carries its code (classify).
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitCode(exitUsage, fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error { return classify(run(cmd, args)) }
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
	registerCompletions(root)
	return root
}

// classify gives an error a command returned without a code its code: a
// host that could not be reached is 3, anything else 1.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	var ce *remote.ConnectError
	if errors.As(err, &ce) {
		return exitCode(exitUnreachable, err)
	}
	return exitCode(exitReported, err)
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
	root.SetArgs(splitOptionArgs(args))
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
	// Not from a command: cobra refused the command line.
	fmt.Fprintln(os.Stderr, "nixherd:", ui.EscapeText(err.Error()))
	return exitUsage
}

func main() { os.Exit(run(os.Args[1:])) }

// summaryExit is the exit of a command that reports each machine's outcome
// (deploy, rollback): 0 when every machine ended well, 3 when a host could
// not be reached (the summary names it and what became of the others), 1
// when machines failed otherwise.
func summaryExit(s *report.Summary) error {
	outcomes := make([]report.Outcome, len(s.Machines))
	for i, r := range s.Machines {
		outcomes[i] = r.Outcome
	}
	return outcomesExit(s.OK, outcomes)
}

// outcomesExit is the exit status of work on many machines or hosts: 0
// when it all went well, 3 when one could not be reached, else 1.
func outcomesExit(ok bool, outcomes []report.Outcome) error {
	switch {
	case ok:
		return nil
	case slices.Contains(outcomes, report.Unreachable):
		return exitCode(exitUnreachable, nil)
	}
	return exitCode(exitReported, nil)
}

// needsSubcommand makes a command that only groups others (secrets,
// service, completion) a usage error without one: it shows its usage on
// stderr and exits 2.
func needsSubcommand(cmd *cobra.Command) {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		cmd.Usage()
		return exitCode(exitUsage, fmt.Errorf("%s needs a subcommand", cmd.CommandPath()))
	}
}
