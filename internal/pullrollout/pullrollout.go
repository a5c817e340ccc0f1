// Package pullrollout is a staged rollout in pull mode (`nixherd rollout`):
// the machines are built once (internal/publish) and given the new systems
// wave by wave, each wave a release that names the new systems for its
// machines only, while the other machines keep their entries. A wave
// passes when every one of its agents reports, on its /status, the release
// running and in sync, and still does after the soak (internal/rollout
// runs the waves; Stage is its rollout.Stage). At most InFlight machines
// are published at once: a wave bigger than that goes out in slices.
//
// A wave halts the rollout when one of its machines rolls back (its agent
// tried the new system and the watchdog returned to the old one) or does
// not run the release healthy by the deadline (an agent that does not
// answer counts: it is shown stale). The rollout then publishes the halted
// wave's entries of the release it started from, so that its machines
// return to (or stay on) what they ran; later waves never get the change.
//
// The publisher's lock is held from start to end, so that two rollouts,
// or a rollout and a publish, never interleave; the rollout's progress is
// written beside the manifest (rollout.Record) for `nixherd dashboard`.
//
// Caveats: agents are only read, never told to poll, so a wave takes at
// least an agent's poll interval; an interrupted rollout is not reverted
// (the release it published last stays, and the command says which); a
// rollout run again starts from the release it finds, so a halted wave is
// reverted to that release's entries.
package pullrollout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
)

// DefaultDeadline is how long a wave's machines have to run their release
// healthy when deploy.nix and the command line say nothing: a few of an
// agent's default poll intervals, plus its confirm timeout.
const DefaultDeadline = 15 * time.Minute

// Publisher writes releases (publish.Destination).
type Publisher interface {
	Write(set map[string]*release.Machine, revision string, dirty bool) (*publish.Result, error)
}

// Reader reads a machine's agent's /status.
type Reader func(ctx context.Context, m hosts.Machine) (agent.Status, error)

// Stage is a pull rollout's rollout.Stage: a wave is published (in slices
// of at most InFlight machines) and waited for through its agents.
type Stage struct {
	Publisher Publisher
	Read      Reader
	// New is each machine's entry of the rollout's release.
	New map[string]*release.Machine
	// Revision and Dirty are the fleet's, for the releases written.
	Revision string
	Dirty    bool
	// InFlight bounds the machines published at once (0: a whole wave).
	InFlight int
	// Deadline is how long a published slice has to run its release.
	Deadline time.Duration
	// Poll is the pause between reads of the agents (default 1s).
	Poll time.Duration
	// Record, when set, hears each machine's progress.
	Record *rollout.Recorder
	Now    func() time.Time

	mu sync.Mutex
	// published is the newest release written; given is the release that
	// gave each machine its new entry.
	published int64
	given     map[string]int64
}

// Published is the newest release the stage wrote (0: none).
func (s *Stage) Published() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.published
}

func (s *Stage) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// write publishes set and notes the release.
func (s *Stage) write(set map[string]*release.Machine) (int64, error) {
	res, err := s.Publisher.Write(set, s.Revision, s.Dirty)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.published = max(s.published, res.Release)
	s.mu.Unlock()
	if s.Record != nil {
		s.Record.Update(func(r *rollout.Record) { r.Release = max(r.Release, res.Release) })
	}
	return res.Release, nil
}

// Deploy publishes the wave, a slice of at most InFlight machines at a
// time, and waits until each slice runs its release or one of its
// machines fails; the machines of slices not published then are "not
// started".
func (s *Stage) Deploy(ctx context.Context, w rollout.Wave) (*report.Summary, error) {
	start := s.now()
	var out []report.Result
	failed := ""
	for _, slice := range chunk(w.Machines, s.InFlight) {
		if failed != "" || ctx.Err() != nil {
			why := "not published: the rollout was interrupted"
			if failed != "" {
				why = "not published: " + failed + " failed first"
			}
			for _, m := range slice {
				out = append(out, report.Result{Machine: m.Name, Target: m.Target, Outcome: report.NotStarted, Error: why})
				s.record(m.Name, string(report.NotStarted), 0, "", why)
			}
			continue
		}
		set := map[string]*release.Machine{}
		for _, m := range slice {
			set[m.Name] = s.New[m.Name]
		}
		n, err := s.write(set)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.given == nil {
			s.given = map[string]int64{}
		}
		for _, m := range slice {
			s.given[m.Name] = n
		}
		s.mu.Unlock()
		for _, m := range slice {
			s.record(m.Name, "published", n, s.New[m.Name].Path, "")
		}
		rs := s.await(ctx, slice, n, s.New)
		for _, r := range rs {
			if !r.OK() && failed == "" {
				failed = r.Machine
			}
		}
		out = append(out, rs...)
	}
	return report.NewSummary(out, s.now().Sub(start).Seconds()), nil
}

