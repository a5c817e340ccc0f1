package dashboard

import (
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
)

// view is what the page shows: the report turned into words and classes.
type view struct {
	Refresh  int
	Read     string
	Counts   []count
	Problems []string
	Release  string
	Rollout  *rolloutView
	Rows     []row
}

type count struct {
	Label, Class string
	N            int
}

// row is one machine.
type row struct {
	Name, Mode, Target string
	State, Class       string
	Since, SinceFull   string
	Running, Desired   string
	RunningFull        string
	DesiredFull        string
	Release            string
	Last, LastClass    string
	LastWhen, Error    string
	Notes              []note
}

type note struct{ Text, Class string }

type rolloutView struct {
	State, Class, Message, Releases, Updated string
	Waves                                    []waveView
}

type waveView struct {
	Name, State, Class string
	Machines           []chip
}

type chip struct{ Name, State, Class, Error string }

var funcs = template.FuncMap{}

func (s *Server) view() view {
	r := s.Report()
	now := s.o.Now()
	v := view{Refresh: int(s.o.PullEvery.Round(time.Second) / time.Second)}
	if v.Refresh < 1 {
		v.Refresh = 1
	}
	if !r.Time.IsZero() {
		v.Read = fmt.Sprintf("read %s (agents every %s, ssh every %s)", ago(now, r.Time), s.o.PullEvery, s.o.PushEvery)
	}
	s.mu.Lock()
	for _, k := range sortedKeys(s.problems) {
		v.Problems = append(v.Problems, firstLine(s.problems[k]))
	}
	s.mu.Unlock()
	byName := map[string]status.Machine{}
	for _, m := range r.Machines {
		byName[m.Name] = m
	}
	tally := map[string]int{}
	for _, hm := range s.machinesSorted() {
		m, ok := byName[hm.Name]
		if !ok {
			mode := status.ModePush
			if hm.Pull != nil {
				mode = status.ModePull
			}
			v.Rows = append(v.Rows, row{Name: hm.Name, Mode: mode, Target: hm.Target, State: "not read yet", Class: "idle"})
			tally["idle"]++
			continue
		}
		rw := machineRow(m, r.Release, now)
		tally[rw.Class]++
		v.Rows = append(v.Rows, rw)
	}
	for _, c := range []count{{Label: "in sync", Class: "ok"}, {Label: "not in sync", Class: "warn"}, {Label: "failing or unreachable", Class: "bad"}, {Label: "not read yet", Class: "idle"}} {
		if c.N = tally[c.Class]; c.N > 0 || c.Class == "ok" {
			v.Counts = append(v.Counts, c)
		}
	}
	if rel := r.Release; rel != nil {
		v.Release = fmt.Sprintf("release %d published %s", rel.Number, ago(now, rel.Time))
		if rel.Revision != "" {
			v.Release += " from " + short(rel.Revision, 12)
		}
	}
	if rec := r.Rollout; rec != nil {
		v.Rollout = rolloutOf(rec, now)
	}
	return v
}

func machineRow(m status.Machine, rel *status.Release, now time.Time) row {
	rw := row{Name: m.Name, Mode: m.Mode, Target: m.Target, State: m.State(), Class: classOf(m),
		Running: dash(status.ShortPath(m.Running)), Desired: dash(status.ShortPath(m.Desired)),
		RunningFull: m.Running, DesiredFull: m.Desired, Release: "-", Since: "-"}
	if m.Stale && m.Reachable {
		rw.State += ", stale"
	}
	if m.Since != nil {
		rw.Since, rw.SinceFull = ago(now, *m.Since), m.Since.Local().Format(time.DateTime)
		if m.InSync {
			rw.Since = "in sync since " + rw.Since
		} else {
			rw.Since = "runs this since " + rw.Since
		}
	}
	if a := m.Agent; a != nil {
		rw.Release = fmt.Sprintf("%d", a.AppliedRelease)
		if a.DesiredRelease != a.AppliedRelease {
			rw.Release = fmt.Sprintf("%d, wants %d", a.AppliedRelease, a.DesiredRelease)
		}
	}
	if rel != nil && m.Mode == status.ModePull {
		if p, ok := rel.Machines[m.Name]; ok && p != m.Running {
			rw.Notes = append(rw.Notes, note{"its release names " + status.ShortPath(p), "warn"})
		}
	}
	if d := m.LastDeploy; d != nil {
		rw.Last, rw.LastClass = d.Outcome, "ok"
		if d.Outcome != string(report.Switched) {
			rw.LastClass = "bad"
			if d.Outcome == "in progress" {
				rw.LastClass = "warn"
			}
		}
		if d.Stage != "" {
			rw.Last += " at " + d.Stage
		}
		if d.Release > 0 {
			rw.Last += fmt.Sprintf(" (release %d)", d.Release)
		}
		if !d.Time.IsZero() {
			rw.LastWhen = ago(now, d.Time)
		}
		rw.Error = d.Error
	}
	if m.Error != "" {
		rw.Notes = append(rw.Notes, note{firstLine(m.Error), "bad"})
	}
	if m.NeedsReboot {
		rw.Notes = append(rw.Notes, note{"needs a reboot", "warn"})
	}
	if m.Stale {
		text := "stale: its agent does not answer"
		if m.Reachable && m.LastSeen != nil {
			text = "stale: last poll " + ago(now, *m.LastSeen)
		}
		rw.Notes = append(rw.Notes, note{text, "bad"})
	}
	return rw
}

// classOf sorts a machine into ok, warn (on its way, drifted) and bad.
func classOf(m status.Machine) string {
	switch {
	case !m.Reachable || m.Error != "" || m.Stale:
		return "bad"
	case m.InSync:
		return "ok"
	case m.Agent != nil && m.Agent.Failing:
		return "bad"
	}
	return "warn"
}

func rolloutOf(rec *rollout.Record, now time.Time) *rolloutView {
	rv := &rolloutView{State: rec.State, Class: stateClass(rec.State), Message: rec.Message,
		Releases: fmt.Sprintf("release %d → %d", rec.PreviousRelease, rec.Release), Updated: ago(now, rec.Updated)}
	if rec.Kind == "push" {
		rv.Releases = "push deploy in waves"
	}
	if rec.State == "running" {
		rv.Message = fmt.Sprintf("started %s", ago(now, rec.Started))
	}
	if rec.Halt != nil && rv.Message == "" {
		rv.Message = fmt.Sprintf("halted in wave %s: %s: %s", rec.Halt.Wave, rec.Halt.Machine, rec.Halt.Reason)
	}
	for _, w := range rec.Waves {
		wv := waveView{Name: w.Name, State: w.State, Class: stateClass(w.State)}
		for _, m := range w.Machines {
			wv.Machines = append(wv.Machines, chip{Name: m.Machine, State: m.State, Class: stateClass(m.State), Error: m.Error})
		}
		rv.Waves = append(rv.Waves, wv)
	}
	return rv
}

// stateClass colours the states of a rollout, its waves and machines.
func stateClass(state string) string {
	switch state {
	case "done", "running", "reverted", "removed":
		return "ok"
	case "halted", "failed", "ROLLED BACK", "stale", "not reverted", "revert incomplete", "interrupted":
		return "bad"
	case "waiting", "not started":
		return "idle"
	}
	return "warn"
}

// ago says how long ago t was, in the largest unit that fits.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
