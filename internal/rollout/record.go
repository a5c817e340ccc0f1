package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Record is a rollout's progress as it goes, written (atomically) where
// others can watch it: a pull rollout keeps it beside its release manifest
// (RecordFile), where `nixherd dashboard` and `nixherd status --release`
// read it. It is a report, not a lock: an interrupted or killed rollout's
// record says what it last knew.
type Record struct {
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
	r := &Recorder{write: write, now: now, rec: Record{State: "running", Started: t, Updated: t, PreviousRelease: previous, Release: previous}}
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
