package agent

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nixherd/nixherd/internal/target"
)

// What the agent is doing (Status.State).
const (
	StateIdle       = "idle"
	StateFetching   = "fetching"
	StateRealising  = "realising"
	StateActivating = "activating"
)

// Status is what an agent serves on /status, in the vocabulary of
// `nixherd status --json` (machine, path, generation, running, desired,
// inSync, seconds). `nixherd status` reads it for pulled machines.
type Status struct {
	Machine  string `json:"machine"`
	Platform string `json:"platform,omitempty"`
	Version  string `json:"version"`
	// Time is the agent's clock when it answered; Started when it started.
	Time    time.Time `json:"time"`
	Started time.Time `json:"started"`
	// State is what it does now: idle, fetching, realising or activating.
	State    string `json:"state"`
	Manifest string `json:"manifest"`
	// AppliedRelease is the newest release the machine was brought to or
	// found on; DesiredRelease the last verified manifest's number.
	AppliedRelease int64  `json:"appliedRelease"`
	DesiredRelease int64  `json:"desiredRelease"`
	Revision       string `json:"revision,omitempty"`
	// Running is the system active now; Desired the path the release names
	// for this machine; InSync says the machine runs it (and boots it).
	Running     string             `json:"running,omitempty"`
	Desired     string             `json:"desired,omitempty"`
	InSync      bool               `json:"inSync"`
	Generation  *target.Generation `json:"generation,omitempty"`
	NeedsReboot bool               `json:"needsReboot"`
	// Failing is true when the last poll failed (LastFailure says how).
	Failing     bool       `json:"failing"`
	LastPoll    *time.Time `json:"lastPoll,omitempty"`
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	LastFailure *Failure   `json:"lastFailure,omitempty"`
	// Rejected is a path that rolled back here and is not retried until a
	// release names another.
	Rejected              string       `json:"rejected,omitempty"`
	Rollbacks             int64        `json:"rollbacks"`
	ManifestFetchFailures int64        `json:"manifestFetchFailures"`
	History               []Deployment `json:"history"`
}

// snapshot is the status now (manager goroutine only).
func (a *Agent) snapshot() Status {
	s := a.cur
	s.Time, s.Started = a.cfg.Now().UTC(), a.started.UTC()
	s.AppliedRelease = a.st.Applied
	s.Rollbacks = a.st.Rollbacks
	s.Rejected = a.st.Rejected
	s.LastFailure = a.st.LastFailure
	if !a.st.LastSuccess.IsZero() {
		t := a.st.LastSuccess
		s.LastSuccess = &t
	}
	s.History = append([]Deployment{}, a.st.History...)
	return s
}

// publish brings the metrics up to date with the state (manager only).
func (a *Agent) publish() {
	a.m.releaseApplied.Set(float64(a.st.Applied))
	a.m.releaseDesired.Set(float64(a.cur.DesiredRelease))
	boolGauge(a.m.inSync, a.cur.InSync)
	boolGauge(a.m.needsReboot, a.cur.NeedsReboot)
	if !a.st.LastSuccess.IsZero() {
		a.m.lastSuccess.Set(float64(a.st.LastSuccess.Unix()))
	}
	a.m.lastFailureAt.Reset()
	if f := a.st.LastFailure; f != nil {
		a.m.lastFailure.Set(float64(f.Time.Unix()))
		a.m.lastFailureAt.WithLabelValues(string(f.Stage)).Set(1)
	}
	if a.cur.LastPoll != nil {
		a.m.lastPoll.Set(float64(a.cur.LastPoll.Unix()))
	}
}

// Handler serves /status and /metrics, read-only.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(a.Status())
	})
	return mux
}
