package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/rollback"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var fl fleetFlags
		var to int
		var asJSON, dryRun, askSudo bool
		cmd := &cobra.Command{
			Use:   "rollback SELECTOR... [--to N]",
			Short: "Return machines to an earlier generation",
			Long: `rollback returns the selected machines (names, globs, @tags, comma lists) to
an earlier generation of their profile: generation N with --to N, else the
newest generation older than the current one.

The target generation is first resolved to its store path on each host and
shown; then, under the host's deploy lock, the profile is pointed at that
generation, checked to resolve to the same store path, and activated with the
platform's contract (switch-to-configuration switch on NixOS, activate on
nix-darwin and home-manager). No generation is deleted: a later rollback --to
can return to where the machine was.

Exits 0 only when every selected machine ended on its target generation.`,
			Example: `  nixherd rollback devnix
  nixherd rollback devnix --to 4
  nixherd rollback @vm --dry-run`,
			RunE: func(cmd *cobra.Command, args []string) error {
				if to < 0 {
					return exitCode(2, fmt.Errorf("--to %d: generations are numbered from 1", to))
				}
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				stderr := cmd.ErrOrStderr()
				machines, err := fl.selectWithPlatforms(ctx, hosts.Selection{Selectors: args, Verb: "roll back"})
				if err != nil {
					return err
				}
				sudoPassword, err := askSudoPassword(askSudo, cmd.InOrStdin(), stderr)
				if err != nil {
					return exitCode(2, err)
				}
				pool, err := remote.NewPool()
				if err != nil {
					return err
				}
				defer pool.Close()
				pool.SetSudoPassword(sudoPassword)

				// Resolve every machine's target first, show it, then act.
				// Hosts in parallel; machines on one host one after the other.
				groups := hosts.ByTarget(machines)
				hostsOf := make([]*rollbackHost, len(machines))
				parallel(len(groups), func(g int) {
					idx := groups[g]
					r, err := status.Connect(ctx, pool, machines[idx[0]], fl.sshOptions())
					for _, i := range idx {
						hostsOf[i] = prepareRollback(ctx, r, err, machines[i], to)
					}
				})
				for _, h := range hostsOf {
					if h.err == nil {
						fmt.Fprintln(stderr, "rollback", h.plan)
					}
				}
				if !dryRun {
					names := make([]string, len(machines))
					for i, m := range machines {
						names[i] = m.Name
					}
					view := ui.New(stderr, names...)
					report := ui.Reporter(view)
					parallel(len(groups), func(g int) {
						for _, i := range groups[g] {
							hostsOf[i].apply(ctx, report)
						}
					})
					view.Close()
				}

				results := make([]ui.Result, len(hostsOf))
				ok := true
				for i, h := range hostsOf {
					results[i] = h.result(dryRun)
					ok = ok && results[i].OK
				}
				if asJSON {
					ui.WriteSummaryJSON(cmd.OutOrStdout(), results)
				} else {
					ui.WriteSummary(cmd.OutOrStdout(), results)
				}
				if !ok {
					return exitCode(1, nil)
				}
				return nil
			},
		}
		fl.register(cmd.Flags())
		cmd.Flags().IntVar(&to, "to", 0, "return to generation `N` (default: the one before the current)")
		cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show which generation each machine would return to; change nothing")
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
		cmd.Flags().BoolVar(&askSudo, "ask-sudo-password", false, askSudoUsage)
		return cmd
	})
}

// rollbackHost is one machine's rollback as it goes.
type rollbackHost struct {
	machine  hosts.Machine
	runner   remote.Runner
	exec     target.Executor
	plan     rollback.Plan
	outcome  string
	err      error
	start    time.Time
	done     time.Time
	rolledTo bool
}

// prepareRollback resolves a machine's plan over r, the connection to its
// host (or connErr, why there is none).
func prepareRollback(ctx context.Context, r remote.Runner, connErr error, m hosts.Machine, to int) *rollbackHost {
	h := &rollbackHost{machine: m, start: time.Now()}
	exec, err := target.For(m.Platform)
	if err != nil {
		h.outcome, h.err = "failed", status.NoConfiguration(m)
		return h
	}
	h.exec = exec
	if connErr != nil {
		h.outcome, h.err = "unreachable", connErr
		return h
	}
	h.runner = r
	if h.plan, err = rollback.Prepare(ctx, r, exec, m.Name, to); err != nil {
		h.outcome, h.err = "failed", fmt.Errorf("%s: %w", m.Name, err)
	}
	return h
}

func (h *rollbackHost) apply(ctx context.Context, rep deploy.Reporter) {
	report := func(p deploy.Phase, detail string) {
		rep.Event(deploy.Event{Host: h.machine.Name, Phase: p, Detail: detail, Time: time.Now()})
	}
	h.start = time.Now()
	defer func() { h.done = time.Now() }()
	if h.err != nil {
		rep.Event(deploy.Event{Host: h.machine.Name, Phase: deploy.PhaseFailed, Err: h.err, Time: time.Now()})
		return
	}
	if err := rollback.Apply(ctx, h.runner, h.exec, h.plan, report); err != nil {
		h.outcome, h.err = "failed", err
		rep.Event(deploy.Event{Host: h.machine.Name, Phase: deploy.PhaseFailed, Err: err, Time: time.Now()})
		return
	}
	h.outcome = "rolled back"
	report(deploy.PhaseDone, fmt.Sprintf("generation %d", h.plan.To.Number))
}

func (h *rollbackHost) result(dryRun bool) ui.Result {
	r := ui.Result{Host: h.machine.Name, Outcome: h.outcome, Generation: h.plan.To.Number, StorePath: h.plan.To.Path}
	if !h.done.IsZero() {
		r.Duration = h.done.Sub(h.start)
	}
	if h.err != nil {
		// Where a failed host ended is not known for sure: status tells.
		r.Error, r.Generation, r.StorePath = h.err.Error(), 0, ""
		return r
	}
	if dryRun {
		r.Outcome = "would roll back"
	}
	r.OK = true
	return r
}

// parallel runs f(0) … f(n-1) at once and waits for all of them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}
