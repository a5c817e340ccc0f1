// Package rollback returns a machine to an earlier generation of its
// profile. The generation is always resolved to its store path first, shown,
// and checked again after the profile moved: never "one back" blindly, which
// overshoots when a generation was added or removed in between (the
// deploy-rs trap in docs/anchors.md).
package rollback

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
)

// Plan is one machine's rollback, resolved before anything changes.
type Plan struct {
	Machine string
	Profile string
	From    target.Generation // the profile's current generation
	To      target.Generation
}

func (p Plan) String() string {
	return fmt.Sprintf("%s: generation %d (%s) → %d (%s, %s)", p.Machine, p.From.Number, p.From.Path,
		p.To.Number, p.To.Path, p.To.Date.Format("2006-01-02 15:04"))
}

// Choose picks the generation to return to: generation n when n > 0, else
// the newest generation older than the current one.
func Choose(gens []target.Generation, n int) (from, to target.Generation, err error) {
	for _, g := range gens {
		if g.Current {
			from = g
		}
	}
	if len(gens) == 0 {
		return from, to, fmt.Errorf("the profile has no generations: nothing to roll back to")
	}
	if n > 0 {
		for _, g := range gens {
			if g.Number == n {
				to = g
			}
		}
		if to.Number == 0 {
			return from, to, fmt.Errorf("there is no generation %d (generations: %s)", n, numbers(gens))
		}
	} else {
		if from.Number == 0 {
			return from, to, fmt.Errorf("no generation of the profile is current: pick one with --to N (generations: %s)", numbers(gens))
		}
		for _, g := range gens {
			if g.Number < from.Number && g.Number > to.Number {
				to = g
			}
		}
		if to.Number == 0 {
			return from, to, fmt.Errorf("generation %d is the oldest: nothing to roll back to (use --to N to pick one)", from.Number)
		}
	}
	if to.Path == "" {
		return from, to, fmt.Errorf("generation %d has no store path (its link is missing)", to.Number)
	}
	return from, to, nil
}

func numbers(gens []target.Generation) string {
	s := make([]string, len(gens))
	for i, g := range gens {
		s[i] = strconv.Itoa(g.Number)
	}
	return strings.Join(s, ", ")
}

// Prepare lists the machine's generations and resolves the rollback target.
func Prepare(ctx context.Context, r remote.Runner, exec target.Executor, machine string, to int) (Plan, error) {
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return Plan{}, err
	}
	gens, err := target.Generations(ctx, r, profile)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Machine: machine, Profile: profile}
	p.From, p.To, err = Choose(gens, to)
	return p, err
}

// Apply carries out a plan under the host's deploy lock: it checks the old
// configuration is still a system of the platform's kind, points the profile
// at the chosen generation, verifies the profile now resolves to the planned
// store path, and activates it with the platform's contract (switch).
func Apply(ctx context.Context, r remote.Runner, exec target.Executor, p Plan, report func(deploy.Phase, string)) error {
	root := target.NeedsRoot(exec)
	report(deploy.PhaseLock, "")
	lock, err := deploy.Lock(ctx, r, root)
	if err != nil {
		return err
	}
	defer lock.Release()

	report(deploy.PhaseGuard, p.To.Path)
	if err := exec.Guard(ctx, r, p.To.Path); err != nil {
		return err
	}
	report(deploy.PhaseProfile, fmt.Sprintf("generation %d", p.To.Number))
	cur, err := target.SwitchGeneration(ctx, r, p.Profile, p.To.Number, root)
	if err != nil {
		return err
	}
	if cur.Path != p.To.Path {
		return fmt.Errorf("after switching to generation %d the profile points at %s, not the planned %s; nothing was activated", p.To.Number, cur.Path, p.To.Path)
	}
	report(deploy.PhaseActivate, p.To.Path)
	return exec.Activate(ctx, r, p.To.Path, target.Switch)
}
