package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
)

// onHost deploys the machines of one host (closures[i] for i in idx) one
// after another: a nix-darwin or NixOS system and its users' home-manager
// configurations, or machines given the same target. They share the
// connection and the deploy lock: two activations on one host must not run
// at once, and the run's own lock must not refuse its second machine.
// Systems go first, so a home activates on the system it was built for.
func (d *run) onHost(ctx context.Context, closures []Closure, idx []int, results []Result) {
	homeLast := func(i int) int {
		if closures[i].Platform == hosts.Home {
			return 1
		}
		return 0
	}
	order := slices.Clone(idx)
	slices.SortStableFunc(order, func(a, b int) int { return homeLast(a) - homeLast(b) })
	conn := &hostConn{locks: map[bool]*HostLock{}}
	defer conn.release()
	for _, i := range order {
		results[i] = d.host(ctx, closures[i], conn)
	}
}

// hostConn is what the machines of one run on one host share: the
// connection, opened by the first machine that needs it, and the deploy
// locks taken for them, held until the host's last machine is done.
type hostConn struct {
	runner remote.Runner
	err    error // why the connection could not be opened
	dialed bool
	// locks holds the system-wide lock (true) and the deploy user's own
	// (false), each taken when a machine first needs it.
	locks map[bool]*HostLock
}

// connect returns the host's runner, dialing it for the first machine only;
// messages name machine m.
func (h *hostConn) connect(ctx context.Context, d *run, m hosts.Machine) (remote.Runner, error) {
	if !h.dialed {
		h.dialed = true
		h.runner, h.err = d.connect(ctx, m)
	}
	if h.err != nil {
		return nil, h.err
	}
	if s, ok := h.runner.(*remote.SSH); ok {
		return s.As(m.Name), nil
	}
	return h.runner, nil
}

// lock takes the deploy lock a machine needs unless the run holds it
// already. For a deploy user that is root, the user's lock is the
// system-wide one.
func (h *hostConn) lock(ctx context.Context, r remote.Runner, root bool) error {
	root = root || r.IsRoot()
	if h.locks[root] != nil {
		return nil
	}
	l, err := Lock(ctx, r, root)
	if err != nil {
		return err
	}
	h.locks[root] = l
	return nil
}

func (h *hostConn) release() {
	for _, l := range h.locks {
		l.Release()
	}
}

