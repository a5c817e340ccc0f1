// Package report is the vocabulary every command that works on machines
// shares: the events of the work as it happens (Phase, Event, Reporter),
// how each machine ended (Outcome, Result) and the run's summary. deploy,
// switch, rollback (and the agent, gc and exec) report in these terms;
// internal/ui draws them. JSON keys are one vocabulary across commands:
// machine, path, generation, seconds.
package report

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Phase is a stage of the work on a machine, as reported to the user.
type Phase string

const (
	PhaseEval     Phase = "eval"     // evaluating the selected machines (Machine "")
	PhaseBuild    Phase = "build"    // building their closures (Machine "" when local)
	PhasePush     Phase = "push"     // pushing closures to a cache (Machine "")
	PhaseConnect  Phase = "connect"  // opening the host's connection
	PhaseLock     Phase = "lock"     // taking the host's deploy lock
	PhaseCopy     Phase = "copy"     // copying missing store paths (Detail says how many)
	PhaseRealise  Phase = "realise"  // building or substituting on the host
	PhaseGuard    Phase = "guard"    // checking the closure is a system of the right kind
	PhaseProfile  Phase = "profile"  // setting the profile (new generation)
	PhaseActivate Phase = "activate" // running the activation
	PhaseHealth   Phase = "health"   // a guarded switch's health checks
	PhaseConfirm  Phase = "confirm"  // a guarded switch's confirmation
	PhaseRollback Phase = "rollback" // returning to the previous generation
	PhaseDone     Phase = "done"     // finished successfully (Detail: the outcome)
	PhaseFailed   Phase = "failed"   // finished with an error (Err set)
)

// Event is one step of the work on one machine. Machine is "" for steps
// that concern the whole run (eval, build, push).
type Event struct {
	Machine string
	Phase   Phase
	Detail  string
	Time    time.Time
	Err     error
}

// Final reports whether the event is the machine's last.
func (e Event) Final() bool { return e.Phase == PhaseDone || e.Phase == PhaseFailed }

// Reporter receives events as they happen, from many goroutines at once.
// internal/ui's views implement it.
type Reporter interface {
	Event(Event)
}

// Func adapts a function to Reporter.
type Func func(Event)

func (f Func) Event(e Event) { f(e) }

// Discard is the reporter of a caller that wants no progress.
var Discard Reporter = Func(func(Event) {})

// To returns a function that reports events of one machine to r.
func To(r Reporter, machine string) func(Phase, string) {
	return func(p Phase, detail string) {
		r.Event(Event{Machine: machine, Phase: p, Detail: detail, Time: time.Now()})
	}
}

// Lines writes one timestamped line per event, for logs of tests and tools.
type Lines struct {
	mu sync.Mutex
	W  io.Writer
}

func (l *Lines) Event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	who := e.Machine
	if who == "" {
		who = "*"
	}
	line := fmt.Sprintf("%s %-10s %-8s %s", e.Time.Format("15:04:05"), who, e.Phase, e.Detail)
	if e.Err != nil {
		line += " " + e.Err.Error()
	}
	fmt.Fprintln(l.W, line)
}
