package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/atomicfile"
	"github.com/nixherd/nixherd/internal/report"
)

// Record is a rollout's progress as it goes, written (atomically) where
// others can watch it: a pull rollout keeps it beside its release manifest
// (RecordFile), where `nixherd dashboard` and `nixherd status --release`
// read it; a push rollout in the deployer's state directory
// (PushRecordFile), where the dashboard and status of the same fleet on the
// same machine read it. It is a report, not a lock: an interrupted or killed rollout's
// record says what it last knew.
type Record struct {
	// Kind is pull (nixherd rollout: releases to agents) or push (deploy
	// --wave/--waves: the deployer applies each wave itself, and there is
	// no release).
	Kind string `json:"kind"`
	// State is running, done, halted or interrupted.
	State   string     `json:"state"`
	Started time.Time  `json:"started"`
	Updated time.Time  `json:"updated"`
	Ended   *time.Time `json:"ended,omitempty"`
	// PreviousRelease is the release before the rollout; Release the one
	// published now.
	PreviousRelease int64  `json:"previousRelease"`
	Release         int64  `json:"release"`
	Revision        string `json:"revision,omitempty"`
	// MaxInFlight is how many machines were allowed mid-deploy at once;
	// Deadline how long a wave's machines had to run the release healthy.
	MaxInFlight int          `json:"maxInFlight"`
	Deadline    float64      `json:"deadlineSeconds"`
	Waves       []WaveRecord `json:"waves"`
	Halt        *Halt        `json:"halt,omitempty"`
	// Reverted is the release that gave the halted wave its previous
	// entries back (0: none).
	Reverted int64 `json:"reverted,omitempty"`
	// Message says in one sentence where the rollout stands.
	Message string `json:"message,omitempty"`
}

// WaveRecord is one wave's progress.
type WaveRecord struct {
	Name string `json:"name"`
	// State is waiting, deploying, soaking, checking health, done, halted,
	// reverted or not started.
	State    string          `json:"state"`
	Soak     float64         `json:"soakSeconds,omitempty"`
	Machines []MachineRecord `json:"machines"`
}

// MachineRecord is one machine's progress in its wave.
type MachineRecord struct {
	Machine string `json:"machine"`
	// Path is what the rollout gives it; Release the release that first
	// gave it (0: not yet published).
	Path    string `json:"path,omitempty"`
	Release int64  `json:"release,omitempty"`
	// State is waiting, published, deploying (its agent's state), running
	// (the release, healthy), ROLLED BACK, failed, stale (its agent does
	// not answer), reverted or not started.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Since is when the state last changed.
	Since time.Time `json:"since"`
}

// RecordFile is the record's name beside a manifest.
const RecordFile = "rollout.json"

// ReadRecord reads a record; nil, nil when there is none.
func ReadRecord(path string) (*Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return DecodeRecord(data)
}

// DecodeRecord reads a record's JSON.
func DecodeRecord(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("a rollout record: %w", err)
	}
	return &r, nil
}

// Recorder keeps a record up to date in a file: every change is written
// at once, atomically, by whoever makes it (waves and machines change from
// one goroutine at a time, but the lock makes no assumption).
type Recorder struct {
	mu    sync.Mutex
	rec   Record
	write func([]byte) error
	now   func() time.Time
	err   error
}

// NewRecorder starts a record of waves, written by write (e.g. an atomic
// file write) on every change.
func NewRecorder(waves []Wave, previous int64, write func([]byte) error, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	t := now().UTC()
	r := &Recorder{write: write, now: now, rec: Record{Kind: "pull", State: "running", Started: t, Updated: t, PreviousRelease: previous, Release: previous}}
	for _, w := range waves {
		wr := WaveRecord{Name: w.Name, State: "waiting", Soak: w.Soak.Seconds()}
		for _, m := range w.Machines {
			wr.Machines = append(wr.Machines, MachineRecord{Machine: m.Name, State: "waiting", Since: t})
		}
		r.rec.Waves = append(r.rec.Waves, wr)
	}
	return r
}

// Update changes the record and writes it.
func (r *Recorder) Update(change func(*Record)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.rec)
	r.rec.Updated = r.now().UTC()
	data, err := json.MarshalIndent(&r.rec, "", "  ")
	if err == nil {
		err = r.write(append(data, '\n'))
	}
	if err != nil && r.err == nil {
		r.err = err
	}
}

// Machine sets one machine's state (and, when not "", its release, path or
// error).
func (r *Recorder) Machine(name, state string, release int64, path, why string) {
	r.Update(func(rec *Record) {
		for i := range rec.Waves {
			for j := range rec.Waves[i].Machines {
				m := &rec.Waves[i].Machines[j]
				if m.Machine != name {
					continue
				}
				if m.State != state {
					m.State, m.Since = state, r.now().UTC()
				}
				if release > 0 {
					m.Release = release
				}
				if path != "" {
					m.Path = path
				}
				m.Error = why
			}
		}
	})
}

// Wave is a rollout.Progress: it records each wave's state.
func (r *Recorder) Wave(i int, w Wave, state string) {
	r.Update(func(rec *Record) {
		if i < len(rec.Waves) {
			rec.Waves[i].State = state
		}
	})
}

