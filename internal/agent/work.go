package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
)

// job is what a poll starts from: a copy of the state it needs, so that
// the worker shares nothing with the manager.
type job struct {
	applied  int64
	rejected string
}

func (a *Agent) job() job { return job{applied: a.st.Applied, rejected: a.st.Rejected} }

// result is what a poll found and did.
type result struct {
	polled     time.Time
	fetched    bool
	fetchError bool
	manifest   *release.Manifest
	desired    string
	machine    *MachineState
	// inSync: the machine ended on the release's path.
	inSync bool
	// deployment is set when the poll tried to switch the machine.
	deployment *Deployment
	failure    *Failure
	// skipped: the release's path rolled back here before.
	skipped bool
}

// ErrReplay is a manifest whose release is lower than the one applied.
var ErrReplay = errors.New("refusing an older release than the one applied (a replayed manifest?)")

// stage tells the manager where the worker is (dropped when it is busy).
func (a *Agent) stage(s Stage) {
	select {
	case a.progress <- s:
	default:
	}
}

// work runs one poll, or finishes the deployment a killed agent left.
func (a *Agent) work(ctx context.Context, j job) (r result) {
	defer func() { r.polled = a.cfg.Now() }()
	if in, err := loadInflight(a.cfg.StateDir); err != nil || in != nil {
		if err != nil {
			// An unreadable record: nothing to follow, start afresh.
			clearInflight(a.cfg.StateDir)
			return a.fail(r, StageActivate, 0, "", fmt.Errorf("the in-flight record: %w", err))
		}
		return a.resume(ctx, in)
	}

	a.stage(StageFetch)
	data, err := fetch(ctx, a.cfg.ManifestURL)
	if err != nil {
		r.fetchError = true
		return a.fail(r, StageFetch, 0, "", fmt.Errorf("fetching the manifest: %w", err))
	}
	r.fetched = true
	a.stage(StageVerify)
	m, err := release.Verify(data, a.cfg.Keys)
	if err != nil {
		return a.fail(r, StageVerify, 0, "", err)
	}
	if m.Release < j.applied {
		return a.fail(r, StageVerify, m.Release, "", fmt.Errorf("release %d: %w (release %d)", m.Release, ErrReplay, j.applied))
	}
	r.manifest = m
	entry, ok := m.Machines[a.cfg.Machine]
	if !ok {
		return a.fail(r, StageVerify, m.Release, "", fmt.Errorf("release %d has no machine %q (it has %s)", m.Release, a.cfg.Machine, strings.Join(m.Names(), ", ")))
	}
	if entry.Platform != a.cfg.Platform {
		return a.fail(r, StageVerify, m.Release, entry.Path, fmt.Errorf("release %d gives machine %s a %s system; this is a %s machine", m.Release, a.cfg.Machine, entry.Platform, a.cfg.Platform))
	}
	r.desired = entry.Path

	st, err := a.cfg.System.State(ctx, a.cfg.Platform)
	if err != nil {
		return a.fail(r, StageActivate, m.Release, entry.Path, fmt.Errorf("reading what runs: %w", err))
	}
	r.machine = &st
	if st.Generation.Path == entry.Path && st.Running == entry.Path {
		r.inSync = true
		return r
	}
	if entry.Path == j.rejected {
		r.skipped = true
		return r
	}

	in := &inflight{Release: m.Release, Path: entry.Path, Platform: entry.Platform, HealthChecks: entry.HealthChecks,
		Stage: StageRealise, Started: a.cfg.Now().UTC()}
	if err := writeJSON(a.cfg.StateDir, inflightFile, in); err != nil {
		return a.fail(r, StageRealise, m.Release, entry.Path, err)
	}
	a.stage(StageRealise)
	if err := a.cfg.System.Realise(ctx, entry.Path); err != nil {
		clearInflight(a.cfg.StateDir)
		d := a.deployment(in, report.Result{Outcome: report.Failed}, StageRealise, err)
		r.deployment = &d
		return a.fail(r, StageRealise, m.Release, entry.Path, err)
	}
	// The watchdog's run is named before it starts: a restart from here on
	// follows it instead of starting another.
	in.Stage = StageActivate
	in.WatchID = strings.ReplaceAll(a.cfg.Now().UTC().Format("20060102T150405.000000000"), ".", "-") + fmt.Sprintf("-r%d", m.Release)
	if err := writeJSON(a.cfg.StateDir, inflightFile, in); err != nil {
		return a.fail(r, StageActivate, m.Release, entry.Path, err)
	}
	return a.activate(ctx, r, in, false)
}

// resume finishes the deployment of an in-flight record left by an agent
// that was stopped: a realise is started over at the next poll; an
// activation is followed through its watchdog run to its end.
func (a *Agent) resume(ctx context.Context, in *inflight) result {
	var r result
	if in.Stage != StageActivate || in.WatchID == "" {
		clearInflight(a.cfg.StateDir)
		err := errors.New("the agent stopped during the realise; the next poll starts over")
		d := a.deployment(in, report.Result{Outcome: report.Failed}, StageRealise, err)
		r.deployment = &d
		return a.fail(r, StageRealise, in.Release, in.Path, err)
	}
	r.desired = in.Path
	return a.activate(ctx, r, in, true)
}

