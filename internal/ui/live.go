package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nixherd/nixherd/internal/report"
)

// Frame rate cap of the live view: fast enough to feel live, slow enough
// that a terminal over SSH keeps up.
const frameInterval = 100 * time.Millisecond

// Live redraws one row per host in place with ANSI escapes: host, phase,
// elapsed time and the latest detail (what is being copied). A frame is
// written in one write and only when it differs from the previous one, so
// the rows do not flicker.
type Live struct {
	mu     sync.Mutex
	w      io.Writer
	width  func() int
	now    func() time.Time
	rows   []*row
	byHost map[string]*row

	drawn     []string // lines of the frame on screen
	drawnAt   int      // terminal width when it was drawn
	cursorOff bool

	stop chan struct{}
	done chan struct{}
}

type row struct {
	host         string
	phase        string
	detail       string
	start, end   time.Time
	done, failed bool
}

// NewLive returns a live view on w, a terminal whose width width reports.
// It redraws on its own until Close.
func NewLive(w io.Writer, width func() int, hosts ...string) *Live {
	l := newLive(w, width, time.Now, hosts...)
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.loop()
	return l
}

// newLive builds a view without its redraw loop: tests drive Draw with a
// fake clock.
func newLive(w io.Writer, width func() int, now func() time.Time, hosts ...string) *Live {
	l := &Live{w: w, width: width, now: now, byHost: map[string]*row{}}
	for _, h := range hosts {
		l.add(h)
	}
	return l
}

func (l *Live) add(host string) *row {
	if r, ok := l.byHost[host]; ok {
		return r
	}
	r := &row{host: host, phase: "waiting"}
	if host == "" {
		// The run-wide row (evaluation, build) heads the view.
		r.host = RunLabel
		l.rows = append([]*row{r}, l.rows...)
	} else {
		l.rows = append(l.rows, r)
	}
	l.byHost[host] = r
	return r
}

// Event updates the machine's row; the next frame shows it.
func (l *Live) Event(ev report.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := ev.Time
	if t.IsZero() {
		t = l.now()
	}
	e := show(ev)
	r := l.add(e.machine)
	if run, ok := l.byHost[""]; ok && e.machine != "" && !run.done {
		// Hosts start once the run-wide stages are over.
		run.done, run.end = true, t
	}
	if r.start.IsZero() {
		r.start = t
	}
	if r.phase != e.phase || e.detail != "" {
		r.detail = e.detail
	}
	r.phase = e.phase
	r.done, r.failed = e.done, e.failed
	if e.done {
		r.end = t
	}
}

func (l *Live) loop() {
	defer close(l.done)
	tick := time.NewTicker(frameInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			l.Draw()
		}
	}
}

// Close stops redrawing, draws the final frame and leaves the cursor below it.
func (l *Live) Close() {
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
	l.Draw()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cursorOff {
		io.WriteString(l.w, "\x1b[?25h")
		l.cursorOff = false
	}
	l.drawn = nil
}

// Printf prints a line above the rows (a warning, a log line) and redraws
// the rows below it.
func (l *Live) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	l.cursorUp(&b)
	msg := Escape(strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	b.WriteString(msg + "\x1b[K\n")
	l.drawn = nil
	l.frameTo(&b)
	io.WriteString(l.w, b.String())
}

// Draw writes the current frame if it differs from the one on screen.
func (l *Live) Draw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if l.frameTo(&b) {
		io.WriteString(l.w, b.String())
	}
}

// frameTo appends to b what replaces the frame on screen with the current
// one, and reports whether anything changed.
func (l *Live) frameTo(b *strings.Builder) bool {
	width := max(l.width(), 20)
	lines := l.render(width)
	if width == l.drawnAt && equal(lines, l.drawn) {
		return false
	}
	if !l.cursorOff {
		b.WriteString("\x1b[?25l")
		l.cursorOff = true
	}
	// Overwrite the old rows in place, each cleared to its end, then clear
	// whatever the old frame left below: nothing is blanked before it is
	// redrawn, so nothing flickers.
	l.cursorUp(b)
	for _, line := range lines {
		b.WriteString(line)
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J")
	l.drawn, l.drawnAt = lines, width
	return true
}

// cursorUp moves the cursor to the start of the first line of the frame on
// screen. When the terminal got narrower since the
// frame was drawn, a terminal that reflows text has wrapped the old lines,
// so the frame now takes more screen lines than it has rows.
func (l *Live) cursorUp(b *strings.Builder) {
	up := 0
	width := max(l.width(), 20)
	for _, line := range l.drawn {
		n := utf8.RuneCountInString(line)
		up += max(1, (n+width-1)/width)
	}
	if up > 0 {
		fmt.Fprintf(b, "\x1b[%dA", up)
	}
	b.WriteString("\r")
}

// render lays out one line per host, each cut to width-1 columns so that no
// line wraps (a wrapped line would break the cursor arithmetic).
func (l *Live) render(width int) []string {
	// The phase column fits the pipeline's longest phase from the start, so
	// it does not jump as hosts move from "copy" to "activate".
	hostW, phaseW := 4, len("activate")
	for _, r := range l.rows {
		hostW = max(hostW, utf8.RuneCountInString(r.host))
		phaseW = max(phaseW, utf8.RuneCountInString(r.phase))
	}
	now := l.now()
	lines := make([]string, 0, len(l.rows))
	for _, r := range l.rows {
		mark := " "
		switch {
		case r.done && r.failed:
			mark = "✗"
		case r.done:
			mark = "✓"
		case !r.start.IsZero():
			mark = "›"
		}
		elapsed := ""
		if !r.start.IsZero() {
			end := now
			if r.done {
				end = r.end
			}
			elapsed = formatElapsed(end.Sub(r.start))
		}
		line := fmt.Sprintf("%s %-*s  %-*s %7s", mark, hostW, r.host, phaseW, r.phase, elapsed)
		if r.detail != "" {
			line += "  " + oneLine(r.detail)
		}
		lines = append(lines, truncate(strings.TrimRight(line, " "), width-1))
	}
	return lines
}

// formatElapsed shows tenths under a minute, then minutes and seconds.
func formatElapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:max(n, 0)])
	}
	return string([]rune(s)[:n-1]) + "…"
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
