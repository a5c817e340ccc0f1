package deploy

import (
	"context"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
)

// Host is one host at the activation stage: its closure is on the host and
// passed the guard, and the host's deploy lock is held.
type Host struct {
	Machine  hosts.Machine
	Runner   remote.Runner
	Executor target.Executor
	// Path is the new system (or home generation) store path.
	Path   string
	Action target.Action
	// Profile is the profile the executor sets on this host.
	Profile string
	// Previous is the generation the profile pointed at before the deploy
	// (Number 0 when there was none): what a rollback returns to.
	Previous target.Generation
	// Report sends an event for this host.
	Report func(phase Phase, detail string)
}

// Activation is the stage that makes a host run its new closure. Direct is
// the plain one; the safety layer (magic rollback, health checks) provides
// another and sets it in Options.Activation.
type Activation interface {
	Activate(ctx context.Context, h *Host) error
}

// Direct sets the profile when the action needs it, then activates: what
// nixos-rebuild, darwin-rebuild and home-manager switch do.
type Direct struct{}

func (Direct) Activate(ctx context.Context, h *Host) error {
	if h.Action.SetsProfile() {
		h.Report(PhaseProfile, h.Profile)
		if err := h.Executor.SetProfile(ctx, h.Runner, h.Path); err != nil {
			return err
		}
	}
	h.Report(PhaseActivate, string(h.Action))
	return h.Executor.Activate(ctx, h.Runner, h.Path, h.Action)
}
