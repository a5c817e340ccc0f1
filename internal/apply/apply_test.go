package apply_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote/remotetest"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

const (
	sys1 = "/nix/store/11111111111111111111111111111111-nixos-system-h-1"
	sys2 = "/nix/store/22222222222222222222222222222222-nixos-system-h-2"
)

// host is a simulated NixOS host that runs sys1 as generation 1.
func host() *remotetest.Host {
	h := remotetest.NewHost("h")
	h.Systems[sys1], h.Systems[sys2] = true, true
	h.Generations, h.Current, h.Running = []string{sys1}, 1, sys1
	return h
}

func run(h *remotetest.Host, req apply.Request) report.Result {
	req.Machine = hosts.Machine{Name: "h", Target: "root@h"}
	req.Runner, req.Executor = h, target.NixOS{}
	if req.Action == "" {
		req.Action = target.Switch
	}
	locks := &apply.Locks{}
	defer locks.Release()
	req.Locks = locks
	var res report.Result
	apply.Apply(context.Background(), req, &res)
	return res
}

func activated(h *remotetest.Host) bool {
	for _, l := range h.Log {
		if strings.Contains(l, "switch-to-configuration") {
			return true
		}
	}
	return false
}

func TestApplySwitches(t *testing.T) {
	h := host()
	res := run(h, apply.Request{Path: sys2})
	if res.Outcome != report.Switched || res.Err != nil || res.PreviousGeneration != 1 || res.Generation != 2 {
		t.Fatalf("result %+v", res)
	}
	if h.Running != sys2 || h.Current != 2 || h.Locks() != 1 {
		t.Fatalf("host runs %s at generation %d after %d locks", h.Running, h.Current, h.Locks())
	}
}

func TestApplyOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*remotetest.Host)
		req     apply.Request
		outcome report.Outcome
		err     string
		// activates says whether an activation may have run.
		activates bool
	}{
		{name: "lock held by another deploy", setup: func(h *remotetest.Host) { h.LockedBy = "nixherd on ci" },
			req: apply.Request{Path: sys2}, outcome: report.Refused, err: "another deploy to this host is in progress (nixherd on ci)"},
		{name: "not a NixOS system", setup: func(h *remotetest.Host) { delete(h.Systems, sys2) },
			req: apply.Request{Path: sys2}, outcome: report.Failed, err: "is not a NixOS system"},
		{name: "activation fails", setup: func(h *remotetest.Host) { h.ActivationExit[sys2] = 4 },
			req: apply.Request{Path: sys2}, outcome: report.Failed, err: "a unit failed to stop, start or restart", activates: true},
		{name: "strategy rolled back", req: apply.Request{Path: sys2, Strategy: rollsBack{}}, outcome: report.RolledBack, err: "rolled back: health check failed"},
		{name: "rollback to a generation that is another path", setup: func(h *remotetest.Host) { h.Generations = append(h.Generations, sys2); h.Current = 2 },
			req: apply.Request{Path: sys2, Generation: 1}, outcome: report.Failed, err: "nothing was activated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := host()
			if tc.setup != nil {
				tc.setup(h)
			}
			res := run(h, tc.req)
			if res.Outcome != tc.outcome || res.Err == nil || !strings.Contains(res.Error, tc.err) {
				t.Fatalf("result %+v, want %s with %q", res, tc.outcome, tc.err)
			}
			if !tc.activates && activated(h) {
				t.Errorf("an activation ran: %q", h.Log)
			}
		})
	}
}

// TestApplyReturnsToAGeneration: a rollback switches the profile to the
// existing generation, checked against the planned path, and adds none.
func TestApplyReturnsToAGeneration(t *testing.T) {
	h := host()
	h.Generations, h.Current, h.Running = []string{sys1, sys2}, 2, sys2
	res := run(h, apply.Request{Path: sys1, Generation: 1})
	if res.Outcome != report.Switched || res.Generation != 1 || res.PreviousGeneration != 2 {
		t.Fatalf("result %+v", res)
	}
	if h.Running != sys1 || h.Current != 1 || len(h.Generations) != 2 {
		t.Fatalf("host runs %s, generation %d of %d", h.Running, h.Current, len(h.Generations))
	}
}

type rollsBack struct{}

func (rollsBack) Activate(context.Context, *apply.Activation) error {
	return &apply.RollbackError{Machine: "h", Outcome: report.RolledBack, Result: "ROLLED BACK", Reason: "health check failed"}
}

func TestLocksAreTakenOncePerRun(t *testing.T) {
	h := host()
	locks := &apply.Locks{}
	for range 3 {
		if err := locks.Hold(context.Background(), h, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := locks.Release(); err != nil {
		t.Fatal(err)
	}
	if h.Locks() != 1 {
		t.Fatalf("%d locks taken for one run, want 1", h.Locks())
	}
	h.LockedBy = "someone"
	if err := (&apply.Locks{}).Hold(context.Background(), h, true, nil); !errors.Is(err, apply.ErrLocked) {
		t.Fatalf("a held lock: %v", err)
	}
}

// A local switch whose activation fails puts the profile back on the
// generation it was on, and makes it the boot default again; without
// RestoreProfile (a deploy's --no-rollback, as nixos-rebuild) it stays.
func TestDirectRestoresTheProfileWhenAsked(t *testing.T) {
	h := host()
	h.ActivationExit[sys2] = 4
	res := run(h, apply.Request{Path: sys2, Strategy: apply.Direct{RestoreProfile: true}})
	if res.Outcome != report.Failed || res.Generation != 1 || !strings.Contains(res.Error, "/nix/var/nix/profiles/system is back on generation 1 ("+sys1+")") {
		t.Fatalf("result %+v", res)
	}
	if h.Current != 1 || len(h.Generations) != 2 {
		t.Fatalf("the profile is on generation %d of %d", h.Current, len(h.Generations))
	}
	if !slices.Contains(h.Log, sys1+"/bin/switch-to-configuration boot") {
		t.Errorf("the old generation was not made the boot default again: %q", h.Log)
	}

	h = host()
	h.ActivationExit[sys2] = 4
	if res := run(h, apply.Request{Path: sys2}); res.Outcome != report.Failed || h.Current != 2 {
		t.Fatalf("without RestoreProfile: %+v, profile on %d", res, h.Current)
	}
}
