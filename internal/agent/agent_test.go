package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testenv"
)

// These tests pin the agent's decisions with a fake machine; the tests on
// test hosts (pull_test.go) run the same agent against real ones.

const (
	pathA = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web1-a"
	pathB = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web1-b"
	pathC = "/nix/store/cccccccccccccccccccccccccccccccc-nixos-system-web1-c"
)

// fakeMachine runs pathA until switched; Fail makes a switch roll back.
type fakeMachine struct {
	mu         sync.Mutex
	running    string
	gen        int
	realised   []string
	switches   []Switch
	rollBack   map[string]bool
	realiseErr error
}

func (f *fakeMachine) State(context.Context, platform.Platform) (MachineState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return MachineState{Generation: target.Generation{Number: f.gen, Path: f.running}, Running: f.running}, nil
}

func (f *fakeMachine) Realise(_ context.Context, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.realised = append(f.realised, path)
	return f.realiseErr
}

func (f *fakeMachine) Switch(_ context.Context, sw Switch) (report.Result, Stage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.switches = append(f.switches, sw)
	res := report.Result{Machine: sw.Machine.Name, Path: sw.Path, PreviousGeneration: f.gen}
	if f.rollBack[sw.Path] {
		res.Outcome, res.Error, res.Generation = report.RolledBack, "web1: rolled back: health check failed: tcp web1:80", f.gen
		res.Err = errors.New(res.Error)
		return res, StageHealth
	}
	f.gen++
	f.running = sw.Path
	res.Outcome, res.Generation = report.Switched, f.gen
	return res, ""
}

type setup struct {
	t        *testing.T
	key      release.SecretKey
	manifest string
	machine  *fakeMachine
	dir      string
}

func newSetup(t *testing.T) *setup {
	dir := t.TempDir()
	return &setup{t: t, key: newKey(t, "fleet-1"), manifest: filepath.Join(dir, "manifest.json"), dir: dir,
		machine: &fakeMachine{running: pathA, gen: 1, rollBack: map[string]bool{}}}
}

func newKey(t *testing.T, name string) release.SecretKey {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := release.ParseSecretKey(name + ":" + base64.StdEncoding.EncodeToString(priv))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publish writes release n naming path for web1, signed with key.
func (s *setup) publish(n int64, path string, key release.SecretKey) {
	s.t.Helper()
	data, err := release.Sign(&release.Manifest{Release: n, Time: time.Now(), Machines: map[string]release.Machine{
		"web1": {Path: path, Platform: platform.NixOS},
		"web2": {Path: pathC, Platform: platform.NixOS},
	}}, key)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.manifest, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *setup) agent() *Agent {
	s.t.Helper()
	a, err := New(Config{Machine: "web1", ManifestURL: s.manifest, Keys: []release.PublicKey{s.key.Public()},
		StateDir: filepath.Join(s.dir, "state"), Platform: platform.NixOS, System: s.machine})
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *setup) once(a *Agent) error {
	s.t.Helper()
	return a.Once(context.Background())
}

func scrape(t *testing.T, a *Agent) string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func hasLine(t *testing.T, metrics, line string) {
	t.Helper()
	for _, l := range strings.Split(metrics, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("metrics lack %q", line)
}

func TestAgentSwitchesToItsRelease(t *testing.T) {
	s := newSetup(t)
	s.publish(1, pathB, s.key)
	a := s.agent()
	if err := s.once(a); err != nil {
		t.Fatal(err)
	}
	if s.machine.running != pathB || len(s.machine.realised) != 1 || s.machine.realised[0] != pathB {
		t.Fatalf("running %s, realised %v", s.machine.running, s.machine.realised)
	}
	st := a.snapshot()
	if st.AppliedRelease != 1 || !st.InSync || st.Desired != pathB || st.Running != pathB || len(st.History) != 1 || st.History[0].Outcome != report.Switched {
		t.Errorf("status %+v", st)
	}
	m := scrape(t, a)
	hasLine(t, m, "nixherd_agent_release_applied 1")
	hasLine(t, m, "nixherd_agent_in_sync 1")
	hasLine(t, m, `nixherd_agent_deployments_total{outcome="switched"} 1`)

	// The same release again: nothing to do.
	if err := s.once(s.agent()); err != nil || len(s.machine.switches) != 1 {
		t.Errorf("second poll: %v, %d switches", err, len(s.machine.switches))
	}
}

// TestAgentRefusesBadManifests: tampered, wrongly signed and replayed
// manifests fail at verify, change nothing and are counted.
func TestAgentRefusesBadManifests(t *testing.T) {
	s := newSetup(t)
	s.publish(5, pathB, s.key)
	if err := s.once(s.agent()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func()
		want  string
	}{
		{"tampered", func() {
			s.publish(6, pathC, s.key)
			b, _ := os.ReadFile(s.manifest)
			// Flip one character of the base64 payload.
			i := strings.Index(string(b), `"payload": "`) + 20
			c := byte('A')
			if b[i] == 'A' {
				c = 'B'
			}
			b[i] = c
			os.WriteFile(s.manifest, b, 0o644)
		}, "signature does not verify"},
		{"wrong key", func() { s.publish(6, pathC, newKey(t, "fleet-1")) }, "signature does not verify"},
		{"replayed older release", func() { s.publish(4, pathC, s.key) }, "release 4: refusing an older release than the one applied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.write()
			a := s.agent()
			err := s.once(a)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "verify: ") {
				t.Fatalf("err = %v", err)
			}
			if s.machine.running != pathB || len(s.machine.realised) != 1 {
				t.Errorf("the machine changed: running %s, realised %v", s.machine.running, s.machine.realised)
			}
			st := a.snapshot()
			if !st.Failing || st.LastFailure == nil || st.LastFailure.Stage != StageVerify || st.AppliedRelease != 5 {
				t.Errorf("status %+v", st)
			}
			m := scrape(t, a)
			hasLine(t, m, `nixherd_agent_failures_total{stage="verify"} 1`)
			hasLine(t, m, `nixherd_agent_last_failure_info{stage="verify"} 1`)
		})
	}
}

