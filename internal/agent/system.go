package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/watchdog"
)

// Machine is the machine an agent manages. System is the real one; tests of
// the agent's logic pass a fake.
type Machine interface {
	// State reads what the machine runs.
	State(ctx context.Context, p platform.Platform) (MachineState, error)
	// Realise makes the store hold path's closure, from the cache.
	Realise(ctx context.Context, path string) error
	// Switch switches the machine to path with magic rollback and says
	// where it ended; a failure names its stage.
	Switch(ctx context.Context, sw Switch) (report.Result, Stage)
}

// MachineState is what a machine runs.
type MachineState struct {
	// Generation is the system profile's current generation (the boot
	// default on NixOS).
	Generation target.Generation
	// Running is the system active now (/run/current-system).
	Running string
	// NeedsReboot: the running system's kernel, initrd or kernel modules
	// differ from those the machine booted.
	NeedsReboot bool
}

// Switch is one switch to carry out.
type Switch struct {
	Machine  hosts.Machine
	Platform platform.Platform
	Path     string
	// WatchID names the watchdog run; Resume follows a run started before.
	WatchID string
	Resume  bool
	// Prove is the confirmation's own check: the release is still in reach.
	Prove func(ctx context.Context) error
	// Report hears the switch's progress.
	Report func(report.Phase, string)
}

// System is the machine the agent runs on: commands through remote.Local,
// the switch through internal/apply with the watchdog.
type System struct {
	Runner remote.Runner
	// Cache is where systems are substituted from; the agent always
	// requires valid signatures.
	Cache nix.Substitution
	// ConfirmTimeout, ActivationTimeout and HealthDeadline tune the
	// guarded switch (apply.Guarded).
	ConfirmTimeout    time.Duration
	ActivationTimeout time.Duration
	HealthDeadline    time.Duration
}

func (s System) runner() remote.Runner {
	if s.Runner == nil {
		return remote.Local{}
	}
	return s.Runner
}

func (s System) State(ctx context.Context, p platform.Platform) (MachineState, error) {
	exec, err := target.For(p)
	if err != nil {
		return MachineState{}, err
	}
	r := s.runner()
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return MachineState{}, err
	}
	cur, running, err := target.State(ctx, r, profile)
	if err != nil {
		return MachineState{}, err
	}
	if gens, err := target.Generations(ctx, r, profile); err == nil {
		for _, g := range gens {
			if g.Current {
				cur.Date = g.Date
			}
		}
	}
	st := MachineState{Generation: cur, Running: running}
	if p == platform.NixOS {
		if st.NeedsReboot, err = target.NeedsReboot(ctx, r); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (s System) Realise(ctx context.Context, path string) error {
	sub := s.Cache
	sub.RequireSigs = true
	c := remote.Cmd(nix.RealiseArgs(path, sub)...)
	c.Root = true
	if _, err := s.runner().Run(ctx, c); err != nil {
		from := sub.From
		if from == "" {
			from = "the configured substituters"
		}
		return fmt.Errorf("substituting %s from %s: %w", path, from, err)
	}
	return nil
}

func (s System) Switch(ctx context.Context, sw Switch) (report.Result, Stage) {
	exec, err := target.For(sw.Platform)
	res := report.Result{Machine: sw.Machine.Name, Target: "local", Platform: string(sw.Platform), Path: sw.Path}
	if err != nil {
		res.Outcome, res.Err, res.Error = report.Failed, err, err.Error()
		return res, StageActivate
	}
	proof := &manifestProof{prove: sw.Prove}
	// The stage a failure belongs to is the last one the switch reached.
	stage := StageActivate
	progress := func(p report.Phase, detail string) {
		switch p {
		case report.PhaseHealth:
			stage = StageHealth
		case report.PhaseConfirm:
			stage = StageConfirm
		}
		if sw.Report != nil {
			sw.Report(p, detail)
		}
	}
	locks := &apply.Locks{}
	defer locks.Release()
	start := time.Now()
	apply.Apply(ctx, apply.Request{Machine: sw.Machine, Runner: s.runner(), Executor: exec, Path: sw.Path,
		Action: target.Switch, Locks: locks, Report: progress,
		Strategy: apply.Guarded{ConfirmTimeout: s.ConfirmTimeout, ActivationTimeout: s.ActivationTimeout,
			HealthDeadline: s.HealthDeadline, Confirmation: proof, ID: sw.WatchID, Resume: sw.Resume}}, &res)
	apply.Elapsed(&res, start)
	if res.OK() {
		return res, ""
	}
	if proof.failed {
		stage = StageConfirm
	}
	var rb *apply.RollbackError
	if errors.As(res.Err, &rb) && rb.Result == watchdog.ResultRolledBack && strings.HasPrefix(rb.Reason, "no confirmation") {
		stage = StageConfirm
	}
	return res, stage
}

// manifestProof is the agent's confirmation: after the activation and the
// health checks, the agent must still reach the release manifest (the
// network, DNS, TLS and the publisher's server all work on the new system),
// or the watchdog puts the old system back. The confirmation itself is
// written on this machine.
type manifestProof struct {
	prove  func(ctx context.Context) error
	failed bool
}

func (p *manifestProof) Prove(ctx context.Context, _ *apply.Activation) []string {
	if p.prove == nil {
		return nil
	}
	var err error
	for {
		if err = p.prove(ctx); err == nil {
			return nil
		}
		// Retried until the checks' time is up: one lost packet must not
		// roll a good system back.
		select {
		case <-ctx.Done():
			p.failed = true
			return []string{"the release manifest is out of reach: " + err.Error()}
		case <-time.After(time.Second):
		}
	}
}

func (p *manifestProof) Through(a *apply.Activation) watchdog.Host { return apply.AsRoot{R: a.Runner} }
