// Package status compares what each machine of the fleet runs with what the
// flake says it should run: the running generation (number, date, store
// path) read from the host, and the desired configuration's store path from
// one evaluation of the flake for every machine (its outPath: nothing is
// built).
package status

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/local"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/watchdog"
)

// Machine is the state of one machine.
type Machine struct {
	Name      string `json:"name"`
	Target    string `json:"target"`
	Platform  string `json:"platform,omitempty"`
	Reachable bool   `json:"reachable"`
	// Generation is the profile's current generation (Number 0 when the
	// machine was never deployed).
	Generation *target.Generation `json:"generation,omitempty"`
	// Running is the configuration active now: /run/current-system on
	// NixOS (which differs from the profile after a boot or test action),
	// the profile's target on nix-darwin and home-manager.
	Running string `json:"running,omitempty"`
	// Desired is the store path the flake evaluates to for the machine.
	Desired string `json:"desired,omitempty"`
	InSync  bool   `json:"inSync"`
	Error   string `json:"error,omitempty"`
	// Mode is push, or pull for a machine whose agent applies published
	// releases (deploy.nix's pull); Agent is then what its agent reports.
	Mode  string        `json:"mode"`
	Agent *agent.Status `json:"agent,omitempty"`
	// Since is when the machine began to run what it runs: the running
	// generation's date, or a pulled machine's last switch to it.
	Since *time.Time `json:"since,omitempty"`
	// LastDeploy is the machine's last deployment: a pulled machine's
	// agent's, a pushed machine's last guarded switch (its watchdog's
	// record on the host; none for a deploy user that cannot read it).
	LastDeploy *Deploy `json:"lastDeploy,omitempty"`
	// NeedsReboot: a NixOS machine runs a kernel, initrd or kernel modules
	// other than those it booted.
	NeedsReboot bool `json:"needsReboot"`
	// Stale: a pulled machine whose agent does not answer, or whose last
	// poll is older than Options.StaleAfter; LastSeen is that poll.
	Stale    bool       `json:"stale,omitempty"`
	LastSeen *time.Time `json:"lastSeen,omitempty"`
}

// Deploy is a machine's last deployment, in deploy's vocabulary.
type Deploy struct {
	// Outcome is switched, ROLLED BACK, failed, or in progress.
	Outcome string `json:"outcome"`
	// Stage is where it failed: activate, health, confirm (and for a
	// pulled machine fetch, verify, realise).
	Stage string `json:"stage,omitempty"`
	// Error is the first line of why it failed.
	Error   string    `json:"error,omitempty"`
	Time    time.Time `json:"time"`
	Release int64     `json:"release,omitempty"`
	Path    string    `json:"path,omitempty"`
}

// State names the machine's situation in one word for the table.
func (m Machine) State() string {
	switch {
	case !m.Reachable:
		return "unreachable"
	case m.Error != "":
		return "error"
	case m.Agent != nil:
		return m.pullState()
	case m.InSync:
		return "in sync"
	case m.Running == "":
		return "not deployed"
	}
	return "out of sync"
}

// Options say how to reach the hosts.
type Options struct {
	Flake string
	Nix   *nix.Nix
	// SSHOptions are extra ssh arguments for every host.
	SSHOptions []string
	// Parallel bounds how many hosts are queried at once (default 16).
	Parallel int
	// StaleAfter is how old a pulled machine's last poll may be before it
	// is stale (default DefaultStaleAfter).
	StaleAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DefaultStaleAfter: ten of an agent's default poll intervals.
const DefaultStaleAfter = 10 * time.Minute

// Reach is how status, generations and rollback reach machines: in
// parallel, one connection per host, and this machine through a runner
// whose sudo may ask for the password.
func Reach(sshOptions []string, parallel int) fanout.Options {
	return fanout.Options{Parallel: parallel, SSHOptions: sshOptions, Local: local.Runner{}}
}

// Query evaluates the desired configuration of every machine at once and
// reads each host's state in parallel. Per-machine problems (an unreachable
// host, a configuration missing from the flake) are in the result; the
// error is for failures that concern the whole fleet.
func Query(ctx context.Context, machines []hosts.Machine, o Options) ([]Machine, error) {
	closures, err := plan.Evaluate(ctx, o.Nix, o.Flake, machines)
	if err != nil {
		return nil, err
	}
	return Read(ctx, closures, o)
}

// Read reads the state of the evaluated machines: pushed ones over ssh,
// pulled ones from their agents.
func Read(ctx context.Context, closures []plan.Closure, o Options) ([]Machine, error) {
	o.defaults()
	machines := make([]hosts.Machine, len(closures))
	for i, c := range closures {
		machines[i] = c.Machine
	}
	fleet, err := fanout.New(machines, Reach(o.SSHOptions, o.Parallel))
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	out := make([]Machine, len(closures))
	notStarted := fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		for _, i := range h.Machines {
			if closures[i].Machine.Pull != nil {
				out[i] = queryAgent(ctx, closures[i], o)
				continue
			}
			r, err := h.Connect(ctx, closures[i].Machine)
			out[i] = query(ctx, r, err, closures[i])
		}
	})
	for _, h := range notStarted {
		for _, i := range h.Machines {
			out[i] = query(ctx, nil, fmt.Errorf("%s: not read: %w", closures[i].Machine.Name, ctx.Err()), closures[i])
		}
	}
	return out, nil
}