// activate switches the machine to in.Path with magic rollback.
func (a *Agent) activate(ctx context.Context, r result, in *inflight, resume bool) result {
	a.stage(StageActivate)
	// The switch is not cut short when the agent is stopped (a new system
	// may restart the agent itself): the process ends, the watchdog goes
	// on, and the next start resumes it.
	actx := context.WithoutCancel(ctx)
	progress := report.To(a.cfg.Report, a.cfg.Machine)
	res, stage := a.cfg.System.Switch(actx, Switch{
		Machine:  hosts.Machine{Name: a.cfg.Machine, Target: "local", Platform: in.Platform, HealthChecks: in.HealthChecks},
		Platform: in.Platform, Path: in.Path, WatchID: in.WatchID, Resume: resume,
		Prove: func(ctx context.Context) error {
			data, err := fetch(ctx, a.cfg.ManifestURL)
			if err == nil {
				_, err = release.Verify(data, a.cfg.Keys)
			}
			return err
		},
		Report: func(p report.Phase, detail string) {
			if s, ok := phaseStages[p]; ok {
				a.stage(s)
			}
			progress(p, detail)
		},
	})
	clearInflight(a.cfg.StateDir)
	var err error
	if !res.OK() {
		err = res.Err
		if err == nil {
			err = errors.New(res.Error)
		}
	}
	d := a.deployment(in, res, stage, err)
	d.Resumed = resume
	r.deployment = &d
	if err != nil {
		return a.fail(r, stage, in.Release, in.Path, err)
	}
	if st, err := a.cfg.System.State(ctx, in.Platform); err == nil {
		r.machine = &st
		r.inSync = st.Generation.Path == in.Path && st.Running == in.Path
	}
	return r
}

func (a *Agent) deployment(in *inflight, res report.Result, stage Stage, err error) Deployment {
	d := Deployment{Release: in.Release, Machine: a.cfg.Machine, Path: in.Path, Outcome: res.Outcome,
		Generation: res.Generation, PreviousGeneration: res.PreviousGeneration, Started: in.Started,
		Seconds: a.cfg.Now().Sub(in.Started).Seconds()}
	if err != nil {
		d.Stage, d.Error = stage, err.Error()
	}
	return d
}

func (a *Agent) fail(r result, s Stage, rel int64, path string, err error) result {
	r.failure = &Failure{Stage: s, Error: err.Error(), Release: rel, Path: path, Time: a.cfg.Now().UTC()}
	return r
}

// record folds a poll's result into the state, saves it and updates the
// metrics (manager goroutine only).
func (a *Agent) record(r result) {
	st := a.st
	polled := r.polled.UTC()
	a.cur.LastPoll = &polled
	a.cur.State = StateIdle
	a.m.deploying.Set(0)
	if r.fetched || r.fetchError {
		a.m.fetches.Inc()
	}
	if r.fetchError {
		a.m.fetchFailures.Inc()
		a.cur.ManifestFetchFailures++
	}
	if m := r.manifest; m != nil {
		a.cur.DesiredRelease, a.cur.Revision = m.Release, m.Revision
	}
	if r.desired != "" {
		a.cur.Desired = r.desired
	}
	if ms := r.machine; ms != nil {
		a.cur.Running, a.cur.NeedsReboot = ms.Running, ms.NeedsReboot
		if ms.Generation.Number > 0 {
			g := ms.Generation
			a.cur.Generation = &g
		}
	}
	if d := r.deployment; d != nil {
		st.remember(*d)
		a.m.deployments.WithLabelValues(string(d.Outcome)).Inc()
		a.m.duration.Observe(d.Seconds)
		if d.Outcome == report.RolledBack {
			st.Rollbacks++
			a.m.rollbacks.Inc()
			st.Rejected = d.Path
		}
	}
	a.cur.InSync = r.inSync
	switch {
	case r.failure != nil:
		st.LastFailure = r.failure
		a.m.failures.WithLabelValues(string(r.failure.Stage)).Inc()
		a.cur.Failing = true
	case r.skipped:
		a.cur.Failing = true
	case r.inSync:
		a.cur.Failing = false
		st.LastSuccess = polled
		if m := r.manifest; m != nil && m.Release > st.Applied {
			st.Applied = m.Release
		} else if d := r.deployment; d != nil && d.Release > st.Applied {
			st.Applied = d.Release
		}
		st.AppliedPath = a.cur.Desired
		if st.Rejected != a.cur.Desired {
			st.Rejected = ""
		}
	}
	if err := writeJSON(a.cfg.StateDir, stateFile, st); err != nil {
		a.cfg.Report.Event(report.Event{Machine: a.cfg.Machine, Phase: report.PhaseFailed, Detail: "saving the agent's state", Err: err, Time: a.cfg.Now()})
	}
	a.publish()
}

// phaseStages maps the switch's progress to the agent's stages.
var phaseStages = map[report.Phase]Stage{
	report.PhaseActivate: StageActivate,
	report.PhaseHealth:   StageHealth,
	report.PhaseConfirm:  StageConfirm,
}
