// Package gc collects the garbage of many machines at once, with nh
// clean's semantics and the deploy pipeline's safety: on each host, under
// the host's deploy lock (so no deploy or rollback is halfway), it deletes
// the old generations of the system profile, the home-manager profiles and
// the deploy user's profiles (keeping the newest N, those younger than a
// duration, the profile's current generation, which on NixOS is the boot
// default, and whatever runs now), then runs the store's garbage
// collector. nix-collect-garbage has no "keep the last N" (nix #9455);
// colmena has no fleet-wide gc (colmena #195).
package gc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
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

// Options say what to keep and how far to go.
type Options struct {
	// Keep is how many of the newest generations of each profile stay
	// (at least 1).
	Keep int
	// KeepSince keeps every generation younger than this too (0: none).
	KeepSince time.Duration
	// MaxFreed stops the collector once it freed this many bytes (0: no
	// limit).
	MaxFreed int64
	// DryRun says what would go and how much it would free, and changes
	// nothing.
	DryRun bool
	Reach  fanout.Options
	// Now is the time generations' ages are measured from (default now).
	Now time.Time
}

// Validate refuses options that would delete too much or make no sense.
func (o Options) Validate() error {
	if o.Keep < 1 {
		return fmt.Errorf("keep %d generations: at least 1 must stay (the current one is never deleted, but the newest ones are what a rollback needs)", o.Keep)
	}
	if o.KeepSince < 0 {
		return fmt.Errorf("keep-since %s: a duration cannot be negative", o.KeepSince)
	}
	if o.MaxFreed < 0 {
		return fmt.Errorf("max %d bytes: a size cannot be negative", o.MaxFreed)
	}
	return nil
}

// Profile is what happened (or would happen) to one profile of a host.
type Profile struct {
	Path string `json:"profile"`
	// Kind is system, home-manager or user (the deploy user's own).
	Kind    string `json:"kind"`
	Kept    []int  `json:"kept"`
	Deleted []int  `json:"deleted"`
}

// Host is the outcome on one host.
type Host struct {
	// Machines are the deploy.nix machines on the host, Target its target.
	Machines []string       `json:"machines"`
	Target   string         `json:"target"`
	Outcome  report.Outcome `json:"outcome"`
	Profiles []Profile      `json:"profiles"`
	// FreedBytes is what the collector freed (a dry run: about what it
	// would free).
	FreedBytes int64   `json:"freedBytes"`
	Seconds    float64 `json:"seconds"`
	Error      string  `json:"error,omitempty"`
	Err        error   `json:"-"`
}

// Summary is a gc over many hosts.
type Summary struct {
	Hosts      []Host `json:"hosts"`
	FreedBytes int64  `json:"freedBytes"`
	DryRun     bool   `json:"dryRun,omitempty"`
	OK         bool   `json:"ok"`
}

// Outcomes of a host's gc.
const (
	Collected    report.Outcome = "collected"
	WouldCollect report.Outcome = "would collect"
)

// Run collects the garbage of the hosts of machines, in parallel.
func Run(ctx context.Context, machines []hosts.Machine, o Options, rep report.Reporter) (*Summary, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if rep == nil {
		rep = report.Discard
	}
	fleet, err := fanout.New(machines, o.Reach)
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	results := make([]Host, len(fleet.Hosts()))
	for i, h := range fleet.Hosts() {
		results[i] = Host{Machines: h.Names(), Target: h.Target()}
	}
	notStarted := fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		res := &results[h.Index]
		start := time.Now()
		collectHost(ctx, h, machines[h.Machines[0]], o, res, report.To(rep, res.Machines[0]))
		res.Seconds = time.Since(start).Seconds()
		if res.Err != nil {
			res.Error = res.Err.Error()
			rep.Event(report.Event{Machine: res.Machines[0], Phase: report.PhaseFailed, Detail: string(res.Outcome), Err: res.Err, Time: time.Now()})
		} else {
			report.To(rep, res.Machines[0])(report.PhaseDone, fmt.Sprintf("%s, %s", res.Outcome, report.HumanBytes(res.FreedBytes)))
		}
	})
	for _, h := range notStarted {
		res := &results[h.Index]
		res.Outcome, res.Error = report.NotStarted, "interrupted before its turn: nothing was done"
	}
	s := &Summary{Hosts: results, DryRun: o.DryRun, OK: true}
	for _, r := range results {
		s.FreedBytes += r.FreedBytes
		s.OK = s.OK && r.Outcome.OK()
	}
	return s, nil
}