func TestAgentCountsFetchFailures(t *testing.T) {
	s := newSetup(t)
	a := s.agent() // no manifest written
	if err := s.once(a); err == nil || !strings.HasPrefix(err.Error(), "fetch: ") {
		t.Fatalf("err = %v", err)
	}
	m := scrape(t, a)
	hasLine(t, m, "nixherd_agent_manifest_fetch_failures_total 1")
	hasLine(t, m, `nixherd_agent_failures_total{stage="fetch"} 1`)
	if st := a.snapshot(); st.ManifestFetchFailures != 1 || st.LastFailure.Stage != StageFetch {
		t.Errorf("status %+v", st)
	}
}

// TestAgentDoesNotRetryAPathThatRolledBack: after a rollback the path is
// not tried again; a release with another path is.
func TestAgentDoesNotRetryAPathThatRolledBack(t *testing.T) {
	s := newSetup(t)
	s.machine.rollBack[pathB] = true
	s.publish(1, pathB, s.key)
	a := s.agent()
	if err := s.once(a); err == nil || !strings.HasPrefix(err.Error(), "health: ") {
		t.Fatalf("err = %v", err)
	}
	st := a.snapshot()
	if st.Rollbacks != 1 || st.Rejected != pathB || st.AppliedRelease != 0 || st.History[0].Outcome != report.RolledBack || st.History[0].Stage != StageHealth {
		t.Fatalf("status %+v", st)
	}
	hasLine(t, scrape(t, a), "nixherd_agent_rollbacks_total 1")

	s.publish(2, pathB, s.key)
	a = s.agent()
	if err := s.once(a); err != nil || len(s.machine.switches) != 1 {
		t.Fatalf("the rejected path again: %v, %d switches", err, len(s.machine.switches))
	}
	if st := a.snapshot(); !st.Failing || st.InSync || st.Rollbacks != 1 {
		t.Errorf("status %+v", st)
	}
	s.publish(3, pathC, s.key)
	a = s.agent()
	if err := s.once(a); err != nil || s.machine.running != pathC {
		t.Fatalf("a new path: %v, running %s", err, s.machine.running)
	}
	if st := a.snapshot(); st.Rejected != "" || st.AppliedRelease != 3 {
		t.Errorf("status %+v", st)
	}
}

// TestAgentResumesAnActivation: an in-flight activation record makes the
// next start follow that watchdog run, not start another.
func TestAgentResumesAnActivation(t *testing.T) {
	s := newSetup(t)
	s.publish(1, pathB, s.key)
	os.MkdirAll(filepath.Join(s.dir, "state"), 0o700)
	if err := writeJSON(filepath.Join(s.dir, "state"), inflightFile, &inflight{Release: 1, Path: pathB, Platform: platform.NixOS,
		Stage: StageActivate, WatchID: "20261201T100000-000000000-r1", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a := s.agent()
	if err := s.once(a); err != nil {
		t.Fatal(err)
	}
	sw := s.machine.switches
	if len(sw) != 1 || !sw[0].Resume || sw[0].WatchID != "20261201T100000-000000000-r1" || len(s.machine.realised) != 0 {
		t.Fatalf("switches %+v, realised %v", sw, s.machine.realised)
	}
	st := a.snapshot()
	if !st.InSync || len(st.History) != 1 || !st.History[0].Resumed || st.AppliedRelease != 1 {
		t.Errorf("status %+v", st)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "state", inflightFile)); !os.IsNotExist(err) {
		t.Error("the in-flight record outlived the deployment")
	}
}

// TestAgentRunPollsOnRequest: the manager polls at PollNow (SIGHUP) and
// answers /status while it runs.
func TestAgentRunPollsOnRequest(t *testing.T) {
	s := newSetup(t)
	s.publish(1, pathB, s.key)
	a, err := New(Config{Machine: "web1", ManifestURL: s.manifest, Keys: []release.PublicKey{s.key.Public()},
		StateDir: filepath.Join(s.dir, "state"), Platform: platform.NixOS, System: s.machine, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	a.PollNow()
	testenv.Eventually(t, 10*time.Second, "the agent polls on request", func() bool { return a.Status().InSync })
	s.publish(2, pathC, s.key)
	a.PollNow()
	testenv.Eventually(t, 10*time.Second, "the agent polls release 2 on request", func() bool { st := a.Status(); return st.InSync && st.AppliedRelease == 2 })
}
