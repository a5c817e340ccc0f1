package deploy

import (
	"context"
	"time"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// Options configure a deploy: planning it (see plan.Options) and applying
// the plan to the machines.
type Options struct {
	// Flake is the fleet directory (flake.nix and deploy.nix).
	Flake  string
	Action target.Action
	// BuildOn overrides each machine's buildOn from deploy.nix when set.
	BuildOn string
	// SubstituteOnDestination lets hosts fetch paths from their own
	// substituters instead of receiving them from the deployer.
	SubstituteOnDestination bool
	// Cache, when set, is a store URL the closures are pushed to once;
	// hosts then substitute from CacheSubstituter (default Cache).
	Cache            string
	CacheSubstituter string
	// CachePublicKey is added to the hosts' trusted-public-keys for the
	// substitution, for hosts whose configuration does not trust the cache yet.
	CachePublicKey string
	// DryRun builds and reports what each host is missing, changing nothing.
	DryRun bool
	// Reactivate switches machines that already run their new system too
	// (by default such a machine is reported up to date and left alone).
	Reactivate bool
	// Reach says how to reach the hosts: how many at once, extra ssh
	// arguments (which take precedence over the machine's own from
	// deploy.nix), the sudo password for hosts that ask for one.
	Reach    fanout.Options
	Reporter report.Reporter
	// Strategy is the activation strategy (default apply.Direct).
	Strategy apply.Strategy
	// Nix is the local nix (default: probed).
	Nix *nix.Nix
	// Approve, when set, sees the built closures before any host is
	// contacted (deploy --ask shows their diff); an error stops the deploy
	// with nothing changed.
	Approve func(ctx context.Context, closures []plan.Closure) error
}

// Run plans the deploy of machines (already selected from deploy.nix) and
// applies the plan to all of them. The error is non-nil only when the run
// could not start or evaluate/build at all; per-machine failures are in
// the summary.
func Run(ctx context.Context, machines []hosts.Machine, o Options) (*report.Summary, error) {
	start := time.Now()
	fleet, err := fanout.New(machines, o.Reach)
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	// The logins to the hosts happen while nix evaluates and builds. Not
	// for a build, which needs no host, nor with Approve: its question
	// (deploy --ask) must not be interleaved with what ssh may ask (a
	// passphrase, an unknown host key).
	if o.Action != target.Build && o.Approve == nil {
		fleet.Warm(ctx)
	}
	p, err := plan.Make(ctx, machines, plan.Options{
		Flake: o.Flake, Action: o.Action, BuildOn: o.BuildOn, Cache: o.Cache, DryRun: o.DryRun,
		Approve: o.Approve, Nix: o.Nix, Reporter: o.Reporter,
	})
	if err != nil {
		return nil, err
	}
	var s *report.Summary
	if sameMachines(p.Closures, machines) {
		s = applyOn(ctx, p, o, fleet)
	} else if s, err = Apply(ctx, p, o); err != nil {
		return nil, err
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// sameMachines reports whether the plan's closures are the machines, in
// their order (a fleet's hosts index the machines it was made of).
func sameMachines(cs []plan.Closure, machines []hosts.Machine) bool {
	if len(cs) != len(machines) {
		return false
	}
	for i, c := range cs {
		if c.Machine.Name != machines[i].Name {
			return false
		}
	}
	return true
}

// Apply applies a plan to its machines: for each host in parallel (up to
// Options.Reach.Parallel), connect → lock → copy what the host lacks (or build
// there) → apply.Apply for each of its machines, systems first. Options
// that only concern planning are ignored.
func Apply(ctx context.Context, p *plan.Plan, o Options) (*report.Summary, error) {
	fleet, err := fanout.New(machinesOf(p.Closures), o.Reach)
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	return applyOn(ctx, p, o, fleet), nil
}

// applyOn is Apply over a fleet made of the plan's machines.
func applyOn(ctx context.Context, p *plan.Plan, o Options, fleet *fanout.Fleet) *report.Summary {
	start := time.Now()
	if o.Reporter == nil {
		o.Reporter = report.Discard
	}
	if o.Strategy == nil {
		o.Strategy = apply.Direct{}
	}
	if o.CacheSubstituter == "" {
		o.CacheSubstituter = p.Pushed
	}
	d := &run{o: o, plan: p}
	results := make([]report.Result, len(p.Closures))
	notStarted := fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		d.onHost(ctx, h, results)
	})
	for _, h := range notStarted {
		for _, i := range h.Machines {
			c := p.Closures[i]
			results[i] = report.Result{Machine: c.Machine.Name, Target: c.Machine.Target, Platform: string(c.Platform),
				Path: c.OutPath, Outcome: report.NotStarted, Error: "interrupted before its turn: nothing was done"}
			report.To(o.Reporter, c.Machine.Name)(report.PhaseFailed, string(report.NotStarted))
		}
	}
	s := report.NewSummary(results, time.Since(start).Seconds())
	s.Action, s.Evaluations, s.SSHConnections = string(p.Action), p.Evaluations, fleet.Dials()
	return s
}

// run is the state shared by the hosts of one deploy.
type run struct {
	o    Options
	plan *plan.Plan
}
