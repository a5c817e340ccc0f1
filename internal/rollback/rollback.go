// Package rollback returns a machine to an earlier generation of its
// profile. The generation is always resolved to its store path first, shown,
// and checked again after the profile moved: never "one back" blindly, which
// overshoots when a generation was added or removed in between (the
// deploy-rs trap in docs/anchors.md).
package rollback

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
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
	if p.From.Number == p.To.Number {
		return fmt.Sprintf("%s: already on generation %d (%s)", p.Machine, p.To.Number, p.To.Path)
	}
	return fmt.Sprintf("%s: generation %d (%s) → %d (%s, %s)", p.Machine, p.From.Number, p.From.Path,
		p.To.Number, p.To.Path, p.To.Date.Format("2006-01-02 15:04"))
}

// ErrPick is returned (wrapped) when the generation to return to must be
// named, because none is the obvious one.
var ErrPick = errors.New("name the generation to return to")

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
			return from, to, fmt.Errorf("%w: no generation of the profile is current (generations: %s)", ErrPick, numbers(gens))
		}
		for _, g := range gens {
			if g.Number < from.Number && g.Number > to.Number {
				to = g
			}
		}
		if to.Number == 0 {
			return from, to, fmt.Errorf("%w: generation %d is the oldest, nothing is older to roll back to", ErrPick, from.Number)
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

// Rollback is one rollback of many machines: Plan resolves every machine's
// target generation (one connection per host), Apply carries the plans out
// over the same connections.
type Rollback struct {
	machines []hosts.Machine
	to       int
	fleet    *fanout.Fleet
	steps    []*step
}

// step is one machine's rollback as it goes.
type step struct {
	machine hosts.Machine
	exec    target.Executor
	plan    Plan
	planned bool
	res     report.Result
}

// New prepares the rollback of machines (their platforms known) to
// generation to (0: the one before the current).
func New(machines []hosts.Machine, to int, o fanout.Options) (*Rollback, error) {
	fleet, err := fanout.New(machines, o)
	if err != nil {
		return nil, err
	}
	rb := &Rollback{machines: machines, to: to, fleet: fleet, steps: make([]*step, len(machines))}
	for i, m := range machines {
		rb.steps[i] = &step{machine: m, res: report.Result{Machine: m.Name, Platform: string(m.Platform)}}
	}
	return rb, nil
}

// Close ends the connections.
func (rb *Rollback) Close() error { return rb.fleet.Close() }

// Plan resolves each machine's target generation to its store path on the
// machine itself. It returns the plans of the machines it could resolve;
// the others have failed and say why in the summary.
func (rb *Rollback) Plan(ctx context.Context) []Plan {
	notStarted := rb.fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		for _, i := range h.Machines {
			rb.steps[i].prepare(ctx, h, rb.to)
		}
	})
	rb.notStarted(notStarted)
	var plans []Plan
	for _, s := range rb.steps {
		if s.planned {
			plans = append(plans, s.plan)
		}
	}
	return plans
}

func (s *step) prepare(ctx context.Context, h *fanout.Host, to int) {
	m := s.machine
	fail := func(o report.Outcome, err error) {
		s.res.Outcome, s.res.Err, s.res.Error = o, err, err.Error()
	}
	exec, err := target.For(m.Platform)
	if err != nil {
		fail(report.Failed, fmt.Errorf("%s: the flake has no configuration %q in nixosConfigurations, darwinConfigurations or homeConfigurations", m.Name, m.Configuration))
		return
	}
	s.exec = exec
	r, err := h.Connect(ctx, m)
	if err != nil {
		var ce *remote.ConnectError
		if errors.As(err, &ce) {
			fail(report.Unreachable, err)
		} else {
			fail(report.Failed, err)
		}
		return
	}
	profile, err := exec.Profile(ctx, r)
	if err == nil {
		var gens []target.Generation
		if gens, err = target.Generations(ctx, r, profile); err == nil {
			s.plan = Plan{Machine: m.Name, Profile: profile}
			s.plan.From, s.plan.To, err = Choose(gens, to)
		}
	}
	if err != nil {
		fail(report.Failed, fmt.Errorf("%s: %w", m.Name, err))
		return
	}
	s.planned = true
	s.res.Path, s.res.Generation, s.res.PreviousGeneration = s.plan.To.Path, s.plan.To.Number, s.plan.From.Number
	s.res.Outcome = s.plan.outcome(true)
}

