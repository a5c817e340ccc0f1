// Package agent is pull mode's host side (`nixherd agent`): a long-running
// process on each NixOS or nix-darwin machine that polls the fleet's signed
// release manifest (internal/release) and brings the machine to the system
// its release names, by itself, safely.
//
// A poll fetches the manifest (interval with jitter; SIGHUP or --once polls
// now), verifies its signature against pinned public keys, refuses a release
// number lower than the one last applied (a replayed manifest), and when the
// machine's path differs from what runs, realises that path from the binary
// cache (Nix checks its signatures; nothing is evaluated or built here) and
// switches to it through internal/apply's guarded strategy: the watchdog
// activates it with `test`, the health checks the manifest carries run, the
// agent confirms only if it can still fetch the manifest, and only then does
// the new system become the boot default. Any failure on the way leaves or
// puts the old system back. A path that rolled back is not tried again until
// a release names another one.
//
// The agent keeps its history and an in-flight record in StateDir (atomic
// writes). Killed during a realise, it starts over; killed during an
// activation (a new system restarting the agent itself does this), it
// follows the watchdog's run to its end when it starts again, so the machine
// always ends on a known generation.
//
// The manager is one goroutine selecting over channels (timer, SIGHUP,
// the worker's progress and result, status requests): the state has one
// owner and no locks. The worker does one poll at a time. Read-only /status
// (JSON) and /metrics (Prometheus) are served on Config.Listen.
package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/nixherd/nixherd/internal/buildinfo"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
)

// Defaults of Config.
const (
	DefaultInterval = time.Minute
	DefaultStateDir = "/nix/var/nixherd/agent"
	DefaultListen   = "127.0.0.1:9851"
)

// Config says what an agent does.
type Config struct {
	// Machine is this machine's name in the manifest (default: the host name).
	Machine string
	// ManifestURL is where the signed manifest is served (http://, https://,
	// or a file path).
	ManifestURL string
	// Keys are the pinned public keys a manifest must be signed with.
	Keys []release.PublicKey
	// Interval between polls (default DefaultInterval); Jitter, a random
	// extra delay of at most this much, spreads a fleet's polls (default a
	// tenth of Interval). The first poll waits a random part of Jitter.
	Interval time.Duration
	Jitter   time.Duration
	// StateDir keeps the history and the in-flight record (default
	// DefaultStateDir, under /nix/var: it exists on NixOS and macOS and
	// outlives reboots).
	StateDir string
	// Listen is the address /status and /metrics are served on ("" none).
	Listen string
	// Platform is this machine's (default: nixos on Linux, darwin on macOS).
	Platform platform.Platform
	// System is the machine the agent changes (default: System{}, this one).
	System Machine
	// Report hears the progress of deployments (default: none).
	Report report.Reporter
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Retry tries again, once, a path that rolled back here (normally it is
	// not tried again until a release names another).
	Retry bool
}

// Agent is a running agent. Create it with New, run it with Run or Once.
type Agent struct {
	cfg Config
	m   *metrics

	pollNow   chan struct{}
	progress  chan Stage
	done      chan result
	statusReq chan chan Status
	stopped   chan struct{}

	// Owned by the manager goroutine.
	st      *state
	cur     Status
	started time.Time
}

// New checks cfg and prepares an agent.
func New(cfg Config) (*Agent, error) {
	if cfg.ManifestURL == "" {
		return nil, errors.New("the agent needs the manifest's URL")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("the agent needs at least one public key to verify the manifest with")
	}
	if cfg.Machine == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("this machine's name: %w", err)
		}
		cfg.Machine = h
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Jitter < 0 {
		return nil, errors.New("the jitter must not be negative")
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = cfg.Interval / 10
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.Platform == "" {
		cfg.Platform = platform.NixOS
		if runtime.GOOS == "darwin" {
			cfg.Platform = platform.Darwin
		}
	}
	if !cfg.Platform.System() {
		return nil, fmt.Errorf("the agent runs on NixOS and nix-darwin machines, not %s", cfg.Platform)
	}
	if cfg.System == nil {
		cfg.System = System{}
	}
	if cfg.Report == nil {
		cfg.Report = report.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("the agent's state directory: %w", err)
	}
	st, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, m: newMetrics(cfg.Machine, buildinfo.Version()), st: st,
		pollNow: make(chan struct{}, 1), progress: make(chan Stage, 16), done: make(chan result, 1),
		statusReq: make(chan chan Status), stopped: make(chan struct{}), started: cfg.Now()}
	a.cur = Status{Machine: cfg.Machine, Platform: string(cfg.Platform), Version: buildinfo.Version(),
		Manifest: cfg.ManifestURL, State: StateIdle}
	a.m.rollbacks.Add(float64(st.Rollbacks))
	if cfg.Retry {
		st.Rejected = ""
	}
	a.publish()
	return a, nil
}

// PollNow asks the agent to poll at once (SIGHUP); a poll under way is
// followed by another.
func (a *Agent) PollNow() {
	select {
	case a.pollNow <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends. An in-flight deployment from before a restart
// is finished first. It returns when ctx ends, without waiting for an
// activation under way: the watchdog carries on, and the next start
// follows it to its end.
func (a *Agent) Run(ctx context.Context) error {
	defer close(a.stopped)
	if a.cfg.Listen != "" {
		ln, err := net.Listen("tcp", a.cfg.Listen)
		if err != nil {
			return fmt.Errorf("serving /status and /metrics: %w", err)
		}
		srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	busy, again := false, false
	start := func() {
		busy = true
		job := a.job()
		go func() {
			r := a.work(ctx, job)
			select {
			case a.done <- r:
			case <-ctx.Done():
			}
		}()
	}
	timer := time.NewTimer(a.jitter())
	defer timer.Stop()
	if in, err := loadInflight(a.cfg.StateDir); err != nil || in != nil {
		// Finish what a killed agent left first.
		start()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			if busy {
				again = true
			} else {
				start()
			}
		case <-a.pollNow:
			if busy {
				again = true
			} else {
				start()
			}
		case s := <-a.progress:
			a.cur.State = stateOf(s)
			boolGauge(a.m.deploying, s == StageRealise || s == StageActivate || s == StageHealth || s == StageConfirm)
		case r := <-a.done:
			busy = false
			a.record(r)
			if again {
				again = false
				start()
			} else {
				timer.Reset(a.cfg.Interval + a.jitter())
			}
		case reply := <-a.statusReq:
			reply <- a.snapshot()
		}
	}
}

// Once runs one poll (after finishing an in-flight deployment, if any)
// and returns its failure, nil when the machine ends on its release.
func (a *Agent) Once(ctx context.Context) error {
	defer close(a.stopped)
	if in, err := loadInflight(a.cfg.StateDir); err != nil || in != nil {
		a.record(a.work(ctx, a.job()))
	}
	r := a.work(ctx, a.job())
	a.record(r)
	if r.failure != nil {
		return fmt.Errorf("%s: %s", r.failure.Stage, r.failure.Error)
	}
	return nil
}

func (a *Agent) jitter() time.Duration {
	if a.cfg.Jitter <= 0 {
		return 0
	}
	return rand.N(a.cfg.Jitter)
}

// Status returns what /status shows.
func (a *Agent) Status() Status {
	reply := make(chan Status, 1)
	select {
	case a.statusReq <- reply:
		return <-reply
	case <-a.stopped:
		return a.snapshot()
	}
}

// stateOf is what the agent is doing while a poll is at stage s.
func stateOf(s Stage) string {
	switch s {
	case StageFetch, StageVerify:
		return StateFetching
	case StageRealise:
		return StateRealising
	}
	return StateActivating
}
