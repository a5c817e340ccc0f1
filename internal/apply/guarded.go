package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/health"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/watchdog"
)

// Guarded is the switch with magic rollback (see internal/watchdog): the
// new system is activated with `test` by a watchdog on the host, checked,
// confirmed and only then made the boot default. Other actions, rollbacks
// and home-manager profiles activate as Direct does.
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
	// Confirmation proves the machine is still usable after the activation
	// and carries the confirmation to its watchdog (default FreshLogin).
	Confirmation Confirmation
	// ID names the watchdog's run on the host (default: from the time), so
	// that a process which dies during the activation can find it again.
	ID string
	// Resume follows the watchdog run ID started earlier, by a process that
	// died meanwhile, instead of starting one (see watchdog.Guard.Resume).
	Resume bool
}

// Confirmation is how a guarded switch earns the watchdog's commit once the
// machine's health checks passed.
type Confirmation interface {
	// Prove returns why the machine must not be confirmed (empty when it
	// may be): what the health checks do not cover, such as reaching the
	// release server.
	Prove(ctx context.Context, a *Activation) (failed []string)
	// Through returns the connection the confirmation is written over;
	// writing it must itself prove what matters (a new SSH login works).
	Through(a *Activation) watchdog.Host
}

// FreshLogin confirms over a new SSH login instead of the host's master
// connection: the confirmation proves that logging in still works after the
// activation. The local machine has no login to renew.
type FreshLogin struct{}

func (FreshLogin) Prove(context.Context, *Activation) []string { return nil }

func (FreshLogin) Through(a *Activation) watchdog.Host {
	if f, ok := a.Runner.(interface{ Fresh() remote.Runner }); ok {
		return AsRoot{f.Fresh()}
	}
	return AsRoot{a.Runner}
}

// RollbackError says why a machine is back on its previous generation (or,
// for Unreachable and interrupted runs, will be by itself).
type RollbackError struct {
	Machine string
	Outcome report.Outcome
	Result  watchdog.Result
	Reason  string
	// Log is the tail of the activation's output when it failed.
	Log string
}

func (e *RollbackError) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Machine, e.Reason)
	if e.Result == watchdog.ResultRolledBack {
		msg = fmt.Sprintf("%s: rolled back: %s", e.Machine, e.Reason)
	}
	if e.Log != "" {
		msg += "\n" + e.Log
	}
	return msg
}

// Activate implements Strategy.
func (g Guarded) Activate(ctx context.Context, a *Activation) error {
	kind, ok := map[platform.Platform]watchdog.Kind{platform.NixOS: watchdog.NixOS, platform.Darwin: watchdog.Darwin}[a.Executor.Platform()]
	if a.Action != target.Switch || a.Generation > 0 || !ok {
		return Direct{}.Activate(ctx, a)
	}
	confirmation := g.Confirmation
	if confirmation == nil {
		confirmation = FreshLogin{}
	}
	guard := &watchdog.Guard{
		Params: watchdog.Params{Kind: kind, Profile: a.Profile, New: a.Path,
			ConfirmTimeout: g.ConfirmTimeout, ActivationTimeout: g.ActivationTimeout, ID: g.ID},
		Host:  AsRoot{a.Runner},
		Fresh: func() watchdog.Host { return confirmation.Through(a) },
		Check: func(ctx context.Context) []string {
			if failed := g.check(ctx, a); len(failed) > 0 {
				return failed
			}
			return confirmation.Prove(ctx, a)
		},
		Progress: func(step, detail string) {
			phase := map[string]report.Phase{"health": report.PhaseHealth, "confirm": report.PhaseConfirm, "rollback": report.PhaseRollback}[step]
			if phase == "" {
				phase = report.PhaseActivate
			}
			a.Report(phase, detail)
		},
	}
	run := guard.Run
	if g.Resume {
		run = guard.Resume
	}
	out, err := run(ctx)
	if out.OK() {
		return nil
	}
	rb := &RollbackError{Machine: a.Machine.Name, Outcome: report.RolledBack, Result: out.Result, Reason: out.Reason, Log: out.ActivationLog}
	switch out.Result {
	case watchdog.ResultFailed, watchdog.ResultInterrupted:
		rb.Outcome = report.Failed
	case watchdog.ResultUnreachable:
		rb.Outcome = report.Unreachable
	}
	if err != nil && out.Result != watchdog.ResultRolledBack {
		rb.Reason += " (" + err.Error() + ")"
	}
	return rb
}

// check runs the machine's health checks from deploy.nix and names the
// failing ones, each with why it failed.
func (g Guarded) check(ctx context.Context, a *Activation) []string {
	return CheckHealth(ctx, a.Runner, a.Machine.HealthChecks, g.HealthDeadline, a.Report)
}

// CheckHealth runs health checks (command checks on the host r reaches) and
// names the failing ones; progress hears each result.
func CheckHealth(ctx context.Context, r remote.Runner, hcs []hosts.HealthCheck, deadline time.Duration, progress func(report.Phase, string)) []string {
	if len(hcs) == 0 {
		return nil
	}
	results, ok := health.RunAll(ctx, HealthChecks(hcs, deadline), hostShell{r})
	for _, res := range results {
		if progress != nil {
			progress(report.PhaseHealth, res.String())
		}
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

// AsRoot runs the watchdog's scripts as root on a host.
type AsRoot struct{ R remote.Runner }

func (a AsRoot) RunScript(ctx context.Context, script string, args ...string) ([]byte, error) {
	c := remote.Sh(script, args...)
	c.Root = true
	return a.R.Run(ctx, c)
}

// hostShell runs command health checks on the host as the deploy user.
type hostShell struct{ r remote.Runner }

func (s hostShell) Run(ctx context.Context, command string) ([]byte, error) {
	out, err := s.r.Run(ctx, remote.Sh(command))
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Code >= 0 && ee.Code != 255 {
		// The command ran and failed (255 is ssh's own failure).
		return out, &health.ExitError{Code: ee.Code, Output: ee.Stderr}
	}
	return out, err
}
