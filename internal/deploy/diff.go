package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/nixherd/nixherd/internal/closure"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
)

// MachineDiff is what deploying a closure would change on one machine.
type MachineDiff struct {
	Machine string
	Target  string
	// Current is the store path the machine runs now ("" when none).
	Current string
	// New is the store path the deploy would activate.
	New  string
	Diff closure.Diff
	Err  error
}

// diffJSON is one machine of `nixherd diff --json`, in the vocabulary of
// deploy's summary (machine, target, path).
type diffJSON struct {
	Machine string `json:"machine"`
	Target  string `json:"target,omitempty"`
	// Current is what the machine runs now, Path what a deploy would
	// activate.
	Current string            `json:"current,omitempty"`
	Path    string            `json:"path,omitempty"`
	Changed []closure.Change  `json:"changed"`
	Added   []closure.Package `json:"added"`
	Removed []closure.Package `json:"removed"`
	// Paths and Bytes are the closure's size now and after.
	Paths *sizes `json:"paths,omitempty"`
	Bytes *sizes `json:"bytes,omitempty"`
	Error string `json:"error,omitempty"`
}

type sizes struct {
	Old   int64 `json:"old"`
	New   int64 `json:"new"`
	Delta int64 `json:"delta"`
}

// MarshalJSON writes the machine's diff for `nixherd diff --json`.
func (d MachineDiff) MarshalJSON() ([]byte, error) {
	j := diffJSON{Machine: d.Machine, Target: d.Target, Current: d.Current, Path: d.New,
		Changed: orEmpty(d.Diff.Changed), Added: orEmpty(d.Diff.Added), Removed: orEmpty(d.Diff.Removed)}
	if d.Err != nil {
		j.Error = d.Err.Error()
	} else {
		j.Paths = &sizes{int64(d.Diff.OldPaths), int64(d.Diff.NewPaths), int64(d.Diff.NewPaths - d.Diff.OldPaths)}
		j.Bytes = &sizes{d.Diff.OldSize, d.Diff.NewSize, d.Diff.SizeDelta()}
	}
	return json.Marshal(j)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// String renders the machine's diff under a heading.
func (d MachineDiff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n", d.Machine, d.Target)
	if d.Err != nil {
		fmt.Fprintf(&b, "  error: %v\n", d.Err)
		return b.String()
	}
	cur := d.Current
	if cur == "" {
		cur = "nothing"
	}
	fmt.Fprintf(&b, "  %s\n  -> %s\n", cur, d.New)
	if cur == d.New {
		b.WriteString("  already running this configuration\n")
		return b.String()
	}
	for _, l := range strings.Split(strings.TrimRight(d.Diff.String(), "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// Diffs compares each built closure with what its machine runs now. The
// current closure is read on the machine itself (nix path-info over ssh,
// one connection per host), the new one in the local store, so the
// closures must be built locally. A machine whose host was not reached
// before ctx ended has Err.
func Diffs(ctx context.Context, closures []plan.Closure, o fanout.Options) ([]MachineDiff, error) {
	machines := make([]hosts.Machine, len(closures))
	for i, c := range closures {
		machines[i] = c.Machine
	}
	fleet, err := fanout.New(machines, o)
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	out := make([]MachineDiff, len(closures))
	notStarted := fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		for _, i := range h.Machines {
			out[i] = diffMachine(ctx, h, closures[i])
		}
	})
	for _, h := range notStarted {
		for _, i := range h.Machines {
			c := closures[i]
			out[i] = MachineDiff{Machine: c.Machine.Name, Target: c.Machine.Target, New: c.OutPath, Err: ctx.Err()}
		}
	}
	return out, nil
}

func diffMachine(ctx context.Context, h *fanout.Host, c plan.Closure) MachineDiff {
	m := c.Machine
	d := MachineDiff{Machine: m.Name, Target: m.Target, New: c.OutPath}
	if c.Err != nil {
		d.Err = c.Err
		return d
	}
	if _, err := os.Stat(c.OutPath); err != nil {
		d.Err = fmt.Errorf("%s is not in the local store (built on the target?): no diff before it is built", c.OutPath)
		return d
	}
	r, err := h.Connect(ctx, m)
	if err != nil {
		d.Err = err
		return d
	}
	if d.Current, d.Err = currentSystem(ctx, r, c.Platform); d.Err != nil {
		return d
	}
	newC, err := closure.Query(ctx, closure.Local{}, c.OutPath)
	if err != nil {
		d.Err = err
		return d
	}
	oldC := closure.Closure{}
	if d.Current != "" {
		if oldC, err = closure.Query(ctx, shell{r}, d.Current); err != nil {
			d.Err = err
			return d
		}
	}
	d.Diff = closure.Compare(oldC, newC)
	return d
}

// currentSystem is the store path the machine runs: /run/current-system for
// NixOS and nix-darwin (what is active, even after a `test`), else the
// profile's generation.
func currentSystem(ctx context.Context, r remote.Runner, p platform.Platform) (string, error) {
	exec, err := target.For(p)
	if err != nil {
		return "", err
	}
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return "", err
	}
	script := `readlink -f "$1" 2>/dev/null || true`
	if p.System() {
		script = `readlink -f /run/current-system 2>/dev/null || readlink -f "$1" 2>/dev/null || true`
	}
	out, err := r.Run(ctx, remote.Sh(script, profile))
	if err != nil {
		return "", fmt.Errorf("reading the current system: %w", err)
	}
	path := strings.TrimSpace(string(out))
	if !strings.HasPrefix(path, "/nix/store/") {
		return "", nil
	}
	return path, nil
}

// shell adapts a host's runner to closure.Runner.
type shell struct{ r remote.Runner }

// closureOutput bounds `nix path-info -r --json` of a host's system: a
// large desktop closure prints a few MiB of it, references included.
const closureOutput = 64 << 20

func (s shell) Run(ctx context.Context, command string) ([]byte, error) {
	c := remote.Sh(command)
	c.MaxOutput = closureOutput
	return s.r.Run(ctx, c)
}
