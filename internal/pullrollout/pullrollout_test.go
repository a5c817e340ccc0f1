package pullrollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
)

// fleet is a fake publisher and its agents: each agent takes a few reads
// to follow the release that names a new path for its machine, then runs
// it, or rolls back when its machine is sick; a silent agent never answers.
type fleet struct {
	mu       sync.Mutex
	release  int64
	entries  map[string]release.Machine
	writes   []map[string]string // each release's changed entries
	agents   map[string]*fakeAgent
	sick     map[string]bool
	silent   map[string]bool
	inFlight int // the most machines mid-deploy at once
}

type fakeAgent struct {
	running, desired string
	seen             int64
	reads            int
	history          []agent.Deployment
	rejected         string
}

func newFleet(names ...string) *fleet {
	f := &fleet{release: 1, entries: map[string]release.Machine{}, agents: map[string]*fakeAgent{}, sick: map[string]bool{}, silent: map[string]bool{}}
	for _, n := range names {
		f.entries[n] = release.Machine{Path: path(n, 1), Platform: platform.NixOS}
		f.agents[n] = &fakeAgent{running: path(n, 1), desired: path(n, 1), seen: 1}
	}
	return f
}

func path(machine string, gen int) string {
	return fmt.Sprintf("/nix/store/%032d-nixos-system-%s-%d", gen, machine, gen)
}

func (f *fleet) Write(set map[string]*release.Machine, _ string, _ bool) (*publish.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := map[string]string{}
	for n, m := range set {
		if m == nil {
			delete(f.entries, n)
			continue
		}
		if f.entries[n].Path != m.Path {
			changed[n] = m.Path
		}
		f.entries[n] = *m
	}
	if len(changed) == 0 {
		return &publish.Result{Release: f.release, Unchanged: true}, nil
	}
	f.release++
	f.writes = append(f.writes, changed)
	return &publish.Result{Release: f.release}, nil
}

func (f *fleet) Read(_ context.Context, m hosts.Machine) (agent.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.silent[m.Name] {
		return agent.Status{}, errors.New("connection refused")
	}
	a := f.agents[m.Name]
	want := f.entries[m.Name].Path
	a.seen, a.desired = f.release, want
	busy := 0
	for _, o := range f.agents {
		if o.desired != o.running && o.rejected != o.desired {
			busy++
		}
	}
	f.inFlight = max(f.inFlight, busy)
	st := agent.Status{Machine: m.Name, State: agent.StateIdle, DesiredRelease: a.seen, Desired: want}
	if want != a.running && want != a.rejected {
		a.reads++
		if a.reads < 3 {
			st.State, st.Running = agent.StateActivating, a.running
			return st, nil
		}
		a.reads = 0
		if f.sick[m.Name] && strings.Contains(want, "-2") {
			a.rejected = want
			a.history = append(a.history, agent.Deployment{Release: f.release, Machine: m.Name, Path: want, Outcome: report.RolledBack,
				Stage: agent.StageHealth, Error: "health check failed: command false: exited with status 1\nmore"})
		} else {
			a.running = want
			a.history = append(a.history, agent.Deployment{Release: f.release, Machine: m.Name, Path: want, Outcome: report.Switched})
		}
	}
	st.Running, st.InSync, st.Rejected, st.History = a.running, a.running == want, a.rejected, a.history
	st.Failing = a.rejected == want
	return st, nil
}

func machines(names ...string) []hosts.Machine {
	var ms []hosts.Machine
	for _, n := range names {
		ms = append(ms, hosts.Machine{Name: n, Target: "root@" + n, Pull: &hosts.Pull{Agent: "http://" + n}})
	}
	return ms
}

