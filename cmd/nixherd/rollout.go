package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/pullrollout"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			all    bool
			pf     publishFlags
			waves  waveFlags
			asJSON bool
			fl     fleetFlags
		)
		cmd := &cobra.Command{
			Use:   "rollout [SELECTOR...] --cache STORE_URL --cache-key FILE --key FILE --to DEST",
			Short: "Publish a release wave by wave, halting when a wave's agents do not run it healthy",
			Long: `rollout is publish in waves, for pulled machines: it builds the selected
machines once and pushes their closures to the cache (as publish does), then
publishes a release that gives the new systems to the machines of the first
wave only, waits until every one of their agents reports it running and in
sync (their /status, at deploy.nix's pull.agent), lets them soak, checks
them again, and goes on with the next wave, up to all.

The waves are deploy.nix's rollout (its waves, maxInFlight and deadline),
or those of --wave (as for deploy); without either, all machines form one
wave. At most --max-in-flight machines are published at once: a bigger wave
goes out in slices.

A wave whose machine rolls back, or does not run the release healthy
within the deadline (an agent that does not answer is shown stale and does
not pass), halts the rollout: its machines get their entries of the release
the rollout started from back in a new release, later waves never receive
the change, and the last line says which machine and why. The rollout's
progress is written beside the manifest (rollout.json) for nixherd
dashboard. One rollout or publish per destination at a time: a second is
refused. Interrupted (Ctrl-C), the rollout publishes nothing more and says
which release is published; run it again to go on.

Exit status: 0 every wave runs the release; 1 a wave halted, the rollout
was interrupted, or another rollout or publish holds the destination; 3 a
machine's agent could not be reached; 2 bad input (a wave that selects no
machine, a machine without an agent address, a missing flag), before
anything is built or published.`,
			Example: `  nixherd rollout --all --cache file:///srv/cache --cache-key cache.sec --key release.sec --to /srv/www/fleet/
  nixherd rollout --all --wave @canary --soak 10m --max-in-flight 25% --deadline 20m --cache … --key … --to …`,
			RunE: func(cmd *cobra.Command, args []string) error {
				po, err := pf.options()
				if err != nil {
					return err
				}
				if err := waves.validate(); err != nil {
					return exitCode(2, err)
				}
				ctx := cmd.Context()
				// A rollout reaches agents over HTTP, no host over ssh.
				fl.allowUnsafeSSH = true
				inv, err := fl.inventory(ctx, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				machines, err := fl.selectIn(inv, selection{hosts.Selection{Selectors: args, All: all}, "roll out", true})
				if err != nil {
					return err
				}
				stages, inFlight, err := waves.split(inv, machines)
				if err != nil {
					return exitCode(2, err)
				}
				if err := pullrollout.Check(stages); err != nil {
					return exitCode(2, err)
				}
				po.Flake, po.Dir, po.Nix, po.Reporter = fl.fleet.Flake, fl.fleet.Dir, fl.nix, &report.Lines{W: cmd.ErrOrStderr()}
				out, err := pullrollout.Run(ctx, stages, pullrollout.Options{Publish: po, InFlight: inFlight,
					Deadline: waves.deadlineIn(inv), Progress: waveLines{cmd.ErrOrStderr()}})
				if errors.Is(err, publish.ErrBusy) {
					return exitCode(exitReported, fmt.Errorf("refusing to roll out: %w%s", err, runningRollout(po)))
				}
				if out == nil {
					return pf.classify(err)
				}
				if asJSON {
					ui.WriteJSON(cmd.OutOrStdout(), out.Record)
				} else {
					ui.WriteSummary(cmd.OutOrStdout(), out.Summary(time.Since(out.Record.Started).Seconds()))
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "nixherd:", ui.EscapeText(out.Says()))
				switch {
				case err != nil:
					return err
				case out.OK() && !out.Interrupted:
					return nil
				case out.Halt != nil && haltedUnreachable(out):
					return exitCode(exitUnreachable, nil)
				}
				return exitCode(exitReported, nil)
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "roll out every machine in deploy.nix")
		pf.register(f)
		waves.registerPull(f)
		f.BoolVar(&asJSON, "json", false, "print the rollout's record (rollout.json) as JSON")
		fl.flakeFlag.register(f)
		fl.registerNix(f)
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		return cmd
	})
}

// haltedUnreachable reports whether the rollout halted at a machine whose
// agent could not be reached.
func haltedUnreachable(out *pullrollout.Outcome) bool {
	for _, w := range out.Waves {
		for _, r := range w.Machines {
			if r.Machine == out.Halt.Machine && r.Outcome == report.Unreachable {
				return true
			}
		}
	}
	return false
}

// runningRollout says what the destination's record says of a rollout
// under way, to name who holds the lock.
func runningRollout(po publish.Options) string {
	rec, err := rollout.ReadRecord(rollout.RecordBeside(po.Destination.Path))
	if err != nil || rec == nil || rec.State != "running" {
		return ""
	}
	return fmt.Sprintf(" (a rollout started %s is at release %d)", rec.Started.Local().Format(time.DateTime), rec.Release)
}
