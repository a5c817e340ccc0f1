// Package apply makes one machine run one store path: the per-machine step
// that deploy, switch and rollback share (and the pull agent will).
//
// The sequence is always the same: take the host's deploy lock (unless the
// run already holds it), check the path is a configuration of the machine's
// platform (the guard), read the profile's current generation (what a
// rollback returns to), activate through a Strategy, and verify that the
// profile ended on the path. Direct does what nixos-rebuild,
// darwin-rebuild and home-manager switch do; Guarded is magic rollback,
// with the confirmation itself a strategy (a fresh SSH login for a push
// deploy; health checks plus reaching the release server for the agent).
//
// Apply never returns an error: everything ends up in the machine's
// report.Result, so one bad machine does not stop a run over many.
package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// Request is what to apply where.
type Request struct {
	Machine hosts.Machine
	// Runner reaches the machine's host (or this machine).
	Runner   remote.Runner
	Executor target.Executor
	// Path is the configuration to run: a system or a home generation.
	Path   string
	Action target.Action
	// Generation, when set, is the existing generation of the profile that
	// Path is (a rollback): the profile is switched to it, and checked to
	// resolve to Path before anything is activated, instead of gaining a
	// new generation.
	Generation int
	// Locks are the deploy locks the run holds on the host; Apply takes the
	// one the machine needs unless it is held already.
	Locks *Locks
	// Previous, when the caller read it under the lock already, is the
	// profile's current generation (it saves a round trip).
	Previous *target.Generation
	// Strategy activates (default Direct).
	Strategy Strategy
	// Report receives the machine's progress (default: none).
	Report func(report.Phase, string)
}

// Activation is a machine at the activation stage: its closure passed the
// guard and the host's deploy lock is held. A Strategy makes it run Path.
type Activation struct {
	Machine  hosts.Machine
	Runner   remote.Runner
	Executor target.Executor
	Path     string
	Action   target.Action
	// Generation is Request.Generation: switch to it instead of adding one.
	Generation int
	// Profile is the profile the executor sets on this host.
	Profile string
	// Previous is the generation the profile pointed at before (Number 0
	// when there was none): what a rollback returns to.
	Previous target.Generation
	Report   func(report.Phase, string)
	// Output is what a dry activation printed (what would change).
	Output string
}

// Strategy makes a machine run its new configuration.
type Strategy interface {
	Activate(ctx context.Context, a *Activation) error
}

// Apply carries out req and records the outcome in res: Outcome,
// Generation, PreviousGeneration and, on failure, Err and Error.
func Apply(ctx context.Context, req Request, res *report.Result) {
	if req.Strategy == nil {
		req.Strategy = Direct{}
	}
	if req.Report == nil {
		req.Report = func(report.Phase, string) {}
	}
	if req.Locks == nil {
		req.Locks = &Locks{}
	}
	fail := func(o report.Outcome, err error) {
		res.Outcome, res.Err, res.Error = o, err, err.Error()
	}
	r, exec := req.Runner, req.Executor
	name := req.Machine.Name

	if err := req.Locks.Hold(ctx, r, target.NeedsRoot(exec), req.Report); err != nil {
		if errors.Is(err, ErrLocked) {
			fail(report.Refused, err)
		} else {
			fail(report.Failed, fmt.Errorf("%s: %w", name, err))
		}
		return
	}
	req.Report(report.PhaseGuard, "")
	if err := exec.Guard(ctx, r, req.Path); err != nil {
		fail(report.Failed, fmt.Errorf("%s: %w", name, err))
		return
	}
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		fail(report.Failed, err)
		return
	}
	var prev target.Generation
	if req.Previous != nil {
		prev = *req.Previous
	} else if prev, err = target.Current(ctx, r, profile); err != nil {
		fail(report.Failed, err)
		return
	}
	res.PreviousGeneration = prev.Number
	a := &Activation{Machine: req.Machine, Runner: r, Executor: exec, Path: req.Path, Action: req.Action,
		Generation: req.Generation, Profile: profile, Previous: prev, Report: req.Report}
	err = req.Strategy.Activate(ctx, a)
	res.Output = a.Output
	if err != nil {
		// Where the machine ended, as far as its profile tells.
		res.Generation = prev.Number
		if cur, e := target.Current(context.WithoutCancel(ctx), r, profile); e == nil {
			res.Generation = cur.Number
		}
		var rb *RollbackError
		if errors.As(err, &rb) {
			fail(rb.Outcome, err)
		} else {
			fail(report.Failed, err)
		}
		return
	}
	cur, err := target.Current(ctx, r, profile)
	if err != nil {
		fail(report.Failed, err)
		return
	}
	res.Generation = cur.Number
	if (req.Action.SetsProfile() || req.Generation > 0) && cur.Path != req.Path {
		fail(report.Failed, fmt.Errorf("%s: after activation %s points at %s, not %s", name, profile, cur.Path, req.Path))
		return
	}
	res.Outcome = OutcomeOf(req.Action)
}