// Snapshot is the record as it stands.
func (r *Recorder) Snapshot() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.rec
	rec.Waves = append([]WaveRecord{}, rec.Waves...)
	for i := range rec.Waves {
		rec.Waves[i].Machines = append([]MachineRecord{}, rec.Waves[i].Machines...)
	}
	return rec
}

// Err is the first write that failed.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// End marks the record finished in state with a message.
func (r *Recorder) End(state, message string) {
	r.Update(func(rec *Record) {
		t := r.now().UTC()
		rec.State, rec.Message, rec.Ended = state, message, &t
	})
}

// RecordBeside is where a rollout's record lives beside a manifest (a
// path or a URL): rollout.json in a directory destination's folder
// (beside manifest.json), else the manifest's name with .rollout.json for
// its extension (fleet.json: fleet.rollout.json).
func RecordBeside(manifest string) string {
	i := strings.LastIndex(manifest, "/")
	dir, base := manifest[:i+1], manifest[i+1:]
	if base == "manifest.json" {
		return dir + RecordFile
	}
	return dir + strings.TrimSuffix(base, ".json") + ".rollout.json"
}

// PushRecordFile is where a push rollout of the fleet named fleet (its
// --flake, a directory made absolute or a flake reference) keeps its
// record: $XDG_STATE_HOME/nixherd/rollouts (default ~/.local/state), one
// file per fleet, named by a hash of fleet. The last push rollout of a
// fleet replaces the one before.
func PushRecordFile(fleet string) (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state directory for the rollout record: %w", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(fleet))
	return filepath.Join(dir, "nixherd", "rollouts", hex.EncodeToString(sum[:8])+".json"), nil
}

// NewPushRecorder starts the record of a push rollout of waves, kept in
// file (PushRecordFile): written atomically, readable by its owner alone
// (it names the fleet's machines and their errors).
func NewPushRecorder(waves []Wave, file string) (*Recorder, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("the rollout record: %w", err)
	}
	r := NewRecorder(waves, 0, func(data []byte) error { return atomicfile.Write(file, data, 0o600) }, nil)
	r.Update(func(rec *Record) { rec.Kind = "push" })
	return r, r.Err()
}

// Stage records, around a push rollout's stage, what happens to each
// machine: deploying while its wave deploys, then running (its new system,
// or already up to date), ROLLED BACK, failed or not started as its
// result says, and failed with the reason when it is unhealthy after the
// soak.
func (r *Recorder) Stage(s Stage) Stage { return recordedStage{s, r} }

type recordedStage struct {
	Stage
	r *Recorder
}

func (s recordedStage) Deploy(ctx context.Context, w Wave) (*report.Summary, error) {
	for _, name := range w.Names() {
		s.r.Machine(name, "deploying", 0, "", "")
	}
	sum, err := s.Stage.Deploy(ctx, w)
	if err != nil {
		for _, name := range w.Names() {
			s.r.Machine(name, "failed", 0, "", err.Error())
		}
		return sum, err
	}
	for _, m := range sum.Machines {
		state, why := "running", ""
		switch {
		case m.Outcome == report.RolledBack:
			state = "ROLLED BACK"
		case m.Outcome == report.NotStarted:
			state = "not started"
		case !m.OK():
			state = "failed"
		}
		if !m.OK() {
			why, _, _ = strings.Cut(m.Error, "\n")
			why = strings.TrimSpace(string(m.Outcome) + ": " + why)
		}
		s.r.Machine(m.Machine, state, 0, m.Path, why)
	}
	return sum, nil
}

func (s recordedStage) Healthy(ctx context.Context, w Wave) (map[string]string, error) {
	bad, err := s.Stage.Healthy(ctx, w)
	for name, why := range bad {
		s.r.Machine(name, "failed", 0, "", "unhealthy after the soak: "+why)
	}
	return bad, err
}

// Settle records what Run's result adds to what the record followed as it
// went: the halt, and the waves Run did not start, with their machines.
func (r *Recorder) Settle(res *Result) {
	r.Update(func(rec *Record) {
		rec.Halt = res.Halt
		for i, w := range res.Waves {
			if w.State != "not started" || i >= len(rec.Waves) {
				continue
			}
			rec.Waves[i].State = w.State
			for j := range rec.Waves[i].Machines {
				rec.Waves[i].Machines[j].State = w.State
			}
		}
	})
}

// Finish settles a push rollout's record (Settle) and ends it: done,
// halted or interrupted.
func (r *Recorder) Finish(res *Result, interrupted bool) {
	r.Settle(res)
	switch {
	case res.Halt != nil:
		r.End("halted", res.Halt.Error())
	case interrupted:
		r.End("interrupted", "interrupted: the waves not started were left alone")
	default:
		r.End("done", "every wave deployed and stayed healthy")
	}
}

// Latest is the record of the rollout started last of a and b (either may
// be nil): a fleet rolled out by push and by pull shows its latest.
func Latest(a, b *Record) *Record {
	if a == nil || b != nil && b.Started.After(a.Started) {
		return b
	}
	return a
}
