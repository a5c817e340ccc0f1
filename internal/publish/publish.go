// Package publish is the publisher's half of pull mode (`nixherd publish`):
// one evaluation and one build of the selected machines (internal/plan, as a
// push deploy makes them), their closures signed and pushed once to a binary
// cache, and a signed release manifest (internal/release) written where a
// static web server serves it. The hosts' agents do the rest.
//
// Its work does not grow with the number of hosts beyond the manifest's
// lines: hosts of one configuration share one closure, built and pushed
// once, and no host is contacted.
//
// A publish replaces the selected machines' entries of the current release
// and keeps the others, so a release can move a few machines at a time
// (a staged rollout). Publishing the closures the current release already
// names is a no-op: the release number stays. Two publishes to one
// destination never interleave (a lock file beside the manifest); a staged
// rollout (internal/pullrollout) builds once (Build) and holds the lock
// (Open) while it writes release after release (Destination.Write).
package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// Options say what to publish where.
type Options struct {
	// Flake is the fleet as nix evaluates it (a directory, or a locked
	// flake reference); Dir is its files, for the git revision (default
	// Flake).
	Flake string
	Dir   string
	// Cache is the store URL the closures are pushed to (file://, s3://,
	// ssh-ng://, …).
	Cache string
	// CacheKey is the Nix secret-key file the closures are signed with; it
	// may be left empty only when Cache signs them itself (secret-key=).
	CacheKey string
	// Key signs the manifest.
	Key release.SecretKey
	// Destination is where the manifest is written.
	Destination release.Destination
	Nix         *nix.Nix
	Reporter    report.Reporter
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Result is what a publish did.
type Result struct {
	// Release is the release now published; Previous the one it replaced
	// (0 when there was none).
	Release  int64 `json:"release"`
	Previous int64 `json:"previousRelease,omitempty"`
	// Unchanged is true when the release already named these closures
	// and nothing was written.
	Unchanged bool `json:"unchanged"`
	// Machines are the published machines, each with its path and
	// whether this publish changed it.
	Machines []Machine `json:"machines"`
	// Manifest is the file written (or left as it was).
	Manifest string  `json:"manifest"`
	Revision string  `json:"revision,omitempty"`
	Dirty    bool    `json:"dirty,omitempty"`
	Seconds  float64 `json:"seconds"`
}

// Machine is one machine of a publish.
type Machine struct {
	Machine  string `json:"machine"`
	Platform string `json:"platform"`
	Path     string `json:"path"`
	Changed  bool   `json:"changed"`
}

// ErrUnsigned is a cache to which closures would be pushed unsigned: agents
// would refuse them.
var ErrUnsigned = errors.New("the closures would reach the cache unsigned, and agents refuse unsigned paths: give a Nix secret-key file to sign them with, or a store URL with secret-key=")

// ErrBusy is another publish or rollout to the same destination.
var ErrBusy = errors.New("another publish or rollout to this destination is running")

// Publish plans the selected machines and publishes them. Nothing is
// written unless every selected machine evaluated and built.
func Publish(ctx context.Context, machines []hosts.Machine, o Options) (*Result, error) {
	start := time.Now()
	if err := o.Check(); err != nil {
		return nil, err
	}
	d, err := Open(o)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	b, err := Build(ctx, machines, o)
	if err != nil {
		return nil, err
	}
	res, err := d.Write(b.Entries(), b.Revision, b.Dirty)
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Check refuses options no publish can go through with: no cache, or a
// cache the closures would reach unsigned (ErrUnsigned).
func (o Options) Check() error {
	if o.Cache == "" {
		return errors.New("publishing needs a binary cache to push the closures to")
	}
	if o.CacheKey == "" && !strings.Contains(o.Cache, "secret-key=") {
		return ErrUnsigned
	}
	return nil
}

// Built is what Build made: each machine's closure, signed and in the
// cache, and the fleet's revision.
type Built struct {
	Machines []hosts.Machine
	Closures []plan.Closure
	Revision string
	Dirty    bool
}

// Entries are the built machines' entries of a release.
func (b *Built) Entries() map[string]*release.Machine {
	out := map[string]*release.Machine{}
	for _, c := range b.Closures {
		out[c.Machine.Name] = &release.Machine{Path: c.OutPath, Platform: c.Platform, HealthChecks: c.Machine.HealthChecks}
	}
	return out
}

// Build evaluates and builds the machines once and pushes their closures,
// signed, to the cache: what every release of them needs before a
// manifest can name them. It fails unless every machine evaluated and
// built and is a system an agent can switch.
func Build(ctx context.Context, machines []hosts.Machine, o Options) (*Built, error) {
	if o.Reporter == nil {
		o.Reporter = report.Discard
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	// The cache needs closures built here, whatever deploy.nix says.
	p, err := plan.Make(ctx, machines, plan.Options{Flake: o.Flake, Action: target.Switch, BuildOn: hosts.BuildLocal,
		Cache: o.Cache, SignWith: o.CacheKey, Nix: o.Nix, Reporter: o.Reporter})
	if err != nil {
		return nil, err
	}
	var failed []error
	for _, c := range p.Closures {
		switch {
		case c.Err != nil:
			failed = append(failed, c.Err)
		case !c.Platform.System():
			failed = append(failed, fmt.Errorf("%s: a %s configuration; pull mode deploys NixOS and nix-darwin systems", c.Machine.Name, c.Platform))
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("nothing was published: %w", errors.Join(failed...))
	}
	dir := o.Dir
	if dir == "" {
		dir = o.Flake
	}
	b := &Built{Machines: machines, Closures: p.Closures}
	b.Revision, b.Dirty = revision(ctx, dir)
	return b, nil
}

// Destination is a publisher's hold on where it publishes: the lock beside
// the manifest is taken for as long as it is open, so that a staged
// rollout's successive releases are not interleaved with another publish.
type Destination struct {
	dest   release.Destination
	key    release.SecretKey
	now    func() time.Time
	unlock func()
}

// Open takes the destination's lock; ErrBusy when another publish or
// rollout holds it.
func Open(o Options) (*Destination, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	unlock, err := lock(o.Destination.Path)
	if err != nil {
		return nil, err
	}
	return &Destination{dest: o.Destination, key: o.Key, now: o.Now, unlock: unlock}, nil
}

// Close frees the lock.
func (d *Destination) Close() { d.unlock() }

// Current is the release the destination serves now (nil when none) and
// its number.
func (d *Destination) Current() (*release.Manifest, int64, error) {
	c, err := currentRelease(d.dest, d.key.Public())
	return c.manifest, c.number, err
}

// Write publishes a release that gives each machine of set its entry (nil:
// the machine leaves the release) and keeps the other machines' entries.
// When that changes nothing in a release of this publisher, nothing is
// written and the release stays.
func (d *Destination) Write(set map[string]*release.Machine, revision string, dirty bool) (*Result, error) {
	current, err := currentRelease(d.dest, d.key.Public())
	if err != nil {
		return nil, err
	}
	next := &release.Manifest{Machines: map[string]release.Machine{}}
	if current.manifest != nil {
		for name, m := range current.manifest.Machines {
			next.Machines[name] = m
		}
	}
	res := &Result{Manifest: d.dest.Path, Previous: current.number, Revision: revision, Dirty: dirty}
	for name, m := range set {
		old, had := next.Machines[name]
		if m == nil {
			delete(next.Machines, name)
			continue
		}
		next.Machines[name] = *m
		res.Machines = append(res.Machines, Machine{Machine: name, Platform: string(m.Platform), Path: m.Path,
			Changed: !had || old.Path != m.Path})
	}
	sort.Slice(res.Machines, func(i, j int) bool { return res.Machines[i].Machine < res.Machines[j].Machine })
	if current.ours && current.manifest.SameMachines(next) {
		res.Release, res.Unchanged = current.number, true
		return res, nil
	}
	next.Release = current.number + 1
	next.Revision, next.Dirty, next.Time = revision, dirty, d.now()
	data, err := release.Sign(next, d.key)
	if err != nil {
		return nil, err
	}
	if err := d.dest.Write(next.Release, data); err != nil {
		return nil, err
	}
	res.Release = next.Release
	return res, nil
}

// current is what the destination holds now.
type current struct {
	manifest *release.Manifest
	number   int64
	// ours is true when the manifest verifies with the publisher's key:
	// only then may a publish of the same closures leave it in place.
	ours bool
}

// currentRelease reads the destination's manifest. A manifest signed by
// another key (the key was rotated) still sets the number to exceed, since
// agents that applied it refuse lower ones; text that is no manifest at
// all is left alone.
func currentRelease(d release.Destination, pub release.PublicKey) (current, error) {
	data, err := d.Read()
	if err != nil || data == nil {
		return current{}, err
	}
	if m, err := release.Verify(data, []release.PublicKey{pub}); err == nil {
		return current{manifest: m, number: m.Release, ours: true}, nil
	}
	m, err := release.Peek(data)
	if err != nil {
		return current{}, fmt.Errorf("%s holds something that is not a release manifest; not replacing it: %w", d.Path, err)
	}
	return current{manifest: m, number: m.Release}, nil
}

// lock takes the destination's lock file (an flock, freed when the process
// ends however it ends).
func lock(manifest string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(manifest), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(manifest+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", manifest, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", manifest, ErrBusy)
		}
		return nil, fmt.Errorf("locking %s: %w", manifest, err)
	}
	return func() { f.Close() }, nil
}

// revision is the fleet's git commit and whether its work tree has changes
// ("" outside git).
func revision(ctx context.Context, dir string) (string, bool) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	dirty, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	return strings.TrimSpace(string(out)), err == nil && len(strings.TrimSpace(string(dirty))) > 0
}