// Healthy reads the wave's agents again after the soak: each must still
// run its release, in sync, with no rollback since.
func (s *Stage) Healthy(ctx context.Context, w rollout.Wave) (map[string]string, error) {
	bad := map[string]string{}
	var mu sync.Mutex
	s.each(ctx, w.Machines, func(m hosts.Machine, st agent.Status, err error) {
		s.mu.Lock()
		n := s.given[m.Name]
		s.mu.Unlock()
		v := judge(st, err, s.New[m.Name], n)
		if v.outcome != report.Switched {
			mu.Lock()
			bad[m.Name] = v.why
			mu.Unlock()
			s.record(m.Name, v.state, 0, "", v.why)
		}
	})
	return bad, ctx.Err()
}

// Revert publishes the entries old gives the wave's machines (nil: the
// machine leaves the release), and waits, until the deadline, for them to
// run those again. It returns the release written and each machine's
// outcome.
func (s *Stage) Revert(ctx context.Context, w rollout.Wave, old map[string]*release.Machine) (int64, []report.Result, error) {
	set := map[string]*release.Machine{}
	var back []hosts.Machine
	for _, m := range w.Machines {
		set[m.Name] = old[m.Name]
		if old[m.Name] != nil {
			back = append(back, m)
		}
	}
	n, err := s.write(set)
	if err != nil {
		return 0, nil, err
	}
	for _, m := range w.Machines {
		path := ""
		if e := old[m.Name]; e != nil {
			path = e.Path
		}
		s.record(m.Name, "reverting", n, path, "")
	}
	rs := s.await(ctx, back, n, old)
	for _, r := range rs {
		state, why := "reverted", ""
		switch {
		case r.Outcome == report.Unreachable:
			state, why = stale, r.Error
		case !r.OK():
			state, why = "not reverted", r.Error
		}
		s.record(r.Machine, state, 0, "", why)
	}
	return n, rs, nil
}

// await polls the machines' agents until each runs its entry of want
// (from release n on), rolled back, or the deadline passed.
func (s *Stage) await(ctx context.Context, machines []hosts.Machine, n int64, want map[string]*release.Machine) []report.Result {
	start := s.now()
	deadline := start.Add(s.deadline())
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	results := map[string]report.Result{}
	last := map[string]verdict{}
	silentSince := map[string]time.Time{}
	var mu sync.Mutex
	pending := machines
	for len(pending) > 0 {
		s.each(ctx, pending, func(m hosts.Machine, st agent.Status, err error) {
			v := judge(st, err, want[m.Name], n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if _, ok := silentSince[m.Name]; !ok {
					silentSince[m.Name] = s.now()
				}
				v.why = fmt.Sprintf("no answer from its agent since %s: %v", silentSince[m.Name].UTC().Format(time.RFC3339), err)
			} else {
				delete(silentSince, m.Name)
			}
			if v.outcome != "" {
				results[m.Name] = report.Result{Machine: m.Name, Target: m.Target, Outcome: v.outcome, Path: want[m.Name].Path, Error: v.why,
					Seconds: s.now().Sub(start).Seconds()}
			}
			if last[m.Name] != v {
				last[m.Name] = v
				s.record(m.Name, v.state, 0, "", v.why)
			}
		})
		var still []hosts.Machine
		for _, m := range pending {
			if _, ok := results[m.Name]; !ok {
				still = append(still, m)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		late := !s.now().Before(deadline)
		if ctx.Err() != nil || late {
			for _, m := range pending {
				v := last[m.Name]
				r := report.Result{Machine: m.Name, Target: m.Target, Outcome: report.Failed, Path: want[m.Name].Path, Seconds: s.now().Sub(start).Seconds()}
				switch {
				case ctx.Err() != nil:
					r.Error = fmt.Sprintf("interrupted while its agent deployed release %d", n)
				case v.state == stale:
					r.Outcome = report.Unreachable
					r.Error = fmt.Sprintf("not running release %d after %s: %s", n, s.deadline(), v.why)
				default:
					r.Error = fmt.Sprintf("not running release %d healthy after %s: %s", n, s.deadline(), v.why)
				}
				results[m.Name] = r
				if ctx.Err() == nil {
					state := "failed"
					if v.state == stale {
						state = stale
					}
					s.record(m.Name, state, 0, "", r.Error)
				}
			}
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(poll, time.Until(deadline)+time.Millisecond)):
		}
	}
	out := make([]report.Result, 0, len(machines))
	for _, m := range machines {
		out = append(out, results[m.Name])
	}
	return out
}

func (s *Stage) deadline() time.Duration {
	if s.Deadline > 0 {
		return s.Deadline
	}
	return DefaultDeadline
}

// each reads the machines' agents at once and hands each answer to f.
func (s *Stage) each(ctx context.Context, machines []hosts.Machine, f func(hosts.Machine, agent.Status, error)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, m := range machines {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, err := s.Read(ctx, m)
			f(m, st, err)
		}()
	}
	wg.Wait()
}

