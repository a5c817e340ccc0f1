package rollout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPushRecordFollowsTheMachines: a push rollout's record, kept in the
// state directory and readable by its owner alone, says what each machine
// did: running, ROLLED BACK (with why), failed after the soak.
func TestPushRecordFollowsTheMachines(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	file, err := PushRecordFile("/home/alice/fleet")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(file, filepath.Join(state, "nixherd", "rollouts")+"/") {
		t.Fatalf("record at %s, want under $XDG_STATE_HOME/nixherd/rollouts", file)
	}
	if other, _ := PushRecordFile("/home/alice/other-fleet"); other == file {
		t.Fatal("two fleets share a record")
	}
	ws := waves(t)
	r, err := NewPushRecorder(ws, file)
	if err != nil {
		t.Fatal(err)
	}
	s := &stage{fail: map[string]string{"w2": "activation exited 4\nmore"}, sick: map[string]string{"c1": "health check failed"}}
	// c1 is sick after its soak: the rollout halts in the canary wave.
	r.Finish(Run(context.Background(), ws, r.Stage(s), r), false)
	rec, err := ReadRecord(file)
	if err != nil || rec == nil {
		t.Fatalf("record: %v", err)
	}
	if rec.Kind != "push" || rec.State != "halted" || rec.Halt == nil || rec.Halt.Machine != "c1" || rec.Waves[0].State != "halted" || rec.Waves[1].State != "not started" {
		t.Errorf("record %+v", rec)
	}
	if m := rec.Waves[0].Machines[0]; m.State != "failed" || m.Error != "unhealthy after the soak: health check failed" {
		t.Errorf("c1 in the record: %+v", m)
	}
	// Without the sick canary, w2 rolls back in the web wave.
	s.sick = nil
	r, _ = NewPushRecorder(ws, file)
	r.Finish(Run(context.Background(), ws, r.Stage(s), r), false)
	rec, _ = ReadRecord(file)
	got := map[string]MachineRecord{}
	for _, w := range rec.Waves {
		for _, m := range w.Machines {
			got[m.Machine] = m
		}
	}
	if got["c1"].State != "running" || got["w1"].State != "running" || got["w2"].State != "ROLLED BACK" || got["w2"].Error != "ROLLED BACK: activation exited 4" || got["db"].State != "not started" {
		t.Errorf("machines in the record: %+v", got)
	}
	for path, want := range map[string]os.FileMode{file: 0o600, filepath.Dir(file): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v, want %v", path, err, fi.Mode().Perm(), want)
		}
	}
}

func TestLatestIsTheRolloutStartedLast(t *testing.T) {
	old, recent := &Record{Started: time.Unix(100, 0)}, &Record{Started: time.Unix(200, 0)}
	if Latest(old, recent) != recent || Latest(recent, old) != recent || Latest(nil, old) != old || Latest(old, nil) != old || Latest(nil, nil) != nil {
		t.Error("Latest does not pick the rollout started last")
	}
}
