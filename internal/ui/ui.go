// Package ui shows the progress of work on many hosts at once: a live view
// that redraws one row per host in place on a terminal, plain timestamped
// lines everywhere else (CI logs, pipes, files), and a summary table (or
// JSON) at the end.
//
// The commands report events (internal/report); they never know which view
// is listening. A view is chosen once, from whether the output is
// a terminal, so a command's output can be piped or logged without control
// characters leaking into it.
package ui

import (
	"io"
	"os"

	"github.com/nixherd/nixherd/internal/report"
	"golang.org/x/term"
)

// RunLabel names the row of events that concern the whole run rather than
// one machine (Machine ""): evaluating and building every selected machine.
const RunLabel = "*"

// View receives the events of the work (report.Event) and draws them.
// Close flushes the view; call it before printing anything else (such as
// the summary) to the same output.
type View interface {
	report.Reporter
	Close()
}

// New returns the live view when w is a terminal that understands cursor
// movement and plain lines otherwise (pipes, files, CI logs, TERM=dumb).
// hosts fixes the order of the rows; hosts first seen in an event are
// appended.
func New(w io.Writer, hosts ...string) View {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		fd := int(f.Fd())
		return NewLive(w, func() int {
			if width, _, err := term.GetSize(fd); err == nil && width > 0 {
				return width
			}
			return 80
		}, hosts...)
	}
	return NewPlain(w, hosts...)
}