// outcome is what the plan does (or, dry, would do) to the machine.
func (p Plan) outcome(dry bool) report.Outcome {
	switch {
	case p.From.Number == p.To.Number:
		return report.AlreadyThere
	case p.To.Number > p.From.Number && dry:
		return report.WouldGoForward
	case p.To.Number > p.From.Number:
		return report.WentForward
	case dry:
		return report.WouldGoBack
	}
	return report.WentBack
}

// Apply carries out every plan under its host's deploy lock: the old
// configuration is checked to still be a system of the platform's kind,
// the profile is pointed at the chosen generation and checked to resolve
// to the planned store path, and that is activated with the platform's
// contract (switch). A machine already on its target is left alone.
func (rb *Rollback) Apply(ctx context.Context, r report.Reporter) {
	notStarted := rb.fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		locks := &apply.Locks{}
		defer locks.Release()
		for _, i := range h.Machines {
			rb.steps[i].apply(ctx, h, locks, r)
		}
	})
	rb.notStarted(notStarted)
}

func (s *step) apply(ctx context.Context, h *fanout.Host, locks *apply.Locks, rep report.Reporter) {
	m := s.machine
	progress := report.To(rep, m.Name)
	if !s.planned {
		if s.res.Err != nil {
			rep.Event(report.Event{Machine: m.Name, Phase: report.PhaseFailed, Err: s.res.Err, Time: time.Now()})
		}
		return
	}
	start := time.Now()
	defer func() { s.res.Seconds = time.Since(start).Seconds() }()
	if s.plan.From.Number == s.plan.To.Number {
		s.res.Generation = s.plan.To.Number
		progress(report.PhaseDone, fmt.Sprintf("already on generation %d", s.plan.To.Number))
		return
	}
	r, err := h.Connect(ctx, m)
	if err != nil {
		s.res.Outcome, s.res.Err, s.res.Error = report.Unreachable, err, err.Error()
		rep.Event(report.Event{Machine: m.Name, Phase: report.PhaseFailed, Err: err, Time: time.Now()})
		return
	}
	apply.Apply(ctx, apply.Request{Machine: m, Runner: r, Executor: s.exec, Path: s.plan.To.Path, Action: target.Switch,
		Generation: s.plan.To.Number, Locks: locks, Report: progress}, &s.res)
	if s.res.Err != nil {
		// Where a failed machine ended is not known for sure: status tells.
		s.res.Path = ""
		rep.Event(report.Event{Machine: m.Name, Phase: report.PhaseFailed, Err: s.res.Err, Time: time.Now()})
		return
	}
	s.res.Outcome = s.plan.outcome(false)
	progress(report.PhaseDone, fmt.Sprintf("generation %d", s.plan.To.Number))
}

// notStarted marks the machines of hosts an interrupt kept from starting.
func (rb *Rollback) notStarted(hs []*fanout.Host) {
	for _, h := range hs {
		for _, i := range h.Machines {
			s := rb.steps[i]
			s.planned = false
			s.res.Outcome, s.res.Error = report.NotStarted, "interrupted before its turn: nothing was done"
		}
	}
}

// Summary is every machine's outcome.
func (rb *Rollback) Summary(seconds float64) *report.Summary {
	results := make([]report.Result, len(rb.steps))
	for i, s := range rb.steps {
		results[i] = s.res
	}
	return report.NewSummary(results, seconds)
}
