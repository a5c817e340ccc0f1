package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// TestDeployInWavesHaltsAtABadWave: three hosts in three waves; the second
// wave's activation fails, so the host rolls back, the rollout halts and
// the third host never gets the new system.
func TestDeployInWavesHaltsAtABadWave(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"wv1", "wv2", "wv3"}})
	f := newOpsFleet(t, c)
	m := func(n, gen string, exit int) testhost.FixtureMachine {
		return testhost.FixtureMachine{Name: n, Platform: platform.NixOS, Generation: gen, ActivateExit: exit}
	}
	f.write(placement{m("wv1", "1", 0), "wv1"}, placement{m("wv2", "1", 0), "wv2"}, placement{m("wv3", "1", 0), "wv3"})
	f.must("deploy", "--all")
	before := c.Host("wv3").CurrentSystem()
	actsBefore, _ := c.Host("wv3").Activations()

	f.write(placement{m("wv1", "2", 0), "wv1"}, placement{m("wv2", "2", 4), "wv2"}, placement{m("wv3", "2", 0), "wv3"})
	out, errOut, code := f.nixherd("deploy", "--all", "--wave", "wv1", "--wave", "wv2", "--soak", "1s", "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	var s struct {
		OK       bool
		Machines []struct{ Machine, Outcome, Error string }
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := map[string]string{"wv1": "switched", "wv2": "ROLLED BACK", "wv3": "not started"}
	for _, r := range s.Machines {
		if r.Outcome != want[r.Machine] {
			t.Errorf("%s: %s (%s), want %s", r.Machine, r.Outcome, r.Error, want[r.Machine])
		}
	}
	if !strings.Contains(errOut, "rollout halted in wave wv2: wv2: ROLLED BACK") || !strings.Contains(errOut, "wave 1 wv1 (wv1): soaking for 1s") {
		t.Errorf("stderr does not say where and why the rollout halted:\n%s", errOut)
	}
	if got := c.Host("wv3").CurrentSystem(); got != before {
		t.Errorf("wv3 runs %s after the halt, want the old %s", got, before)
	}
	if acts, _ := c.Host("wv3").Activations(); len(acts) != len(actsBefore) {
		t.Errorf("wv3 was activated during the halted rollout: %d activations, %d before", len(acts), len(actsBefore))
	}

	// The rollout's record, which the dashboard shows, is status's too.
	out, errOut, _ = f.nixherd("status", "--json")
	var st struct {
		Rollout *struct {
			Kind, State string
			Halt        struct{ Wave, Machine, Reason string }
			Waves       []struct {
				Name, State string
				Machines    []struct{ Machine, State, Error string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Rollout == nil {
		t.Fatalf("status --json has no rollout (%v)\n%s%s", err, out, errOut)
	}
	ro := st.Rollout
	if ro.Kind != "push" || ro.State != "halted" || ro.Halt.Wave != "wv2" || ro.Halt.Machine != "wv2" {
		t.Errorf("rollout record %+v, want a halted push rollout, halted at wv2 in wave wv2", ro)
	}
	waveStates := map[string]string{"wv1": "done", "wv2": "halted", "rest": "not started"}
	machineStates := map[string]string{"wv1": "running", "wv2": "ROLLED BACK", "wv3": "not started"}
	for _, w := range ro.Waves {
		if w.State != waveStates[w.Name] {
			t.Errorf("wave %s is %q in the record, want %q", w.Name, w.State, waveStates[w.Name])
		}
		for _, m := range w.Machines {
			if m.State != machineStates[m.Machine] {
				t.Errorf("%s is %q (%s) in the record, want %q", m.Machine, m.State, m.Error, machineStates[m.Machine])
			}
		}
	}
	if len(ro.Waves) != 3 {
		t.Errorf("%d waves in the record, want 3", len(ro.Waves))
	}
	out, _, _ = f.nixherd("status")
	if !strings.Contains(out, "push rollout started") || !strings.Contains(out, "halted: rollout halted in wave wv2: wv2: ROLLED BACK") {
		t.Errorf("status does not show the halted push rollout:\n%s", out)
	}
}