func collectHost(ctx context.Context, h *fanout.Host, m hosts.Machine, o Options, res *Host, progress func(report.Phase, string)) {
	fail := func(outcome report.Outcome, err error) {
		res.Outcome, res.Err = outcome, err
	}
	progress(report.PhaseConnect, m.Target)
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
	// The system-wide deploy lock: no deploy, switch or rollback is using
	// a generation this gc could take away, nor starts while it runs.
	locks := &apply.Locks{}
	defer locks.Release()
	if err := locks.Hold(ctx, r, true, progress); err != nil {
		if errors.Is(err, apply.ErrLocked) {
			fail(report.Refused, err)
		} else {
			fail(report.Failed, err)
		}
		return
	}
	progress(report.PhaseGuard, "reading the profiles")
	profiles, running, err := readProfiles(ctx, r, m.Address.User)
	if err != nil {
		fail(report.Failed, err)
		return
	}
	var deletedPaths, keptPaths []string
	for _, p := range profiles {
		p.decide(o, running)
		res.Profiles = append(res.Profiles, p.Profile)
		deletedPaths = append(deletedPaths, p.paths(p.Deleted)...)
		keptPaths = append(keptPaths, p.paths(p.Kept)...)
	}
	if o.DryRun {
		res.Outcome = WouldCollect
		res.FreedBytes, err = estimate(ctx, r, deletedPaths, append(keptPaths, running...))
		if err != nil {
			fail(report.Failed, err)
		}
		return
	}
	for _, p := range profiles {
		if len(p.Deleted) == 0 {
			continue
		}
		progress(report.PhaseProfile, fmt.Sprintf("deleting %d generations of %s", len(p.Deleted), p.Path))
		args := []string{"nix-env", "-p", p.Path, "--delete-generations"}
		for _, n := range p.Deleted {
			args = append(args, strconv.Itoa(n))
		}
		if _, err := r.Run(ctx, remote.RootCmd(args...)); err != nil {
			fail(report.Failed, fmt.Errorf("deleting generations of %s: %w", p.Path, err))
			return
		}
	}
	progress(report.PhaseRealise, "collecting garbage")
	args := []string{"nix-store", "--gc"}
	if o.MaxFreed > 0 {
		args = append(args, "--max-freed", strconv.FormatInt(o.MaxFreed, 10))
	}
	// Nix prints what it freed on stdout or stderr, depending on the
	// version: read both.
	var stderr strings.Builder
	c := remote.RootCmd(args...)
	c.Stderr = &stderr
	out, err := r.Run(ctx, c)
	if err != nil {
		fail(report.Failed, fmt.Errorf("collecting garbage: %w", err))
		return
	}
	res.FreedBytes = parseFreed(string(out) + "\n" + stderr.String())
	res.Outcome = Collected
}

// profile is a profile with its generations, as read on the host.
type profile struct {
	Profile
	gens []target.Generation
}

func (p *profile) paths(numbers []int) []string {
	var out []string
	for _, n := range numbers {
		for _, g := range p.gens {
			if g.Number == n && g.Path != "" {
				out = append(out, g.Path)
			}
		}
	}
	return out
}

// decide splits the generations into kept and deleted: the newest Keep,
// those younger than KeepSince, the current one and any that runs now stay.
func (p *profile) decide(o Options, running []string) {
	gens := append([]target.Generation(nil), p.gens...)
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number > gens[j].Number })
	p.Kept, p.Deleted = []int{}, []int{}
	for i, g := range gens {
		keep := i < o.Keep || g.Current ||
			o.KeepSince > 0 && o.Now.Sub(g.Date) < o.KeepSince
		for _, r := range running {
			keep = keep || g.Path != "" && g.Path == r
		}
		if keep {
			p.Kept = append(p.Kept, g.Number)
		} else {
			p.Deleted = append(p.Deleted, g.Number)
		}
	}
	sort.Ints(p.Kept)
	sort.Ints(p.Deleted)
}