// query reads one machine's state over r (or records why r could not be
// opened).
func query(ctx context.Context, r remote.Runner, connErr error, c plan.Closure) Machine {
	m := Machine{Name: c.Machine.Name, Target: c.Machine.Target, Platform: string(c.Platform), Desired: c.OutPath, Mode: ModePush}
	if connErr != nil {
		m.Error = connErr.Error()
		return m
	}
	m.Reachable = true
	if c.Err != nil {
		m.Error = c.Err.Error()
		return m
	}
	exec, err := target.For(c.Platform)
	if err != nil {
		m.Error = err.Error()
		return m
	}
	cur, running, err := Running(ctx, r, exec)
	if err != nil {
		m.Error = err.Error()
		return m
	}
	if cur.Number > 0 {
		m.Generation = &cur
	}
	m.Running = running
	m.InSync = running != "" && running == m.Desired
	if m.Generation != nil && running == m.Generation.Path && !m.Generation.Date.IsZero() {
		d := m.Generation.Date
		m.Since = &d
	}
	if exec.Platform() == platform.NixOS {
		if m.NeedsReboot, err = target.NeedsReboot(ctx, r); err != nil {
			m.Error = err.Error()
		}
	}
	if exec.Platform().System() {
		m.LastDeploy = lastGuarded(ctx, r)
	}
	return m
}

// lastScript prints the state, the reason and the id (a UTC time) of the
// newest watchdog run on the host, when this user may read it.
var lastScript = `d=$(ls -1d ` + watchdog.StateRoot + `/*/ 2>/dev/null | sort | tail -n 1)
[ -n "$d" ] && [ -r "$d/state" ] || exit 0
d=${d%/}
printf 'id=%s\n' "${d##*/}"
printf 'state=%s\n' "$(cat "$d/state")"
printf 'reason=%s\n' "$(head -n 1 "$d/reason" 2>/dev/null)"
`

// lastGuarded reads a pushed machine's last guarded switch from its
// watchdog's record (nil when there is none, or it cannot be read).
func lastGuarded(ctx context.Context, r remote.Runner) *Deploy {
	out, err := r.Run(ctx, remote.Sh(lastScript))
	if err != nil {
		return nil
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	if kv["id"] == "" {
		return nil
	}
	d := &Deploy{Error: kv["reason"]}
	// Run ids begin with the UTC time they started (20060102T150405).
	if len(kv["id"]) >= 15 {
		d.Time, _ = time.Parse("20060102T150405", kv["id"][:15])
	}
	switch kv["state"] {
	case watchdog.Committed:
		d.Outcome, d.Error = string(report.Switched), ""
	case watchdog.RolledBack:
		d.Outcome = string(report.RolledBack)
	case watchdog.Failed:
		d.Outcome = string(report.Failed)
	default:
		d.Outcome, d.Error = "in progress", ""
	}
	if d.Error != "" {
		// The watchdog's and the deployer's own words say where it failed.
		switch {
		case strings.HasPrefix(d.Error, "health check"):
			d.Stage = "health"
		case strings.HasPrefix(d.Error, "no confirmation"):
			d.Stage = "confirm"
		default:
			d.Stage = "activate"
		}
	}
	return d
}

// Running returns the profile's current generation (with its date) and the
// configuration active on the host now.
func Running(ctx context.Context, r remote.Runner, exec target.Executor) (target.Generation, string, error) {
	profile, err := exec.Profile(ctx, r)
	if err != nil {
		return target.Generation{}, "", err
	}
	gens, err := target.Generations(ctx, r, profile)
	if err != nil {
		return target.Generation{}, "", err
	}
	var cur target.Generation
	for _, g := range gens {
		if g.Current {
			cur = g
		}
	}
	running := cur.Path
	if exec.Platform() == platform.NixOS {
		out, err := r.Run(ctx, remote.Sh(`if [ -e /run/current-system ]; then readlink -f /run/current-system; fi`))
		if err != nil {
			return cur, "", fmt.Errorf("reading /run/current-system: %w", err)
		}
		running = strings.TrimSpace(string(out))
	}
	return cur, running, nil
}

// ShortPath writes a store path the way a table can show it:
// "/nix/store/<32-char hash>-name" becomes "<first 8 of the hash>-name"
// (ASCII only: the table aligns columns by bytes).
func ShortPath(p string) string {
	base, ok := strings.CutPrefix(p, "/nix/store/")
	if !ok || len(base) < 33 || base[32] != '-' {
		return p
	}
	return base[:8] + base[32:]
}
