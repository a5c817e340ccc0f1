package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// onHost deploys the machines of one host one after another: a nix-darwin
// or NixOS system and its users' home-manager configurations, or machines
// given the same target. They share the connection and the deploy locks:
// two activations on one host must not run at once, and the run's own lock
// must not refuse its second machine. Systems go first, so a home
// activates on the system it was built for.
func (d *run) onHost(ctx context.Context, h *fanout.Host, results []report.Result) {
	homeLast := func(i int) int {
		if d.plan.Closures[i].Platform == platform.Home {
			return 1
		}
		return 0
	}
	order := slices.Clone(h.Machines)
	slices.SortStableFunc(order, func(a, b int) int { return homeLast(a) - homeLast(b) })
	locks := &apply.Locks{}
	defer locks.Release()
	for _, i := range order {
		results[i] = d.machine(ctx, d.plan.Closures[i], h, locks)
	}
}

// machine deploys one machine: connect → lock → copy (or build there) →
// apply. It never returns an error: everything ends up in the Result, so
// one bad machine does not stop the others.
func (d *run) machine(ctx context.Context, c plan.Closure, h *fanout.Host, locks *apply.Locks) (res report.Result) {
	m := c.Machine
	start := time.Now()
	res = report.Result{Machine: m.Name, Target: m.Target, Platform: string(c.Platform), Path: c.OutPath}
	phases := &report.Phases{}
	toReporter := report.To(d.o.Reporter, m.Name)
	progress := func(p report.Phase, detail string) {
		phases.Enter(p, time.Now())
		toReporter(p, detail)
	}
	defer func() {
		res.Seconds = time.Since(start).Seconds()
		res.Phases = phases.Seconds(time.Now())
		if res.Err != nil {
			res.Error = res.Err.Error()
			d.o.Reporter.Event(report.Event{Machine: m.Name, Phase: report.PhaseFailed, Detail: string(res.Outcome), Err: res.Err, Time: time.Now()})
		} else {
			progress(report.PhaseDone, doneDetail(res))
		}
	}()
	fail := func(o report.Outcome, err error) report.Result {
		res.Outcome, res.Err = o, err
		return res
	}
	if c.Err != nil {
		return fail(report.Failed, c.Err)
	}
	if err := homeUserMatches(m, c.Platform); err != nil {
		return fail(report.Failed, err)
	}
	onTarget := c.BuildOn == hosts.BuildTarget
	if d.plan.Action == target.Build && !onTarget {
		res.Outcome = report.Built
		return res
	}

	progress(report.PhaseConnect, m.Target)
	r, err := h.Connect(ctx, m)
	if err != nil {
		var ce *remote.ConnectError
		if errors.As(err, &ce) {
			return fail(report.Unreachable, err)
		}
		return fail(report.Failed, err)
	}
	exec, _ := target.For(c.Platform)
	root := target.NeedsRoot(exec)

	// Where the machine is and what of the closure its host lacks, read
	// under the lock in the round trip that takes it (or in one of its own
	// when the run holds the lock already, or for a dry run).
	sv, err := d.surveyFor(ctx, r, exec, c, onTarget)
	if err != nil {
		return fail(report.Failed, err)
	}
	var st *hostState
	if !d.o.DryRun {
		progress(report.PhaseLock, "")
		out, ran, err := locks.HoldThen(ctx, r, root, sv.script(), sv.arg(), sv.input())
		if err != nil {
			if errors.Is(err, apply.ErrLocked) {
				return fail(report.Refused, err)
			}
			return fail(report.Failed, fmt.Errorf("%s: %w", m.Name, err))
		}
		if ran && sv != nil {
			st = sv.parse(out)
		}
	}
	if st == nil && sv != nil {
		if st, err = sv.run(ctx, r); err != nil {
			return fail(report.Failed, err)
		}
	}
	if d.plan.Action == target.Switch && !d.o.DryRun && !d.o.Reactivate {
		cur, ok := target.Generation{}, false
		if st != nil {
			cur, ok = st.current, exec.Platform().System() && st.current.Path == c.OutPath && st.running == c.OutPath
		} else if cur, ok, err = apply.UpToDate(ctx, r, exec, c.OutPath); err != nil {
			return fail(report.Failed, err)
		}
		if ok {
			res.Outcome, res.Generation, res.PreviousGeneration = report.UpToDate, cur.Number, cur.Number
			return res
		}
	}
	if onTarget {
		err = d.buildOnTarget(ctx, r, c, root, &res, progress)
	} else {
		err = d.copyClosure(ctx, r, c, root, st, &res, progress)
	}
	if err != nil {
		return fail(report.Failed, err)
	}
	if d.o.DryRun {
		res.Outcome = report.WouldCopy
		return res
	}
	if d.plan.Action == target.Build {
		res.Outcome = report.Built
		return res
	}
	req := apply.Request{Machine: m, Runner: r, Executor: exec, Path: c.OutPath, Action: d.plan.Action,
		Locks: locks, Strategy: d.o.Strategy, Report: progress}
	if st != nil {
		req.Previous = &st.current
	}
	apply.Apply(ctx, req, &res)
	return res
}

