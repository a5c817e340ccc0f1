package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/nixherd/nixherd/internal/watchdog"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// safetyFlags are deploy's magic-rollback and approval options.
type safetyFlags struct {
	confirmTimeout    time.Duration
	activationTimeout time.Duration
	noRollback        bool
	ask               bool
	yes               bool
	askSudo           bool
}

func (s *safetyFlags) register(f *pflag.FlagSet) {
	f.DurationVar(&s.confirmTimeout, "confirm-timeout", watchdog.DefaultConfirmTimeout,
		"how long a switched host waits for the deployer's confirmation (health checks included) before it rolls back")
	f.DurationVar(&s.activationTimeout, "activation-timeout", watchdog.DefaultActivationTimeout,
		"how long a switched host lets the new system's activation run before it stops it and rolls back")
	f.BoolVar(&s.noRollback, "no-rollback", false,
		"switch without the watchdog: set the profile and activate directly, no confirmation, no rollback")
	f.BoolVar(&s.ask, "ask", false, "show each machine's package diff and deploy only after you type yes")
	f.BoolVar(&s.yes, "yes", false, "with --ask: show the diff and deploy without asking (for scripts)")
	f.BoolVar(&s.askSudo, "ask-sudo-password", false,
		askSudoUsage)
}

const askSudoUsage = "ask once for the deploy user's sudo password (read as the first line of stdin when it is not a terminal); it reaches sudo on stdin, never on a command line"

// sudoPassword asks for the sudo password when --ask-sudo-password is set:
// without echo on a terminal, else as the first line of stdin.
func (s *safetyFlags) sudoPassword(stdin io.Reader, prompt io.Writer) ([]byte, error) {
	return askSudoPassword(s.askSudo, stdin, prompt)
}

// askSudoPassword reads the sudo password when ask is set (deploy's and
// rollback's --ask-sudo-password): without echo on a terminal, else as the
// first line of stdin, so that scripts can pipe it in.
func askSudoPassword(ask bool, stdin io.Reader, prompt io.Writer) ([]byte, error) {
	if !ask {
		return nil, nil
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "sudo password for the deploy user: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the sudo password: %w", err)
		}
		return pw, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return nil, errors.New("--ask-sudo-password: no password on stdin")
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

// validate checks the flags before anything is built; stdin is where the
// answer to --ask would come from.
func (s *safetyFlags) validate(stdin io.Reader) error {
	if s.confirmTimeout < 2*time.Second {
		return fmt.Errorf("--confirm-timeout %s: use at least 2s", s.confirmTimeout)
	}
	if s.activationTimeout < time.Second {
		return fmt.Errorf("--activation-timeout %s: use at least 1s", s.activationTimeout)
	}
	if s.ask && !s.yes && !isTerminal(stdin) {
		return errors.New("--ask needs a terminal to answer on; pass --yes to deploy without asking")
	}
	return nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// strategy is the deploy's activation strategy: guarded unless --no-rollback.
func (s *safetyFlags) strategy() apply.Strategy {
	if s.noRollback {
		return apply.Direct{}
	}
	return apply.Guarded{ConfirmTimeout: s.confirmTimeout, ActivationTimeout: s.activationTimeout}
}

// view is deploy's progress view: plain lines with --ask, so that the
// diff and the question are not redrawn over by the live view, and when
// nix's own output is shown.
func (s *safetyFlags) view(w io.Writer, hosts []string, nixOutput bool) ui.View {
	if s.ask || nixOutput {
		return ui.NewPlain(w, hosts...)
	}
	return ui.New(w, hosts...)
}

// errNotApproved stops a deploy the user did not say yes to.
var errNotApproved = errors.New("not confirmed: nothing was deployed")

// approve is the --ask step: show the diffs, then wait for "yes".
func (s *safetyFlags) approve(stdin io.Reader, out io.Writer, reach fanout.Options) func(context.Context, []plan.Closure) error {
	if !s.ask {
		return nil
	}
	return func(ctx context.Context, closures []plan.Closure) error {
		diffs, err := deploy.Diffs(ctx, closures, reach)
		if err != nil {
			return err
		}
		for _, d := range diffs {
			printDiff(out, d)
			fmt.Fprintln(out)
		}
		if s.yes {
			return nil
		}
		fmt.Fprintf(out, "Deploy to %d machine(s)? Type yes to continue: ", len(diffs))
		answer := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(stdin).ReadString('\n')
			answer <- strings.TrimSpace(line)
		}()
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return errNotApproved
		case a := <-answer:
			if a != "yes" {
				return errNotApproved
			}
			return nil
		}
	}
}
