package ui

import (
	"strings"

	"github.com/nixherd/nixherd/internal/report"
)

// shown is what a view draws of an event: the row's phase and detail, and
// whether the event ends the machine's row (badly when failed).
type shown struct {
	machine, phase, detail string
	done, failed           bool
}

// show turns an event into a row update: the done and failed phases end the
// machine's row, and an error becomes the row's detail after the outcome,
// which is said once ("failed", not "failed: failed: …"). What a host said
// (in the detail and the error) is escaped here, for every view.
func show(e report.Event) shown {
	s := shown{machine: Escape(e.Machine), phase: Escape(string(e.Phase)), detail: EscapeText(e.Detail)}
	switch e.Phase {
	case report.PhaseDone:
		s.done = true
	case report.PhaseFailed:
		s.done, s.failed = true, true
	}
	if s.detail == s.phase {
		s.detail = ""
	}
	if e.Err != nil {
		msg := EscapeText(e.Err.Error())
		if s.detail != "" && !strings.Contains(msg, s.detail) {
			msg = s.detail + ": " + msg
		}
		s.detail = msg
	}
	return s
}