func (s *Stage) record(machine, state string, n int64, path, why string) {
	if s.Record != nil {
		s.Record.Machine(machine, state, n, path, firstLine(why))
	}
}

// stale is the state of a machine whose agent does not answer.
const stale = "stale"

// verdict is what an agent's status says of a machine's release: an
// outcome once it is decided ("" while pending), the state to show, and why.
type verdict struct {
	outcome report.Outcome
	state   string
	why     string
}

// judge reads an agent's status against the entry the machine should run
// from release n on. The machine runs it when the agent has seen release n
// (or a later one) and runs and boots the entry's path; it failed when
// that path rolled back there (the agent will not try it again); anything
// else is still on its way, or stuck, which only the deadline tells.
func judge(st agent.Status, err error, want *release.Machine, n int64) verdict {
	if want == nil {
		return verdict{outcome: report.Switched, state: "removed"}
	}
	if err != nil {
		return verdict{state: stale, why: err.Error()}
	}
	if st.DesiredRelease >= n && st.Desired == want.Path && st.Running == want.Path && st.InSync {
		return verdict{outcome: report.Switched, state: "running"}
	}
	if d, ok := lastFailed(st, want.Path); ok && (d.Release >= n || st.Rejected == want.Path) {
		why := fmt.Sprintf("release %d %s at %s: %s", d.Release, strings.ToLower(string(d.Outcome)), d.Stage, firstLine(d.Error))
		if d.Outcome == report.RolledBack {
			return verdict{outcome: report.RolledBack, state: string(report.RolledBack), why: why}
		}
	}
	if st.Rejected == want.Path {
		return verdict{outcome: report.RolledBack, state: string(report.RolledBack), why: "this system rolled back there before; its agent does not try it again"}
	}
	why := "its agent is " + st.State
	switch {
	case st.DesiredRelease < n:
		why = fmt.Sprintf("its agent has not fetched release %d yet (it has %d)", n, st.DesiredRelease)
	case st.Failing && st.LastFailure != nil:
		why = fmt.Sprintf("failing at %s: %s", st.LastFailure.Stage, firstLine(st.LastFailure.Error))
	}
	state := "deploying"
	if st.State != "" && st.State != agent.StateIdle {
		state = st.State
	}
	return verdict{state: state, why: why}
}

// lastFailed is the newest deployment of path in the agent's history that
// did not switch.
func lastFailed(st agent.Status, path string) (agent.Deployment, bool) {
	for i := len(st.History) - 1; i >= 0; i-- {
		d := st.History[i]
		if d.Path != path {
			continue
		}
		if d.Outcome == report.Switched {
			return agent.Deployment{}, false
		}
		return d, true
	}
	return agent.Deployment{}, false
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}

// chunk cuts machines into slices of at most n (n <= 0: one slice).
func chunk(machines []hosts.Machine, n int) [][]hosts.Machine {
	if n <= 0 || n >= len(machines) {
		return [][]hosts.Machine{machines}
	}
	return slices.Collect(slices.Chunk(machines, n))
}

var _ rollout.Stage = (*Stage)(nil)
