package ui

import (
	"strings"

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
	if e.Err != nil {
		msg := e.Err.Error()
		if ev.Detail != "" && !strings.Contains(msg, ev.Detail) {
			msg = ev.Detail + ": " + msg
		}
		ev.Detail = msg
	}
	return ev
}