// twelve: 12 machines in three waves (2, 4, 6), generation 2 for all.
func twelve(f *fleet) ([]rollout.Wave, *Stage) {
	ms := machines("a1", "a2", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4", "c5", "c6")
	waves := []rollout.Wave{{Name: "canary", Machines: ms[:2]}, {Name: "web", Machines: ms[2:6]}, {Name: "rest", Machines: ms[6:]}}
	next := map[string]*release.Machine{}
	for _, m := range ms {
		next[m.Name] = &release.Machine{Path: path(m.Name, 2), Platform: platform.NixOS}
	}
	return waves, &Stage{Publisher: f, Read: f.Read, New: next, Deadline: 5 * time.Second, Poll: time.Millisecond}
}

func TestEveryWaveInSlicesOfTheBudget(t *testing.T) {
	f := newFleet("a1", "a2", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4", "c5", "c6")
	waves, s := twelve(f)
	s.InFlight = 2
	res := rollout.Run(context.Background(), waves, s, quietProgress{})
	if !res.OK() {
		t.Fatalf("halted: %v", res.Halt)
	}
	for n, a := range f.agents {
		if a.running != path(n, 2) {
			t.Errorf("%s runs %s", n, a.running)
		}
	}
	// 2 + 4 + 6 machines, two at a time: six releases, none giving more
	// than two machines a new system, and never more than two on their way.
	if len(f.writes) != 6 || f.inFlight > 2 {
		t.Errorf("%d releases %v, %d machines at once", len(f.writes), f.writes, f.inFlight)
	}
	for _, w := range f.writes {
		if len(w) > 2 {
			t.Errorf("a release gave %d machines a new system: %v", len(w), w)
		}
	}
}

func TestARollbackHaltsAndTheWaveIsReverted(t *testing.T) {
	f := newFleet("a1", "a2", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4", "c5", "c6")
	f.sick["b3"] = true
	waves, s := twelve(f)
	old := map[string]*release.Machine{}
	for n, e := range f.entries {
		old[n] = &e
	}
	res := rollout.Run(context.Background(), waves, s, quietProgress{})
	if res.OK() || res.Halt.Wave != "web" || res.Halt.Machine != "b3" ||
		!strings.Contains(res.Halt.Reason, "ROLLED BACK: release 3 rolled back at health: health check failed: command false") {
		t.Fatalf("halt %+v", res.Halt)
	}
	for _, w := range f.writes {
		for n := range w {
			if strings.HasPrefix(n, "c") {
				t.Errorf("wave rest (%s) was given a new system: %v", n, w)
			}
		}
	}
	n, back, err := s.Revert(context.Background(), waves[1], old)
	if err != nil || n != 4 {
		t.Fatalf("revert: release %d, %v", n, err)
	}
	for _, r := range back {
		if !r.OK() {
			t.Errorf("%s did not come back: %+v", r.Machine, r)
		}
	}
	for _, m := range waves[1].Machines {
		if a := f.agents[m.Name]; a.running != path(m.Name, 1) || f.entries[m.Name].Path != path(m.Name, 1) {
			t.Errorf("%s runs %s after the revert", m.Name, a.running)
		}
	}
	for _, m := range waves[0].Machines {
		if f.entries[m.Name].Path != path(m.Name, 2) {
			t.Errorf("the canary %s lost the new system", m.Name)
		}
	}
}

func TestAnAgentThatNeverAnswersIsStaleAndTheWaveDoesNotPass(t *testing.T) {
	f := newFleet("a1", "a2", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4", "c5", "c6")
	f.silent["a2"] = true
	waves, s := twelve(f)
	s.Deadline = 50 * time.Millisecond
	rec := rollout.NewRecorder(waves, 1, func([]byte) error { return nil }, nil)
	s.Record = rec
	res := rollout.Run(context.Background(), waves, s, rec)
	if res.OK() || res.Halt.Machine != "a2" || !strings.Contains(res.Halt.Reason, "no answer from its agent since") {
		t.Fatalf("halt %+v", res.Halt)
	}
	if r, _ := res.Summary(1).Result("a2"); r.Outcome != report.Unreachable {
		t.Errorf("a2: %+v", r)
	}
	snap := rec.Snapshot()
	if m := snap.Waves[0].Machines[1]; m.State != "stale" || snap.Waves[0].State != "halted" || snap.Waves[1].State != "waiting" {
		t.Errorf("record: %+v", snap.Waves)
	}
	if len(f.writes) != 1 {
		t.Errorf("releases after the canary: %v", f.writes)
	}
}

func TestAnInterruptedWaveStopsPublishing(t *testing.T) {
	f := newFleet("a1", "a2", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4", "c5", "c6")
	f.silent["a1"] = true
	waves, s := twelve(f)
	s.Deadline = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	s.Read = func(ctx context.Context, m hosts.Machine) (agent.Status, error) {
		if m.Name == "a1" {
			cancel()
		}
		return f.Read(ctx, m)
	}
	res := rollout.Run(ctx, waves, s, quietProgress{})
	if res.OK() || s.Published() != 2 || len(f.writes) != 1 {
		t.Fatalf("halt %v, published %d, releases %v", res.Halt, s.Published(), f.writes)
	}
	if r, _ := res.Summary(1).Result("a1"); !strings.Contains(r.Error, "interrupted while its agent deployed release 2") {
		t.Errorf("a1: %+v", r)
	}
}

type quietProgress struct{}

func (quietProgress) Wave(int, rollout.Wave, string) {}
