package ui

import (
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
)

// Reporter makes v the deploy pipeline's reporter.
func Reporter(v View) deploy.Reporter {
	return deploy.ReporterFunc(func(e deploy.Event) { v.Event(FromDeploy(e)) })
}

// FromDeploy converts a pipeline event: the done and failed phases end the
// host's row, and an error becomes the row's detail.
func FromDeploy(e deploy.Event) Event {
	ev := Event{Host: e.Host, Phase: string(e.Phase), Detail: e.Detail, Time: e.Time}
	switch e.Phase {
	case deploy.PhaseDone:
		ev.Done = true
	case deploy.PhaseFailed:
		ev.Done, ev.Failed = true, true
	}
	if ev.Detail == ev.Phase {
		// A failed machine's outcome is often "failed" too: say it once.
		ev.Detail = ""
	}
	if e.Err != nil {
		msg := e.Err.Error()
		if ev.Detail != "" && !strings.Contains(msg, ev.Detail) {
			msg = ev.Detail + ": " + msg
		}
		ev.Detail = msg
	}
	return ev
}

// FromDeploySummary makes the summary rows of a deploy. A machine that did
// not end well shows its error, not the closure it was meant to run.
func FromDeploySummary(s *deploy.Summary) []Result {
	out := make([]Result, len(s.Results))
	for i, r := range s.Results {
		row := Result{Host: r.Machine, Target: r.Target, Outcome: string(r.Outcome), Generation: r.Generation,
			StorePath: r.Path, Duration: time.Duration(r.Seconds * float64(time.Second)), Error: r.Error, OK: r.OK(),
			CountsCopies: true, CopiedPaths: r.CopiedPaths, CopiedBytes: r.CopiedBytes, WouldCopy: r.WouldCopy}
		if r.Error != "" {
			row.StorePath = ""
		}
		out[i] = row
	}
	return out
}
