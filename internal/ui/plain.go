package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/report"
)

// Plain writes one timestamped line each time a host changes phase. Detail
// updates within a phase (progress of a copy) are not repeated: a CI log
// should read as a list of what happened, not as a progress bar.
type Plain struct {
	mu    sync.Mutex
	w     io.Writer
	width int // of the host column
	last  map[string]string
}

// NewPlain returns a plain-line view writing to w.
func NewPlain(w io.Writer, hosts ...string) *Plain {
	p := &Plain{w: w, last: map[string]string{}}
	for _, h := range hosts {
		p.width = max(p.width, len(h))
	}
	return p
}

// Event writes a line when e starts a new phase for its machine or ends it.
func (p *Plain) Event(ev report.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := show(ev)
	key := e.phase
	if e.done {
		key = "\x00done " + e.phase
	}
	if prev, seen := p.last[e.machine]; seen && prev == key {
		return
	}
	p.last[e.machine] = key
	host := e.machine
	if host == "" {
		host = RunLabel
	}
	p.width = max(p.width, len(host))
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	line := fmt.Sprintf("%s %-*s %s", t.UTC().Format(time.RFC3339), p.width, host, e.phase)
	if e.detail != "" {
		line += ": " + oneLine(e.detail)
	}
	fmt.Fprintln(p.w, strings.TrimRight(line, " "))
}

// Close does nothing: every line is already written.
func (p *Plain) Close() {}

// oneLine keeps a multi-line detail (an error with output) on its line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