// host deploys one machine: connect → lock → copy (or build there) → guard →
// activate → record. It never returns an error: everything ends up in the
// Result, so one bad host does not stop the others.
func (d *run) host(ctx context.Context, c Closure, conn *hostConn) (res Result) {
	m := c.Machine
	start := time.Now()
	res = Result{Machine: m.Name, Target: m.Target, Platform: c.Platform, Path: c.OutPath}
	report := func(p Phase, detail string) { d.report(m.Name, p, detail) }
	defer func() {
		res.Seconds = time.Since(start).Seconds()
		if res.Err != nil {
			res.Error = res.Err.Error()
			d.o.Reporter.Event(Event{Host: m.Name, Phase: PhaseFailed, Detail: string(res.Outcome), Err: res.Err, Time: time.Now()})
		} else {
			report(PhaseDone, string(res.Outcome))
		}
	}()
	fail := func(o Outcome, err error) Result {
		res.Outcome, res.Err = o, err
		return res
	}
	if c.Err != nil {
		return fail(Failed, c.Err)
	}
	if err := homeUserMatches(m, c.Platform); err != nil {
		return fail(Failed, err)
	}
	onTarget := d.buildOn(m) == hosts.BuildTarget
	if d.o.Action == target.Build && !onTarget {
		res.Outcome = Built
		return res
	}

	report(PhaseConnect, m.Target)
	r, err := conn.connect(ctx, d, m)
	if err != nil {
		if isUnreachable(err) {
			return fail(Unreachable, err)
		}
		return fail(Failed, err)
	}
	exec, _ := target.For(c.Platform)
	root := target.NeedsRoot(exec)

	if !d.o.DryRun {
		report(PhaseLock, "")
		if err := conn.lock(ctx, r, root); err != nil {
			if errors.Is(err, ErrLocked) {
				return fail(Refused, err)
			}
			return fail(Failed, fmt.Errorf("%s: %w", m.Name, err))
		}
	}

	if onTarget {
		if err := d.buildOnTarget(ctx, r, c, root, &res, report); err != nil {
			return fail(Failed, err)
		}
	} else if err := d.copyClosure(ctx, r, c, root, &res, report); err != nil {
		return fail(Failed, err)
	}
	if d.o.DryRun {
		res.Outcome = WouldCopy
		return res
	}
	if d.o.Action == target.Build {
		res.Outcome = Built
		return res
	}

	report(PhaseGuard, "")
	if err := exec.Guard(ctx, r, c.OutPath); err != nil {
		return fail(Failed, fmt.Errorf("%s: %w", m.Name, err))
	}
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return fail(Failed, err)
	}
	prev, err := target.Current(ctx, r, profile)
	if err != nil {
		return fail(Failed, err)
	}
	res.PreviousGeneration = prev.Number
	h := &Host{Machine: m, Runner: r, Executor: exec, Path: c.OutPath, Action: d.o.Action, Profile: profile, Previous: prev, Report: report}
	if err := d.o.Activation.Activate(ctx, h); err != nil {
		res.Generation = prev.Number
		if cur, e := target.Current(ctx, r, profile); e == nil {
			res.Generation = cur.Number
		}
		var rb *RollbackError
		if errors.As(err, &rb) {
			return fail(rb.Outcome, err)
		}
		return fail(Failed, err)
	}
	cur, err := target.Current(ctx, r, profile)
	if err != nil {
		return fail(Failed, err)
	}
	res.Generation = cur.Number
	if d.o.Action.SetsProfile() && cur.Path != c.OutPath {
		return fail(Failed, fmt.Errorf("%s: after activation %s points at %s, not the new %s", m.Name, profile, cur.Path, c.OutPath))
	}
	res.Outcome = outcomeOf(d.o.Action)
	return res
}

// copyClosure sends the host the paths of a locally built closure that it
// lacks, after letting it substitute from the --cache store.
func (d *run) copyClosure(ctx context.Context, r remote.Runner, c Closure, root bool, res *Result, report func(Phase, string)) error {
	if r.Store() == "" {
		report(PhaseCopy, "local store: nothing to copy")
		return nil
	}
	if d.o.Cache != "" && !d.o.DryRun {
		report(PhaseRealise, "substituting from "+d.o.CacheSubstituter)
		if err := d.substitute(ctx, r, c.OutPath, root); err != nil {
			return err
		}
	}
	missing, err := missingPaths(ctx, r, closureOf(d.closure, c.OutPath))
	if err != nil {
		return err
	}
	res.CopiedPaths, res.CopiedBytes = len(missing), totalSize(missing)
	if d.o.DryRun {
		res.WouldCopy = pathsOf(missing)
	}
	report(PhaseCopy, copyDetail(missing, d.o.DryRun))
	if len(missing) == 0 || d.o.DryRun {
		return nil
	}
	err = d.o.Nix.Copy(ctx, r.Store(), []string{c.OutPath}, nix.CopyOptions{
		SSHOpts:                 r.NixSSHOpts(),
		SubstituteOnDestination: d.o.SubstituteOnDestination,
		Progress:                copyProgress(missing, report),
	})
	if err != nil {
		return explainCopy(r.Name(), fmt.Errorf("%s: copying the closure: %w", r.Name(), err))
	}
	return nil
}

// copyProgress reports which path is being copied, at most a few times a
// second so that plain-line logs of large closures stay readable.
func copyProgress(missing []nix.PathInfo, report func(Phase, string)) func(string) {
	var last time.Time
	n := 0
	return func(path string) {
		n++
		if time.Since(last) < 500*time.Millisecond && n < len(missing) {
			return
		}
		last = time.Now()
		name := path[strings.LastIndex(path, "/")+1:]
		if _, rest, ok := strings.Cut(name, "-"); ok {
			name = rest
		}
		report(PhaseCopy, fmt.Sprintf("copying %d/%d: %s", min(n, len(missing)), len(missing), name))
	}
}