// profilesScript prints the configurations running now (RUNNING lines:
// /run/current-system, /run/booted-system and home-manager's current
// homes), then the profiles gc looks after, one "KIND PATH" line each: the
// system profile, every home-manager profile (per-user and in homes), and
// the deploy user's own profiles. $1 is the deploy user ("" or root: none
// of their own).
const profilesScript = `for r in /run/current-system /run/booted-system /home/*/.local/state/home-manager/gcroots/current-home /root/.local/state/home-manager/gcroots/current-home /nix/var/nix/gcroots/per-user/*/current-home; do
  [ -e "$r" ] && echo "RUNNING $(readlink -f "$r")"
done
[ -L /nix/var/nix/profiles/system ] && echo "system /nix/var/nix/profiles/system"
for p in /nix/var/nix/profiles/per-user/*/home-manager /home/*/.local/state/nix/profiles/home-manager /root/.local/state/nix/profiles/home-manager; do
  [ -L "$p" ] && echo "home-manager $p"
done
if [ -n "$1" ] && [ "$1" != root ]; then
  h=$(eval echo "~$1")
  for p in /nix/var/nix/profiles/per-user/"$1"/* "$h"/.local/state/nix/profiles/*; do
    case $p in *-link|*/home-manager) continue ;; esac
    [ -L "$p" ] && echo "user $p"
  done
fi
exit 0`

// readProfiles lists the host's profiles and their generations, and what
// runs now.
func readProfiles(ctx context.Context, r remote.Runner, deployUser string) ([]*profile, []string, error) {
	c := remote.Sh(profilesScript, deployUser)
	c.Root = true
	out, err := r.Run(ctx, c)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the profiles: %w", err)
	}
	var profiles []*profile
	var running []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		kind, path, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if kind == "RUNNING" {
			running = append(running, path)
			continue
		}
		if seen[path] {
			continue
		}
		seen[path] = true
		gens, err := target.Generations(ctx, r, path)
		if err != nil {
			return nil, nil, err
		}
		profiles = append(profiles, &profile{Profile: Profile{Path: path, Kind: kind}, gens: gens})
	}
	return profiles, running, nil
}

var freedRE = regexp.MustCompile(`(\d+) store paths deleted, ([\d.]+) (B|KiB|MiB|GiB|TiB) freed`)

// parseFreed reads what nix-store --gc says it freed.
func parseFreed(out string) int64 {
	m := freedRE.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseFloat(m[2], 64)
	unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[3]]
	return int64(n * unit)
}

// estimate is about what deleting paths' generations frees: their closures
// without what the kept generations and running configurations still need,
// plus what is garbage already.
func estimate(ctx context.Context, r remote.Runner, deleted, kept []string) (int64, error) {
	// One round trip: the exclusive closure's sizes and the dead paths'.
	script := `set -e
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
read -r del; read -r keep
: > "$tmp/del"; : > "$tmp/keep"
[ -z "$del" ] || nix-store -qR $del | sort -u > "$tmp/del"
[ -z "$keep" ] || nix-store -qR $keep | sort -u > "$tmp/keep"
{ comm -23 "$tmp/del" "$tmp/keep"; nix-store --gc --print-dead 2>/dev/null; } | sort -u > "$tmp/gone"
if [ -s "$tmp/gone" ]; then xargs nix-store -q --size < "$tmp/gone" | awk '{ s += $1 } END { print s + 0 }'; else echo 0; fi`
	c := remote.Sh(script)
	c.Root = true
	c.Stdin = strings.NewReader(strings.Join(deleted, " ") + "\n" + strings.Join(kept, " ") + "\n")
	out, err := r.Run(ctx, c)
	if err != nil {
		return 0, fmt.Errorf("estimating what gc would free: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("estimating what gc would free: unexpected output %q", strings.TrimSpace(string(out)))
	}
	return n, nil
}

// ParseSize reads a size as people write it: 500M, 10G, 1.5GiB, 2048.
func ParseSize(s string) (int64, error) {
	m := regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(I?B)?\s*$`).FindStringSubmatch(strings.ToUpper(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (like 500M, 10G or 2048)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	return int64(n * float64(uint64(1)<<shift)), nil
}

// ParseAge reads a duration as Go does (36h, 90m) or in days and weeks
// (7d, 2w, 1w3d); a leading minus is an error, not a duration.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q: a duration cannot be negative", s)
	}
	var total time.Duration
	rest := s
	for rest != "" {
		m := regexp.MustCompile(`^(\d+)([dw])`).FindStringSubmatch(rest)
		if m == nil {
			break
		}
		n, _ := strconv.Atoi(m[1])
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		total += time.Duration(n) * unit
		rest = rest[len(m[0]):]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (like 7d, 2w or 36h)", s)
		}
		total += d
	}
	if s == "" {
		return 0, fmt.Errorf("an empty duration")
	}
	return total, nil
}
