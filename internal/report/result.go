package report

import (
	"fmt"
	"slices"
	"time"
)

// Outcome is how the work on one machine ended.
type Outcome string

const (
	Switched     Outcome = "switched"      // new generation, running now
	Booted       Outcome = "booted"        // new generation, runs after a reboot
	Tested       Outcome = "tested"        // running now, no new generation
	DryActivated Outcome = "dry-activated" // nothing changed on the machine
	Built        Outcome = "built"         // closure built, host not contacted
	WouldCopy    Outcome = "dry-run"       // a dry run: what would be copied, nothing changed
	UpToDate     Outcome = "up to date"    // the machine already ran it: nothing to do
	// RolledBack is a machine that activated the new configuration and
	// returned to its previous one (the activation or a health check
	// failed, the confirmation did not arrive, the run was interrupted).
	RolledBack  Outcome = "ROLLED BACK"
	Failed      Outcome = "failed"
	Refused     Outcome = "refused" // another deploy holds the host's lock
	Unreachable Outcome = "unreachable"
	// NotStarted is a machine whose turn had not come when the run was
	// interrupted: nothing was done to it.
	NotStarted Outcome = "not started"

	// The rollback command's outcomes: the machine now runs the generation
	// asked for, older or newer than the one it ran, or already ran it.
	WentBack       Outcome = "rolled back"
	WentForward    Outcome = "rolled forward"
	AlreadyThere   Outcome = "unchanged"
	WouldGoBack    Outcome = "would roll back"
	WouldGoForward Outcome = "would roll forward"
)

// failures are the outcomes of a machine that did not end where the
// command meant it to.
var failures = []Outcome{Failed, Refused, Unreachable, RolledBack, NotStarted}

// OK reports whether the outcome is a success.
func (o Outcome) OK() bool { return !slices.Contains(failures, o) }

// Result is how the work on one machine ended: one row of a summary.
type Result struct {
	Machine  string  `json:"machine"`
	Target   string  `json:"target,omitempty"`
	Platform string  `json:"platform,omitempty"`
	Outcome  Outcome `json:"outcome"`
	// Path is the store path the machine was meant to run.
	Path string `json:"path,omitempty"`
	// Generation is the profile generation the machine ended on (0 when
	// unknown or none).
	Generation int `json:"generation,omitempty"`
	// PreviousGeneration is the generation before the run.
	PreviousGeneration int `json:"previousGeneration,omitempty"`
	// Copied counts what a deploy sent to the host (or, in a dry run, would
	// send; WouldCopy lists it); nil when the command copies nothing.
	Copied    *Copied  `json:"copied,omitempty"`
	WouldCopy []string `json:"wouldCopy,omitempty"`
	// Output is what a dry activation printed: what it would change.
	Output  string  `json:"output,omitempty"`
	Seconds float64 `json:"seconds"`
	// Phases is the time spent in each phase, in seconds (a deploy's:
	// where the time of a guarded switch goes).
	Phases map[Phase]float64 `json:"phases,omitempty"`
	Error  string            `json:"error,omitempty"`
	Err    error             `json:"-"`
}

// Phases times the phases a machine goes through: each lasts until the
// next one is entered.
type Phases struct {
	current Phase
	since   time.Time
	spent   map[Phase]float64
}

// Enter starts phase p at t (a repeated phase, such as a copy's progress,
// goes on).
func (ps *Phases) Enter(p Phase, t time.Time) {
	if p == ps.current {
		return
	}
	ps.close(t)
	ps.current, ps.since = p, t
	if p == PhaseDone || p == PhaseFailed {
		ps.current = "" // the end, not a phase that takes time
	}
}

func (ps *Phases) close(t time.Time) {
	if ps.current == "" {
		return
	}
	if ps.spent == nil {
		ps.spent = map[Phase]float64{}
	}
	ps.spent[ps.current] += t.Sub(ps.since).Seconds()
}

// Seconds ends the phase going on at t and returns the time of each.
func (ps *Phases) Seconds(t time.Time) map[Phase]float64 {
	ps.close(t)
	ps.current = ""
	return ps.spent
}

// Copied counts store paths sent to a host.
type Copied struct {
	Paths int   `json:"paths"`
	Bytes int64 `json:"bytes"`
}

// OK reports whether the machine ended where the command meant it to.
func (r Result) OK() bool { return r.Outcome.OK() }

// Summary is the outcome of a whole run.
type Summary struct {
	// Action is what a deploy did (switch, boot, …); "" for other commands.
	Action   string   `json:"action,omitempty"`
	Machines []Result `json:"machines"`
	// Evaluations counts the nix evaluations of the flake (1 for a deploy).
	Evaluations int `json:"evaluations,omitempty"`
	// SSHConnections counts the SSH master connections opened.
	SSHConnections int     `json:"sshConnections,omitempty"`
	Seconds        float64 `json:"seconds"`
	OK             bool    `json:"ok"`
}

// NewSummary sums up results; OK is true when every machine ended well.
func NewSummary(results []Result, seconds float64) *Summary {
	s := &Summary{Machines: results, Seconds: seconds, OK: true}
	if s.Machines == nil {
		s.Machines = []Result{}
	}
	for _, r := range results {
		s.OK = s.OK && r.OK()
	}
	return s
}

// Failed lists the machines that did not end well.
func (s *Summary) Failed() []string {
	var names []string
	for _, r := range s.Machines {
		if !r.OK() {
			names = append(names, r.Machine)
		}
	}
	return names
}

// Result returns the result of the named machine.
func (s *Summary) Result(machine string) (Result, bool) {
	for _, r := range s.Machines {
		if r.Machine == machine {
			return r, true
		}
	}
	return Result{}, false
}

// HumanBytes writes a size the way people read it.
func HumanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
