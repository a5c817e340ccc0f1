// Package plan is the first half of a deploy: one evaluation of the
// selected machines (the platform, derivation and output path of each
// closure), one build of every closure built here, the user's approval and
// a push to a binary cache. The result, a Plan, is what internal/deploy
// applies to machines (all at once, or wave by wave), what status compares
// with what runs, and what a pull release records.
package plan

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// Options say how to plan a deploy.
type Options struct {
	// Flake is the fleet directory (flake.nix).
	Flake  string
	Action target.Action
	// BuildOn overrides each machine's buildOn from deploy.nix when set.
	BuildOn string
	// Cache, when set, is a store URL every locally built closure is
	// pushed to once (hosts then substitute from it instead of receiving
	// the closure from this machine).
	Cache string
	// SignWith, when set, is a Nix secret-key file the closures are signed
	// with (nix store sign, in the local store) before they are pushed, so
	// that hosts which trust its public key accept them from any cache.
	SignWith string
	// DryRun plans without pushing anything anywhere.
	DryRun bool
	// Approve, when set, sees the built closures before anything leaves
	// this machine (deploy --ask shows their diff); an error stops the
	// deploy with nothing changed.
	Approve func(ctx context.Context, closures []Closure) error
	// Nix is the local nix (default: probed).
	Nix      *nix.Nix
	Reporter report.Reporter
}

// Plan is what a deploy will do: the closure of each selected machine,
// built (or, for machines built on their target, evaluated).
type Plan struct {
	Action   target.Action
	Closures []Closure
	// paths is the path info of every locally built closure, for copying,
	// read on first need (PathInfo), and shared with the plans Only makes:
	// a deploy where every machine is up to date copies nothing.
	paths *pathInfo
	// Evaluations counts the nix evaluations of the flake (1 unless one
	// failed and each machine was evaluated alone).
	Evaluations int
	// Pushed is the cache the closures were pushed to ("" when none).
	Pushed string
	Nix    *nix.Nix
}

// ErrBuildOn is a buildOn override that is neither local nor target.
var ErrBuildOn = errors.New(`where to build must be "local" or "target"`)

// Make evaluates, builds, asks for approval and pushes. The error is for
// failures of the whole fleet (the flake does not evaluate, nothing built,
// not approved); a machine that fails alone has Closure.Err.
func Make(ctx context.Context, machines []hosts.Machine, o Options) (*Plan, error) {
	if o.Action == "" {
		o.Action = target.Switch
	}
	if o.Reporter == nil {
		o.Reporter = report.Discard
	}
	if o.BuildOn != "" && o.BuildOn != hosts.BuildLocal && o.BuildOn != hosts.BuildTarget {
		return nil, fmt.Errorf("%q: %w", o.BuildOn, ErrBuildOn)
	}
	if o.Nix == nil {
		n, err := nix.Probe(ctx)
		if err != nil {
			return nil, err
		}
		o.Nix = n
	}
	progress := report.To(o.Reporter, "")
	p := &Plan{Action: o.Action, Nix: o.Nix}

	progress(report.PhaseEval, fmt.Sprintf("%d machines, nix %s", len(machines), o.Nix.Version))
	closures, evaluations, err := evaluate(ctx, o.Nix, o.Flake, machines)
	if err != nil {
		return nil, err
	}
	p.Closures, p.Evaluations = closures, evaluations
	for i := range p.Closures {
		c := &p.Closures[i]
		c.BuildOn = buildOn(c.Machine, o.BuildOn)
		if c.Err != nil {
			continue
		}
		exec, err := target.For(c.Platform)
		if err == nil {
			err = exec.Supports(o.Action)
		}
		if err == nil && c.BuildOn == hosts.BuildTarget && o.Cache != "" {
			err = errors.New("a binary cache needs the closure built locally, but this machine builds on its target")
		}
		c.Err = err
	}

	local := p.Local()
	if len(local) > 0 {
		progress(report.PhaseBuild, fmt.Sprintf("%d closures", len(local)))
		if err := Build(ctx, o.Nix, local); err != nil {
			if err := failUnbuilt(ctx, o.Nix, p.Closures, err); err != nil {
				return nil, err
			}
			local = p.Local()
		}
	}
	p.paths = &pathInfo{outs: outPaths(local)}
	changes := !o.DryRun && o.Action != target.Build
	if o.Approve != nil && changes {
		if err := o.Approve(ctx, p.OK()); err != nil {
			return nil, err
		}
	}
	if o.Cache != "" && changes && len(local) > 0 {
		progress(report.PhasePush, o.Cache)
		if o.SignWith != "" {
			if err := o.Nix.Sign(ctx, o.SignWith, outPaths(local)); err != nil {
				return nil, fmt.Errorf("signing the closures: %w", err)
			}
		}
		if err := o.Nix.Copy(ctx, o.Cache, outPaths(local), nix.CopyOptions{}); err != nil {
			return nil, fmt.Errorf("pushing to the cache %s: %w", o.Cache, err)
		}
		p.Pushed = o.Cache
	}
	return p, nil
}

type pathInfo struct {
	outs  []string // of the whole plan's locally built closures
	once  sync.Once
	paths []nix.PathInfo
	err   error
}

// PathInfo is the path info (references, sizes) of every locally built
// closure: what copying to a host needs. It is read once, on first use.
func (p *Plan) PathInfo(ctx context.Context) ([]nix.PathInfo, error) {
	if p.paths == nil {
		p.paths = &pathInfo{outs: outPaths(p.Local())}
	}
	pi := p.paths
	pi.once.Do(func() {
		if len(pi.outs) > 0 {
			pi.paths, pi.err = p.Nix.Closure(ctx, pi.outs)
			if pi.err != nil {
				pi.err = fmt.Errorf("reading the closures: %w", pi.err)
			}
		}
	})
	return pi.paths, pi.err
}

// Only is the plan for the named machines alone (a wave of a rollout),
// sharing what the whole plan read.
func (p *Plan) Only(names []string) *Plan {
	if p.paths == nil {
		p.paths = &pathInfo{outs: outPaths(p.Local())}
	}
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	sub := *p
	sub.Closures = p.pick(func(c Closure) bool { return keep[c.Machine.Name] })
	return &sub
}

// buildOn is where a machine's closure is built: always here for this
// machine, else the override, else deploy.nix's buildOn.
func buildOn(m hosts.Machine, override string) string {
	switch {
	case m.Local():
		return hosts.BuildLocal
	case override != "":
		return override
	case m.BuildOn != "":
		return m.BuildOn
	}
	return hosts.BuildLocal
}

// Local lists the closures built on this machine that can be deployed.
func (p *Plan) Local() []Closure {
	return p.pick(func(c Closure) bool { return c.Err == nil && c.BuildOn == hosts.BuildLocal })
}

// OK lists the closures that can be deployed.
func (p *Plan) OK() []Closure {
	return p.pick(func(c Closure) bool { return c.Err == nil })
}

func (p *Plan) pick(keep func(Closure) bool) []Closure {
	var out []Closure
	for _, c := range p.Closures {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func outPaths(cs []Closure) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.OutPath
	}
	return out
}