// hostState is what survey read of a machine's host.
type hostState struct {
	current target.Generation // the profile's
	running string            // /run/current-system
	missing []nix.PathInfo    // of the closure, what the host's store lacks
}

// surveyScript prints target.StateScript's lines for profile $1, then the
// store paths of the closure on stdin (its toplevel first, up to an empty
// line) that the host does not hold. A host that runs the toplevel from
// its profile already holds all of it (the references of a valid path are
// valid), so the no-op redeploy skips nix-store, the dearest process of
// the round trip.
const surveyScript = target.StateScript + `
IFS= read -r t
if [ -z "$t" ]; then
  :
elif [ "$(readlink -f "$1")" = "$t" ] && [ "$(readlink -f /run/current-system)" = "$t" ]; then
  while IFS= read -r p && [ -n "$p" ]; do :; done
else
  { printf '%s\n' "$t"; while IFS= read -r p && [ -n "$p" ]; do printf '%s\n' "$p"; done; } | xargs nix-store --check-validity --print-invalid
fi`

// survey is the one round trip that reads a machine's profile
// generation, its running system and the paths of its closure the host
// lacks. It applies to a system (whose profile is known without asking)
// copied from this machine to a remote host; for anything else surveyFor
// returns nil and the steps ask one by one.
type survey struct {
	profile string
	closure []nix.PathInfo // toplevel first (closureOf)
}

func (d *run) surveyFor(ctx context.Context, r remote.Runner, exec target.Executor, c plan.Closure, onTarget bool) (*survey, error) {
	if onTarget || r.Store() == "" || !exec.Platform().System() {
		return nil, nil
	}
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return nil, err
	}
	paths, err := d.plan.PathInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &survey{profile: profile, closure: closureOf(paths, c.OutPath)}, nil
}

func (sv *survey) script() string {
	if sv == nil {
		return ""
	}
	return surveyScript
}

func (sv *survey) arg() string {
	if sv == nil {
		return ""
	}
	return sv.profile
}

func (sv *survey) input() string {
	if sv == nil {
		return ""
	}
	var list strings.Builder
	for _, p := range sv.closure {
		list.WriteString(p.Path + "\n")
	}
	return list.String()
}

// run asks on its own, not under a new lock.
func (sv *survey) run(ctx context.Context, r remote.Runner) (*hostState, error) {
	cmd := remote.Sh(surveyScript, sv.profile)
	cmd.Stdin = strings.NewReader(sv.input() + "\n")
	out, err := r.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("reading the host's profile and store: %w", err)
	}
	return sv.parse(string(out)), nil
}

func (sv *survey) parse(out string) *hostState {
	lines := strings.Split(out, "\n")
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	st := &hostState{current: target.CurrentOf(lines[0], lines[1]), running: strings.TrimSpace(lines[2])}
	invalid := map[string]bool{}
	for _, l := range lines[3:] {
		if l = strings.TrimSpace(l); l != "" {
			invalid[l] = true
		}
	}
	for _, p := range sv.closure {
		if invalid[p.Path] {
			st.missing = append(st.missing, p)
		}
	}
	return st
}

