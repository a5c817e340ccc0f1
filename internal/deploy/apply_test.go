package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/remote/remotetest"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// simulated is a fleet of simulated NixOS hosts (internal/remote/remotetest)
// and a plan that switches each to a new system: fast tests of how Apply
// turns what hosts answer into outcomes. The real-host tests beside these
// show the hosts answer that way.
type simulated struct {
	mu     sync.Mutex
	hosts  map[string]*remotetest.Host
	down   map[string]bool // unreachable hosts
	dialed []string
	plan   *plan.Plan
}

func newSimulated(names ...string) *simulated {
	s := &simulated{hosts: map[string]*remotetest.Host{}, down: map[string]bool{}, plan: &plan.Plan{Action: target.Switch, Evaluations: 1}}
	for i, n := range names {
		h := remotetest.NewHost(n)
		path := fmt.Sprintf("/nix/store/%032d-nixos-system-%s", i, n)
		h.Systems[path] = true
		s.hosts[n] = h
		m := hosts.Machine{Name: n, Target: "root@" + n, Address: remote.Address{User: "root", Host: n}}
		s.plan.Closures = append(s.plan.Closures, plan.Closure{Machine: m, Platform: platform.NixOS, OutPath: path, BuildOn: hosts.BuildLocal})
	}
	return s
}

func (s *simulated) dial(_ context.Context, m hosts.Machine) (remote.Runner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dialed = append(s.dialed, m.Name)
	if s.down[m.Name] {
		return nil, &remote.ConnectError{Host: m.Name, Addr: m.Address, Reason: "Connection refused"}
	}
	return s.hosts[m.Name], nil
}

func (s *simulated) apply(t *testing.T, ctx context.Context, o deploy.Options) *report.Summary {
	t.Helper()
	o.Reach.Dial = s.dial
	sum, err := deploy.Apply(ctx, s.plan, o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestApplyOutcomesOfSimulatedHosts(t *testing.T) {
	s := newSimulated("ok", "down", "busy", "broken")
	s.down["down"] = true
	s.hosts["busy"].LockedBy = "nixherd on laptop"
	s.hosts["broken"].ActivationExit[s.plan.Closures[3].OutPath] = 2
	sum := s.apply(t, context.Background(), deploy.Options{})
	want := map[string]report.Outcome{"ok": report.Switched, "down": report.Unreachable, "busy": report.Refused, "broken": report.Failed}
	for name, outcome := range want {
		if r := result(t, sum, name); r.Outcome != outcome {
			t.Errorf("%s: %s (%s), want %s", name, r.Outcome, r.Error, outcome)
		}
	}
	if sum.OK || len(sum.Failed()) != 3 || sum.SSHConnections != 4 {
		t.Errorf("summary: ok %v, failed %v, %d connections", sum.OK, sum.Failed(), sum.SSHConnections)
	}
}

// TestInterruptedApplyStartsNoNewHost: after the context ends, hosts whose
// turn had not come are not dialled and are reported as not started, not
// as unreachable.
func TestInterruptedApplyStartsNoNewHost(t *testing.T) {
	s := newSimulated("first", "second", "third")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.hosts["first"].BeforeActivation = func(string) { cancel() }
	sum := s.apply(t, ctx, deploy.Options{Reach: fanout.Options{Parallel: 1}})
	for _, name := range []string{"second", "third"} {
		r := result(t, sum, name)
		if r.Outcome != report.NotStarted {
			t.Errorf("%s: %s (%s), want %s", name, r.Outcome, r.Error, report.NotStarted)
		}
		if len(s.hosts[name].Log) > 0 {
			t.Errorf("%s ran commands: %q", name, s.hosts[name].Log)
		}
	}
	if len(s.dialed) != 1 || s.dialed[0] != "first" {
		t.Errorf("dialled %v after the interrupt, want only first", s.dialed)
	}
	if sum.OK {
		t.Error("an interrupted deploy is OK")
	}
}

// TestStrategyOutcomeReachesTheSummary: what the activation strategy says
// (rolled back by the host's watchdog) is the machine's outcome.
func TestStrategyOutcomeReachesTheSummary(t *testing.T) {
	s := newSimulated("guarded")
	sum := s.apply(t, context.Background(), deploy.Options{Strategy: rollsBack{}})
	if r := result(t, sum, "guarded"); r.Outcome != report.RolledBack || !errors.As(r.Err, new(*apply.RollbackError)) {
		t.Fatalf("result %+v", r)
	}
}

type rollsBack struct{}

func (rollsBack) Activate(context.Context, *apply.Activation) error {
	return &apply.RollbackError{Machine: "guarded", Outcome: report.RolledBack, Reason: "no confirmation within 30s"}
}
