package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
)

// Options configure a deploy.
type Options struct {
	// Flake is the fleet directory (flake.nix and deploy.nix).
	Flake  string
	Action target.Action
	// BuildOn overrides each machine's buildOn from deploy.nix when set.
	BuildOn string
	// Parallel bounds how many hosts are deployed at once (default 10).
	Parallel int
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
	// SSHOptions are extra ssh arguments for every host; they take
	// precedence over the host's own from deploy.nix (see remote.MergeOptions).
	SSHOptions []string
	Reporter   Reporter
	// Activation is the activation stage (default Direct).
	Activation Activation
	// Nix is the local nix (default: probed).
	Nix *nix.Nix
	// Approve, when set, sees the built closures before any host is
	// contacted (deploy --ask shows their diff); an error stops the deploy
	// with nothing changed.
	Approve func(ctx context.Context, closures []Closure) error
	// SudoPassword is given to sudo on hosts where the deploy user's sudo
	// asks for one (through stdin, never argv).
	SudoPassword []byte
}

// Run deploys machines (already selected from inv) and returns the summary.
// The error is non-nil only when the run could not start or evaluate/build
// at all; per-host failures are in the summary.
func Run(ctx context.Context, machines []hosts.Machine, o Options) (*Summary, error) {
	start := time.Now()
	if o.Action == "" {
		o.Action = target.Switch
	}
	if o.Parallel <= 0 {
		o.Parallel = 10
	}
	if o.Reporter == nil {
		o.Reporter = discard{}
	}
	if o.Activation == nil {
		o.Activation = Direct{}
	}
	if o.CacheSubstituter == "" {
		o.CacheSubstituter = o.Cache
	}
	if o.BuildOn != "" && o.BuildOn != hosts.BuildLocal && o.BuildOn != hosts.BuildTarget {
		return nil, fmt.Errorf("--build-on %q: use local or target", o.BuildOn)
	}
	if o.Nix == nil {
		n, err := nix.Probe(ctx)
		if err != nil {
			return nil, err
		}
		o.Nix = n
	}
	d := &run{o: o}
	report := func(host string, p Phase, detail string) {
		o.Reporter.Event(Event{Host: host, Phase: p, Detail: detail, Time: time.Now()})
	}
	d.report = report

	report("", PhaseEval, fmt.Sprintf("%d machines, nix %s", len(machines), o.Nix.Version))
	closures, evaluations, err := evaluate(ctx, o.Nix, o.Flake, machines)
	if err != nil {
		return nil, err
	}
	for i := range closures {
		c := &closures[i]
		if c.Err != nil {
			continue
		}
		exec, err := target.For(c.Platform)
		if err == nil {
			err = exec.Supports(o.Action)
		}
		if err != nil {
			c.Err = err
		}
		if d.buildOn(c.Machine) == hosts.BuildTarget && o.Cache != "" {
			c.Err = fmt.Errorf("--cache needs the closures built locally, but this machine builds on its target")
		}
	}

	local := pick(closures, func(c Closure) bool { return c.Err == nil && d.buildOn(c.Machine) == hosts.BuildLocal })
	if len(local) > 0 {
		report("", PhaseBuild, fmt.Sprintf("%d closures", len(local)))
		if err := BuildLocally(ctx, o.Nix, local); err != nil {
			if err := failUnbuilt(ctx, o.Nix, closures, err); err != nil {
				return nil, err
			}
			local = pick(closures, func(c Closure) bool { return c.Err == nil && d.buildOn(c.Machine) == hosts.BuildLocal })
		}
	}
	if o.Approve != nil && !o.DryRun && o.Action != target.Build {
		if err := o.Approve(ctx, pick(closures, func(c Closure) bool { return c.Err == nil })); err != nil {
			return nil, err
		}
	}
	if o.Cache != "" && !o.DryRun && o.Action != target.Build && len(local) > 0 {
		report("", PhasePush, o.Cache)
		if err := pushToCache(ctx, o.Nix, o.Cache, local); err != nil {
			return nil, err
		}
	}
	if len(local) > 0 && o.Action != target.Build {
		if d.closure, err = o.Nix.Closure(ctx, outPaths(local)); err != nil {
			return nil, fmt.Errorf("reading the closures: %w", err)
		}
	}

	pool, err := remote.NewPool()
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	pool.SetSudoPassword(o.SudoPassword)
	d.pool = pool

	// Hosts in parallel; the machines of one host one after another, over
	// one connection and under one deploy lock (see onHost).
	ms := make([]hosts.Machine, len(closures))
	for i, c := range closures {
		ms[i] = c.Machine
	}
	results := make([]Result, len(closures))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for _, idx := range hosts.ByTarget(ms) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d.onHost(ctx, closures, idx, results)
		}()
	}
	wg.Wait()

	s := &Summary{Action: o.Action, Results: results, Evaluations: evaluations, SSHConnections: d.dials, Seconds: time.Since(start).Seconds(), OK: true}
	for _, r := range results {
		if !r.OK() {
			s.OK = false
		}
	}
	return s, nil
}

// run is the state shared by the hosts of one deploy.
type run struct {
	o       Options
	pool    *remote.Pool
	report  func(host string, p Phase, detail string)
	closure []nix.PathInfo // of every locally built closure

	mu    sync.Mutex
	dials int
}

func (d *run) buildOn(m hosts.Machine) string {
	if m.Local() {
		return hosts.BuildLocal
	}
	if d.o.BuildOn != "" {
		return d.o.BuildOn
	}
	return m.BuildOn
}

func pick(cs []Closure, keep func(Closure) bool) []Closure {
	var out []Closure
	for _, c := range cs {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func outPaths(cs []Closure) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.OutPath)
	}
	return out
}

// connect opens the runner of a machine's host: its master SSH connection,
// or the local machine.
func (d *run) connect(ctx context.Context, m hosts.Machine) (remote.Runner, error) {
	if m.Local() {
		return remote.Local{}, nil
	}
	d.mu.Lock()
	d.dials++
	d.mu.Unlock()
	opts := remote.MergeOptions(d.o.SSHOptions, m.SSHOptions)
	s, err := d.pool.Dial(ctx, m.Name, m.Address, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func isUnreachable(err error) bool {
	var ce *remote.ConnectError
	return errors.As(err, &ce)
}
