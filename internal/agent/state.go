package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nixherd/nixherd/internal/atomicfile"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/report"
)

// Stage is where a poll failed, in the order a poll goes through them.
type Stage string

const (
	StageFetch    Stage = "fetch"    // the manifest could not be fetched
	StageVerify   Stage = "verify"   // its signature, format, release number or this machine's entry
	StageRealise  Stage = "realise"  // the system could not be substituted from the cache
	StageActivate Stage = "activate" // the lock, the guard, or the activation itself
	StageHealth   Stage = "health"   // a health check failed after the activation
	StageConfirm  Stage = "confirm"  // the manifest was out of reach after the activation, or no confirmation in time
)

// Stages lists the stages in order.
var Stages = []Stage{StageFetch, StageVerify, StageRealise, StageActivate, StageHealth, StageConfirm}

// Failure is a poll that did not end with the machine on its release.
type Failure struct {
	Stage   Stage     `json:"stage"`
	Error   string    `json:"error"`
	Release int64     `json:"release,omitempty"`
	Path    string    `json:"path,omitempty"`
	Time    time.Time `json:"time"`
}

// Deployment is one attempt to switch the machine to a release: an entry
// of the agent's history, in deploy's vocabulary (machine, path,
// generation, seconds).
type Deployment struct {
	Release int64          `json:"release"`
	Machine string         `json:"machine"`
	Path    string         `json:"path"`
	Outcome report.Outcome `json:"outcome"`
	// Stage is where it failed ("" when it succeeded).
	Stage              Stage     `json:"stage,omitempty"`
	Error              string    `json:"error,omitempty"`
	Generation         int       `json:"generation,omitempty"`
	PreviousGeneration int       `json:"previousGeneration,omitempty"`
	Started            time.Time `json:"started"`
	Seconds            float64   `json:"seconds"`
	// Resumed is true when the agent was restarted during the activation
	// and finished it from the watchdog's state.
	Resumed bool `json:"resumed,omitempty"`
}

// historySize is how many deployments the state keeps.
const historySize = 20

// state is what the agent remembers across restarts (StateDir/state.json).
type state struct {
	// Applied is the newest release the machine was brought to (or found
	// on): no lower release is accepted after it.
	Applied     int64  `json:"appliedRelease"`
	AppliedPath string `json:"appliedPath,omitempty"`
	// Rejected is a path that rolled back here: it is not tried again
	// until a release names another path for this machine.
	Rejected    string       `json:"rejectedPath,omitempty"`
	LastSuccess time.Time    `json:"lastSuccess,omitempty"`
	LastFailure *Failure     `json:"lastFailure,omitempty"`
	Rollbacks   int64        `json:"rollbacks"`
	History     []Deployment `json:"history"`
}

func (s *state) remember(d Deployment) {
	s.History = append(s.History, d)
	if n := len(s.History); n > historySize {
		s.History = append([]Deployment{}, s.History[n-historySize:]...)
	}
}

// inflight is a deployment under way (StateDir/inflight.json), written
// before each step that changes the machine, so that an agent restarted
// meanwhile knows what it was doing: retry a realise, or follow the
// watchdog of an activation to its end.
type inflight struct {
	Release      int64               `json:"release"`
	Path         string              `json:"path"`
	Platform     platform.Platform   `json:"platform"`
	HealthChecks []hosts.HealthCheck `json:"healthChecks,omitempty"`
	Stage        Stage               `json:"stage"`
	// WatchID names the watchdog run of the activation.
	WatchID string    `json:"watchID,omitempty"`
	Started time.Time `json:"started"`
}

const (
	stateFile    = "state.json"
	inflightFile = "inflight.json"
)

func readJSON(dir, name string, v any) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return true, nil
}

func writeJSON(dir, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name), append(data, '\n'), 0o600)
}

func loadState(dir string) (*state, error) {
	s := &state{}
	if _, err := readJSON(dir, stateFile, s); err != nil {
		return nil, err
	}
	return s, nil
}

func loadInflight(dir string) (*inflight, error) {
	in := &inflight{}
	ok, err := readJSON(dir, inflightFile, in)
	if err != nil || !ok {
		return nil, err
	}
	return in, nil
}

func clearInflight(dir string) error {
	err := os.Remove(filepath.Join(dir, inflightFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