// copyClosure sends the host the paths of a locally built closure that it
// lacks, after letting it substitute from the --cache store.
func (d *run) copyClosure(ctx context.Context, r remote.Runner, c plan.Closure, root bool, st *hostState, res *report.Result, progress func(report.Phase, string)) error {
	if r.Store() == "" {
		progress(report.PhaseCopy, "local store: nothing to copy")
		return nil
	}
	substituted := false
	if d.o.Cache != "" && !d.o.DryRun {
		progress(report.PhaseRealise, "substituting from "+d.o.CacheSubstituter)
		if err := d.substitute(ctx, r, c.OutPath, root); err != nil {
			return err
		}
		substituted = true
	}
	var missing []nix.PathInfo
	if st != nil && !substituted {
		missing = st.missing
	} else {
		paths, err := d.plan.PathInfo(ctx)
		if err != nil {
			return err
		}
		if missing, err = missingPaths(ctx, r, closureOf(paths, c.OutPath)); err != nil {
			return err
		}
	}
	res.Copied = &report.Copied{Paths: len(missing), Bytes: totalSize(missing)}
	if d.o.DryRun {
		res.WouldCopy = pathsOf(missing)
	}
	progress(report.PhaseCopy, copyDetail(missing, d.o.DryRun))
	if len(missing) == 0 || d.o.DryRun {
		return nil
	}
	copied := 0
	err := d.plan.Nix.Copy(ctx, r.Store(), []string{c.OutPath}, nix.CopyOptions{
		SSHOpts:                 r.NixSSHOpts(),
		SubstituteOnDestination: d.o.SubstituteOnDestination,
		Progress:                copyProgress(missing, progress, &copied),
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", r.Name(), interruptedCopy(copied, len(missing)))
	}
	if err != nil {
		return explainCopy(r.Name(), fmt.Errorf("%s: copying the closure: %w", r.Name(), err))
	}
	return nil
}

// ErrInterrupted is a deploy step that the interrupt (Ctrl-C, SIGTERM)
// stopped.
var ErrInterrupted = errors.New("interrupted")

// interruptedCopy says how far a copy got when the run was interrupted:
// nothing was activated, and the paths sent stay valid on the host.
func interruptedCopy(started, total int) error {
	return fmt.Errorf("%w while copying the closure (%d of %d paths started): nothing was activated", ErrInterrupted, started, total)
}

// copyProgress reports which path is being copied, at most a few times a
// second so that plain-line logs of large closures stay readable; started
// counts the paths nix began to copy.
func copyProgress(missing []nix.PathInfo, progress func(report.Phase, string), started *int) func(string) {
	var last time.Time
	n := 0
	return func(path string) {
		n++
		*started = n
		if time.Since(last) < 500*time.Millisecond && n < len(missing) {
			return
		}
		last = time.Now()
		name := path[strings.LastIndex(path, "/")+1:]
		if _, rest, ok := strings.Cut(name, "-"); ok {
			name = rest
		}
		progress(report.PhaseCopy, fmt.Sprintf("copying %d/%d: %s", min(n, len(missing)), len(missing), name))
	}
}

// doneDetail is what a machine's last progress line says: its outcome, and
// for a dry run what the host would receive.
func doneDetail(res report.Result) string {
	if res.Outcome != report.WouldCopy || res.Copied == nil {
		return string(res.Outcome)
	}
	if res.Copied.Paths == 0 {
		return "dry run: nothing to copy"
	}
	return fmt.Sprintf("dry run: would copy %d paths (%s)", res.Copied.Paths, report.HumanBytes(res.Copied.Bytes))
}

func copyDetail(missing []nix.PathInfo, dry bool) string {
	verb := "copying"
	if dry {
		verb = "would copy"
	}
	if len(missing) == 0 {
		return "nothing to copy"
	}
	return fmt.Sprintf("%s %d paths (%s)", verb, len(missing), report.HumanBytes(totalSize(missing)))
}

// buildOnTarget copies the derivation closure and realises it on the host,
// so only .drv files and sources cross the network.
func (d *run) buildOnTarget(ctx context.Context, r remote.Runner, c plan.Closure, root bool, res *report.Result, progress func(report.Phase, string)) error {
	drvClosure, err := d.plan.Nix.DerivationClosure(ctx, []string{c.DrvPath})
	if err != nil {
		return fmt.Errorf("reading the derivation closure: %w", err)
	}
	missing, err := missingPaths(ctx, r, drvClosure)
	if err != nil {
		return err
	}
	res.Copied = &report.Copied{Paths: len(missing), Bytes: totalSize(missing)}
	if d.o.DryRun {
		res.WouldCopy = pathsOf(missing)
	}
	progress(report.PhaseCopy, copyDetail(missing, d.o.DryRun)+" of derivations")
	if d.o.DryRun {
		return nil
	}
	if len(missing) > 0 {
		err = d.plan.Nix.CopyDerivations(ctx, r.Store(), []string{c.DrvPath}, r.NixSSHOpts())
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("%s: %w while copying the derivations: nothing was built or activated", r.Name(), ErrInterrupted)
		}
		if err != nil {
			return explainCopy(r.Name(), fmt.Errorf("%s: copying the derivations: %w", r.Name(), err))
		}
	}
	progress(report.PhaseRealise, "building on the host")
	// The user's nix options, as the host's nix-store takes them.
	cmd := remote.Cmd(append(append([]string{"nix-store", "--realise"}, d.plan.Nix.Flags.LegacyArgs()...), c.DrvPath)...)
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
func homeUserMatches(m hosts.Machine, p platform.Platform) error {
	if p != platform.Home || m.Local() || m.Address.User == "" {
		return nil
	}
	if u, _, ok := strings.Cut(m.Configuration, "@"); ok && u != m.Address.User {
		return fmt.Errorf("%s: home-manager configuration %q activates as %s, but the target logs in as %s; set target = \"%s@%s\"",
			m.Name, m.Configuration, u, m.Address.User, u, m.Address.Host)
	}
	return nil
}
