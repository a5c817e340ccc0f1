// Package rollout deploys a change in waves: the machines of the first wave
// (canaries), then, once they run it and stay healthy for a soak time, the
// next wave, up to all; at most a disruption budget of machines mid-deploy at
// once. When a machine of a wave fails, rolls back or stays unhealthy past
// the deadline, the rollout halts: later waves never get the change, and
// the command says which machine and why.
//
// The waves and the bookkeeping are here; how a wave is deployed is a
// Stage: a push deploy applies the plan to the wave's machines
// (internal/deploy), a pull rollout publishes a release to them and waits
// for their agents.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
)

// Wave is one stage of a rollout with its machines resolved.
type Wave struct {
	Name     string
	Machines []hosts.Machine
	Soak     time.Duration
}

// Names lists the wave's machine names.
func (w Wave) Names() []string {
	names := make([]string, len(w.Machines))
	for i, m := range w.Machines {
		names[i] = m.Name
	}
	return names
}

// ErrEmptyWave is a wave whose selectors name no machine still to deploy.
var ErrEmptyWave = errors.New("the wave selects no machine that an earlier wave did not take")

// Split assigns the selected machines to waves: each machine goes to the
// first wave whose selectors name it; machines no wave names form a last
// wave of their own ("rest"). A wave that ends up empty is an error, so a
// typo in a selector is caught before anything is deployed.
func Split(inv *hosts.Inventory, selected []hosts.Machine, waves []hosts.Wave) ([]Wave, error) {
	chosen := map[string]bool{}
	for _, m := range selected {
		chosen[m.Name] = true
	}
	taken := map[string]bool{}
	var out []Wave
	for _, w := range waves {
		ms, err := inv.Select(w.Selectors, false)
		if err != nil {
			return nil, fmt.Errorf("wave %s: %w", w.Name, err)
		}
		wave := Wave{Name: w.Name, Soak: w.Soak}
		for _, m := range ms {
			if chosen[m.Name] && !taken[m.Name] {
				taken[m.Name] = true
				wave.Machines = append(wave.Machines, m)
			}
		}
		if len(wave.Machines) == 0 {
			return nil, fmt.Errorf("wave %s (%s): %w", w.Name, strings.Join(w.Selectors, " "), ErrEmptyWave)
		}
		out = append(out, wave)
	}
	var rest []hosts.Machine
	for _, m := range selected {
		if !taken[m.Name] {
			rest = append(rest, m)
		}
	}
	if len(rest) > 0 {
		out = append(out, Wave{Name: "rest", Machines: rest})
	}
	return out, nil
}

// Stage deploys one wave and tells whether its machines stay healthy.
type Stage interface {
	// Deploy deploys the wave and returns each machine's result.
	Deploy(ctx context.Context, w Wave) (*report.Summary, error)
	// Healthy says, for the wave's machines after their soak, which are
	// not running the change healthy (empty when all are), and why.
	Healthy(ctx context.Context, w Wave) (map[string]string, error)
}

// Progress hears about the rollout's steps.
type Progress interface {
	Wave(i int, w Wave, state string)
}

// Both tells a and b of a rollout's steps, in that order.
func Both(a, b Progress) Progress { return both{a, b} }

type both struct{ a, b Progress }

func (p both) Wave(i int, w Wave, state string) {
	p.a.Wave(i, w, state)
	p.b.Wave(i, w, state)
}

// Halt says why a rollout stopped before its last wave.
type Halt struct {
	Wave    string `json:"wave"`
	Machine string `json:"machine"`
	Reason  string `json:"reason"`
}

func (h *Halt) Error() string {
	return fmt.Sprintf("rollout halted in wave %s: %s: %s", h.Wave, h.Machine, h.Reason)
}

// Result is the outcome of every machine of the rollout, wave by wave.
type Result struct {
	Waves []WaveResult
	Halt  *Halt
}