// UpToDate reports whether a NixOS or nix-darwin machine already runs path:
// its system profile's current generation and its running system
// (/run/current-system) are path. On NixOS the profile's generation is the
// boot default (a boot or switch installs it). A home is never up to date
// here: its activation is cheap and where it runs is not recorded the way a
// system's is. One round trip.
func UpToDate(ctx context.Context, r remote.Runner, exec target.Executor, path string) (target.Generation, bool, error) {
	if !exec.Platform().System() {
		return target.Generation{}, false, nil
	}
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return target.Generation{}, false, err
	}
	cur, running, err := target.State(ctx, r, profile)
	if err != nil {
		return target.Generation{}, false, err
	}
	return cur, cur.Path == path && running == path, nil
}

// OutcomeOf is the outcome of a machine that did what the action asks.
func OutcomeOf(a target.Action) report.Outcome {
	switch a {
	case target.Switch:
		return report.Switched
	case target.Boot:
		return report.Booted
	case target.Test:
		return report.Tested
	case target.DryActivate:
		return report.DryActivated
	}
	return report.Built
}

// Direct sets the profile when the action needs it, then activates: what
// nixos-rebuild, darwin-rebuild and home-manager switch do. For a rollback
// (Activation.Generation) it switches the profile to that generation, checks
// it resolves to the planned path, and activates it.
type Direct struct {
	// RestoreProfile puts the profile back on the generation it was on
	// when the activation of a new one fails (a local switch), so the
	// failed configuration is not what the machine boots next. The failed
	// generation stays, unused, until it is deleted.
	RestoreProfile bool
}

func (d Direct) Activate(ctx context.Context, a *Activation) error {
	switch {
	case a.Generation > 0:
		a.Report(report.PhaseProfile, fmt.Sprintf("generation %d", a.Generation))
		cur, err := target.SwitchGeneration(ctx, a.Runner, a.Profile, a.Generation, target.NeedsRoot(a.Executor))
		if err != nil {
			return err
		}
		if cur.Path != a.Path {
			return fmt.Errorf("after switching to generation %d the profile points at %s, not the planned %s; nothing was activated", a.Generation, cur.Path, a.Path)
		}
	case a.Action.SetsProfile():
		a.Report(report.PhaseProfile, a.Profile)
		if err := a.Executor.SetProfile(ctx, a.Runner, a.Path); err != nil {
			return err
		}
		a.Report(report.PhaseActivate, string(a.Action))
		err := activate(ctx, a)
		if err != nil && d.RestoreProfile {
			return restoreProfile(ctx, a, err)
		}
		return err
	}
	a.Report(report.PhaseActivate, string(a.Action))
	return activate(ctx, a)
}

// activate runs the executor's activation; a dry activation's output is
// kept in a.Output, since showing it is what dry-activate is for.
func activate(ctx context.Context, a *Activation) error {
	if dry, ok := a.Executor.(target.DryActivator); ok && a.Action == target.DryActivate {
		out, err := dry.DryActivate(ctx, a.Runner, a.Path)
		a.Output = out
		return err
	}
	return a.Executor.Activate(ctx, a.Runner, a.Path, a.Action)
}

// restoreProfile puts the profile back on the previous generation after the
// new one failed to activate, and, where the platform has a boot loader
// (NixOS), makes the previous generation the boot default again: the
// failed activation may have installed its own. The failed configuration
// keeps running until the next switch or reboot.
func restoreProfile(ctx context.Context, a *Activation, failed error) error {
	ctx = context.WithoutCancel(ctx) // an interrupt must not leave it half done
	if a.Previous.Number == 0 {
		return fmt.Errorf("%w\n%s had no generation before this one: it stays on the new one", failed, a.Profile)
	}
	a.Report(report.PhaseRollback, fmt.Sprintf("profile back to generation %d", a.Previous.Number))
	cur, err := target.SwitchGeneration(ctx, a.Runner, a.Profile, a.Previous.Number, target.NeedsRoot(a.Executor))
	if err != nil {
		return fmt.Errorf("%w\nputting %s back on generation %d failed too: %w", failed, a.Profile, a.Previous.Number, err)
	}
	if cur.Path != a.Previous.Path {
		return fmt.Errorf("%w\n%s was put back on generation %d, but it points at %s, not %s", failed, a.Profile, a.Previous.Number, cur.Path, a.Previous.Path)
	}
	if a.Executor.Supports(target.Boot) == nil {
		if err := a.Executor.Activate(ctx, a.Runner, a.Previous.Path, target.Boot); err != nil {
			return fmt.Errorf("%w\n%s is back on generation %d, but making it the boot default again failed: %w", failed, a.Profile, a.Previous.Number, err)
		}
	}
	return fmt.Errorf("%w\n%s is back on generation %d (%s), the default for the next boot; the failed configuration runs until the next switch or reboot", failed, a.Profile, a.Previous.Number, a.Previous.Path)
}

// Elapsed sets res.Seconds to the time since start.
func Elapsed(res *report.Result, start time.Time) {
	res.Seconds = time.Since(start).Seconds()
}
