package deploy

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Phase is a stage of the pipeline, as reported to the user.
type Phase string

const (
	PhaseEval     Phase = "eval"     // evaluating the selected machines (Host "")
	PhaseBuild    Phase = "build"    // building their closures (Host "" when local)
	PhasePush     Phase = "push"     // pushing closures to the --cache store (Host "")
	PhaseConnect  Phase = "connect"  // opening the master connection
	PhaseLock     Phase = "lock"     // taking the host's deploy lock
	PhaseCopy     Phase = "copy"     // copying missing store paths (Detail says how many)
	PhaseRealise  Phase = "realise"  // building or substituting on the host
	PhaseGuard    Phase = "guard"    // checking the closure is a system of the right kind
	PhaseProfile  Phase = "profile"  // setting the profile (new generation)
	PhaseActivate Phase = "activate" // running the activation
	PhaseDone     Phase = "done"     // finished successfully (Detail: the outcome)
	PhaseFailed   Phase = "failed"   // finished with an error (Err set)
)

// Event is one step of one host's deploy. Host is "" for steps that concern
// the whole run (eval, build, push).
type Event struct {
	Host   string
	Phase  Phase
	Detail string
	Time   time.Time
	Err    error
}

// Reporter receives events as they happen, from many goroutines at once.
// internal/ui implements the live view; Lines writes plain lines.
type Reporter interface {
	Event(Event)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Event)

func (f ReporterFunc) Event(e Event) { f(e) }

// Lines writes one timestamped line per event: the output for CI logs and
// pipes.
type Lines struct {
	mu sync.Mutex
	W  io.Writer
}

func (l *Lines) Event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	host := e.Host
	if host == "" {
		host = "*"
	}
	line := fmt.Sprintf("%s %-10s %-8s %s", e.Time.Format("15:04:05"), host, e.Phase, e.Detail)
	if e.Err != nil {
		line += " " + e.Err.Error()
	}
	fmt.Fprintln(l.W, line)
}

// discard is the reporter used when none is given.
type discard struct{}

func (discard) Event(Event) {}
