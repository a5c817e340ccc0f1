package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/health"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/watchdog"
)

// RolledBack is the outcome of a host that activated the new configuration
// and returned to its previous one: the activation failed, a health check
// failed, the confirmation did not arrive or the deploy was interrupted.
const RolledBack Outcome = "ROLLED BACK"

// PhaseHealth, PhaseConfirm and PhaseRollback are the steps of a guarded
// switch after the activation.
const (
	PhaseHealth   Phase = "health"
	PhaseConfirm  Phase = "confirm"
	PhaseRollback Phase = "rollback"
)

// Guarded is the switch with magic rollback (see internal/watchdog): the
// new system is activated with `test` by a watchdog on the host, checked,
// confirmed over a fresh SSH connection and only then made the boot default.
// Other actions and home-manager profiles activate as Direct does.
type Guarded struct {
	// ConfirmTimeout is how long the host waits for the confirmation
	// before it returns to the previous generation (default 30s).
	ConfirmTimeout time.Duration
	// ActivationTimeout is how long the new system's activation may run
	// before the host stops it and returns to the previous generation
	// (default 10m); the host enforces it, with or without the deployer.
	ActivationTimeout time.Duration
	// HealthDeadline bounds each health check's retries (default
	// health.DefaultDeadline).
	HealthDeadline time.Duration
}

// RollbackError says why a host is back on its previous generation (or,
// for Unreachable and Interrupted, will be by itself).
type RollbackError struct {
	Host    string
	Outcome Outcome
	Result  watchdog.Result
	Reason  string
	// Log is the tail of the activation's output when it failed.
	Log string
}

func (e *RollbackError) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Host, e.Reason)
	if e.Result == watchdog.ResultRolledBack {
		msg = fmt.Sprintf("%s: rolled back: %s", e.Host, e.Reason)
	}
	if e.Log != "" {
		msg += "\n" + e.Log
	}
	return msg
}

// Activate implements Activation.
func (g Guarded) Activate(ctx context.Context, h *Host) error {
	kind, ok := map[string]watchdog.Kind{"nixos": watchdog.NixOS, "darwin": watchdog.Darwin}[h.Executor.Platform()]
	if h.Action != target.Switch || !ok {
		return Direct{}.Activate(ctx, h)
	}
	guard := &watchdog.Guard{
		Params: watchdog.Params{Kind: kind, Profile: h.Profile, New: h.Path,
			ConfirmTimeout: g.ConfirmTimeout, ActivationTimeout: g.ActivationTimeout},
		Host:  asRoot{h.Runner},
		Fresh: func() watchdog.Host { return asRoot{freshConnection(h.Runner)} },
		Check: func(ctx context.Context) []string { return g.check(ctx, h) },
		Progress: func(step, detail string) {
			phase := map[string]Phase{"health": PhaseHealth, "confirm": PhaseConfirm, "rollback": PhaseRollback}[step]
			if phase == "" {
				phase = PhaseActivate
			}
			h.Report(phase, detail)
		},
	}
	out, err := guard.Run(ctx)
	if out.OK() {
		return nil
	}
	rb := &RollbackError{Host: h.Machine.Name, Outcome: RolledBack, Result: out.Result, Reason: out.Reason, Log: out.ActivationLog}
	switch out.Result {
	case watchdog.ResultFailed:
		rb.Outcome = Failed
	case watchdog.ResultUnreachable:
		rb.Outcome = Unreachable
	case watchdog.ResultInterrupted:
		rb.Outcome = Failed
	}
	if err != nil && out.Result != watchdog.ResultRolledBack {
		rb.Reason += " (" + err.Error() + ")"
	}
	return rb
}

// check runs the machine's health checks from deploy.nix and names the
// failing ones.
func (g Guarded) check(ctx context.Context, h *Host) []string {
	if len(h.Machine.HealthChecks) == 0 {
		return nil
	}
	checks := HealthChecks(h.Machine.HealthChecks, g.HealthDeadline)
	results, ok := health.RunAll(ctx, checks, hostShell{h.Runner})
	for _, r := range results {
		h.Report(PhaseHealth, r.String())
	}
	if ok {
		return nil
	}
	return health.Failed(results)
}

// HealthChecks converts deploy.nix checks into runnable ones, named for the
// summary after what they probe.
func HealthChecks(hcs []hosts.HealthCheck, deadline time.Duration) []health.Check {
	var checks []health.Check
	for _, hc := range hcs {
		c := health.Check{Kind: health.Kind(hc.Kind()), URL: hc.HTTP, Status: hc.Status, Address: hc.TCP, Command: hc.Command, Deadline: deadline}
		if hc.Timeout > 0 {
			c.AttemptTimeout = time.Duration(hc.Timeout) * time.Second
		}
		switch c.Kind {
		case health.HTTP:
			c.Name = "http " + hc.HTTP
		case health.TCP:
			c.Name = "tcp " + hc.TCP
		default:
			c.Name = "command " + strings.Join(strings.Fields(hc.Command), " ")
		}
		checks = append(checks, c)
	}
	return checks
}

// asRoot runs the watchdog's scripts as root on a host.
type asRoot struct{ r remote.Runner }

func (a asRoot) RunScript(ctx context.Context, script string, args ...string) ([]byte, error) {
	c := remote.Sh(script, args...)
	c.Root = true
	return a.r.Run(ctx, c)
}

// hostShell runs command health checks on the host as the deploy user.
type hostShell struct{ r remote.Runner }

func (s hostShell) Run(ctx context.Context, command string) ([]byte, error) {
	return s.r.Run(ctx, remote.Sh(command))
}

// freshConnection returns a runner that logs in anew instead of reusing the
// host's master connection, so that a confirmation proves a new SSH login
// works after the activation. The local machine has no connection to renew.
func freshConnection(r remote.Runner) remote.Runner {
	if f, ok := r.(interface{ Fresh() remote.Runner }); ok {
		return f.Fresh()
	}
	return r
}