// WaveResult is one wave's outcome.
type WaveResult struct {
	Name     string
	Machines []report.Result
	// State is done, halted, or not started.
	State string
}

// OK reports whether every wave deployed and stayed healthy.
func (r *Result) OK() bool { return r.Halt == nil }

// Summary flattens the result into one summary: the machines of waves that
// never started are "not started".
func (r *Result) Summary(seconds float64) *report.Summary {
	var all []report.Result
	for _, w := range r.Waves {
		all = append(all, w.Machines...)
	}
	return report.NewSummary(all, seconds)
}

// Run deploys the waves in order through stage. After a wave deployed
// without a failure, its machines soak (ctx permitting) and are asked again
// whether they are healthy; the first failure halts the rollout: the waves
// after it are not started.
func Run(ctx context.Context, waves []Wave, stage Stage, progress Progress) *Result {
	res := &Result{}
	for i, w := range waves {
		if res.Halt != nil || ctx.Err() != nil {
			res.Waves = append(res.Waves, notStarted(w, res.Halt, ctx.Err()))
			continue
		}
		progress.Wave(i, w, "deploying")
		s, err := stage.Deploy(ctx, w)
		wr := WaveResult{Name: w.Name, State: "done"}
		if err != nil {
			res.Halt = &Halt{Wave: w.Name, Machine: strings.Join(w.Names(), ","), Reason: err.Error()}
			wr.State = "halted"
			for _, m := range w.Machines {
				wr.Machines = append(wr.Machines, report.Result{Machine: m.Name, Target: m.Target, Outcome: report.Failed, Error: err.Error()})
			}
			res.Waves = append(res.Waves, wr)
			progress.Wave(i, w, "halted")
			continue
		}
		wr.Machines = s.Machines
		for _, r := range s.Machines {
			if !r.OK() && res.Halt == nil {
				first, _, _ := strings.Cut(r.Error, "\n")
				res.Halt = &Halt{Wave: w.Name, Machine: r.Machine, Reason: strings.TrimSpace(string(r.Outcome) + ": " + first)}
			}
		}
		if res.Halt == nil && w.Soak > 0 && i < len(waves)-1 {
			progress.Wave(i, w, fmt.Sprintf("soaking for %s", w.Soak))
			select {
			case <-ctx.Done():
			case <-time.After(w.Soak):
			}
		}
		if res.Halt == nil && ctx.Err() == nil {
			progress.Wave(i, w, "checking health")
			bad, err := stage.Healthy(ctx, w)
			switch {
			case err != nil:
				res.Halt = &Halt{Wave: w.Name, Machine: strings.Join(w.Names(), ","), Reason: "checking health: " + err.Error()}
			case len(bad) > 0:
				for _, name := range w.Names() {
					if why, ok := bad[name]; ok {
						res.Halt = &Halt{Wave: w.Name, Machine: name, Reason: why}
						markUnhealthy(&wr, name, why)
						break
					}
				}
			}
		}
		if res.Halt != nil {
			wr.State = "halted"
			progress.Wave(i, w, "halted")
		} else {
			progress.Wave(i, w, "done")
		}
		res.Waves = append(res.Waves, wr)
	}
	return res
}

func markUnhealthy(wr *WaveResult, machine, why string) {
	for i := range wr.Machines {
		if wr.Machines[i].Machine == machine {
			wr.Machines[i].Outcome = report.Failed
			wr.Machines[i].Error = "unhealthy after the soak: " + why
		}
	}
}

func notStarted(w Wave, halt *Halt, ctxErr error) WaveResult {
	why := "the rollout was interrupted before this wave"
	if halt != nil {
		why = fmt.Sprintf("the rollout halted in wave %s (%s)", halt.Wave, halt.Machine)
	}
	wr := WaveResult{Name: w.Name, State: "not started"}
	for _, m := range w.Machines {
		wr.Machines = append(wr.Machines, report.Result{Machine: m.Name, Target: m.Target, Outcome: report.NotStarted, Error: why})
	}
	return wr
}