func copyDetail(missing []nix.PathInfo, dry bool) string {
	verb := "copying"
	if dry {
		verb = "would copy"
	}
	if len(missing) == 0 {
		return "nothing to copy"
	}
	return fmt.Sprintf("%s %d paths (%s)", verb, len(missing), HumanBytes(totalSize(missing)))
}

// buildOnTarget copies the derivation closure and realises it on the host,
// so only .drv files and sources cross the network.
func (d *run) buildOnTarget(ctx context.Context, r remote.Runner, c Closure, root bool, res *Result, report func(Phase, string)) error {
	drvClosure, err := d.o.Nix.DerivationClosure(ctx, []string{c.DrvPath})
	if err != nil {
		return fmt.Errorf("reading the derivation closure: %w", err)
	}
	missing, err := missingPaths(ctx, r, drvClosure)
	if err != nil {
		return err
	}
	res.CopiedPaths, res.CopiedBytes = len(missing), totalSize(missing)
	if d.o.DryRun {
		res.WouldCopy = pathsOf(missing)
	}
	report(PhaseCopy, copyDetail(missing, d.o.DryRun)+" of derivations")
	if d.o.DryRun {
		return nil
	}
	if len(missing) > 0 {
		err = d.o.Nix.CopyDerivations(ctx, r.Store(), []string{c.DrvPath}, r.NixSSHOpts())
		if err != nil {
			return explainCopy(r.Name(), fmt.Errorf("%s: copying the derivations: %w", r.Name(), err))
		}
	}
	report(PhaseRealise, "building on the host")
	cmd := remote.Cmd("nix-store", "--realise", c.DrvPath)
	cmd.Root = root
	out, err := r.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("building on the host: %w", err)
	}
	if !strings.Contains(string(out), c.OutPath) {
		return fmt.Errorf("%s: nix-store --realise built %q, expected %s", r.Name(), strings.TrimSpace(string(out)), c.OutPath)
	}
	return nil
}

// closureOf walks references from root in the closure info of all machines.
func closureOf(all []nix.PathInfo, root string) []nix.PathInfo {
	byPath := make(map[string]nix.PathInfo, len(all))
	for _, p := range all {
		byPath[p.Path] = p
	}
	seen := map[string]bool{}
	var out []nix.PathInfo
	var walk func(string)
	walk = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		info, ok := byPath[p]
		if !ok {
			info = nix.PathInfo{Path: p}
		}
		out = append(out, info)
		for _, ref := range info.References {
			walk(ref)
		}
	}
	walk(root)
	return out
}

// missingPaths asks the host which paths of closure its store lacks, in one
// round trip (the list goes through stdin: a closure can be thousands of paths).
func missingPaths(ctx context.Context, r remote.Runner, closure []nix.PathInfo) ([]nix.PathInfo, error) {
	if r.Store() == "" || len(closure) == 0 {
		return nil, nil
	}
	var list strings.Builder
	for _, p := range closure {
		list.WriteString(p.Path + "\n")
	}
	c := remote.Sh(`xargs nix-store --check-validity --print-invalid`)
	c.Stdin = strings.NewReader(list.String())
	out, err := r.Run(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("asking which store paths are missing: %w", err)
	}
	invalid := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		invalid[l] = true
	}
	var missing []nix.PathInfo
	for _, p := range closure {
		if invalid[p.Path] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

func pathsOf(ps []nix.PathInfo) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	return out
}

func totalSize(ps []nix.PathInfo) int64 {
	var n int64
	for _, p := range ps {
		n += p.NarSize
	}
	return n
}

// homeUserMatches refuses to activate a home-manager configuration named
// "user@host" over a connection as another user: it would land in the
// wrong home.
func homeUserMatches(m hosts.Machine, platform string) error {
	if platform != hosts.Home || m.Local() || m.Address.User == "" {
		return nil
	}
	if u, _, ok := strings.Cut(m.Configuration, "@"); ok && u != m.Address.User {
		return fmt.Errorf("%s: home-manager configuration %q activates as %s, but the target logs in as %s; set target = \"%s@%s\"",
			m.Name, m.Configuration, u, m.Address.User, u, m.Address.Host)
	}
	return nil
}
