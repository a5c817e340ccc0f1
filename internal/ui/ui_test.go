package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nixherd/nixherd/internal/report"
)

var t0 = time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)

// clock is a fake time source the tests advance by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// screen replays the escapes the live view uses (cursor up, carriage return,
// clear to end of line, clear to end of screen) on a grid of lines, the way
// a terminal does (a newline also returns the carriage, as a tty's onlcr
// does), so tests assert what a user would see rather than the byte stream.
func screen(out string) []string {
	lines := [][]rune{nil}
	y, x := 0, 0
	for len(out) > 0 {
		if loc := ansi.FindStringIndex(out); loc != nil && loc[0] == 0 {
			esc := out[:loc[1]]
			out = out[loc[1]:]
			switch esc[len(esc)-1] {
			case 'A':
				n, _ := strconv.Atoi(esc[2 : len(esc)-1])
				y = max(0, y-n)
			case 'K':
				lines[y] = lines[y][:min(x, len(lines[y]))]
			case 'J':
				lines[y] = lines[y][:min(x, len(lines[y]))]
				lines = lines[:y+1]
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(out)
		out = out[size:]
		switch r {
		case '\n':
			y, x = y+1, 0
			for len(lines) <= y {
				lines = append(lines, nil)
			}
		case '\r':
			x = 0
		default:
			for len(lines[y]) <= x {
				lines[y] = append(lines[y], ' ')
			}
			lines[y][x] = r
			x++
		}
	}
	res := make([]string, len(lines))
	for i, l := range lines {
		res[i] = string(l)
	}
	return res
}

func TestLiveRedrawsRowsInPlace(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t0}
	l := newLive(&buf, func() int { return 80 }, c.now, "devmac", "devnix", "ephem")

	l.Event(report.Event{Machine: "devnix", Phase: "copy", Detail: "12 paths", Time: c.t})
	c.advance(2500 * time.Millisecond)
	l.Draw()
	l.Event(report.Event{Machine: "devnix", Phase: "activate", Time: c.t})
	l.Event(report.Event{Machine: "ephem", Phase: "build", Time: c.t})
	c.advance(time.Second)
	l.Draw()

	got := screen(buf.String())
	want := []string{
		"  devmac  waiting",
		"› devnix  activate    3.5s",
		"› ephem   build       1.0s",
		"",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLiveWritesNothingWhenFrameUnchanged(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t0}
	l := newLive(&buf, func() int { return 80 }, c.now)
	l.Event(report.Event{Machine: "a", Phase: "switch", Time: c.t})
	c.advance(time.Second)
	l.Event(report.Event{Machine: "a", Phase: report.PhaseDone, Detail: "switched", Time: c.t})
	l.Draw()
	n := buf.Len()
	c.advance(time.Minute)
	l.Draw()
	l.Draw()
	if buf.Len() != n {
		t.Fatalf("redraw of an unchanged frame wrote %q", buf.String()[n:])
	}
	if got := screen(buf.String())[0]; got != "✓ a     done        1.0s  switched" {
		t.Fatalf("finished row = %q", got)
	}
}

func TestLiveCutsLinesToTerminalWidth(t *testing.T) {
	var buf bytes.Buffer
	width := 40
	c := &clock{t0}
	l := newLive(&buf, func() int { return width }, c.now)
	l.Event(report.Event{Machine: "devnix", Phase: "copy", Detail: strings.Repeat("/nix/store/x ", 20), Time: c.t})
	l.Draw()
	for _, line := range screen(buf.String()) {
		if n := len([]rune(line)); n > width-1 {
			t.Fatalf("line of %d columns on a %d-column terminal: %q", n, width, line)
		}
	}
	if got := screen(buf.String())[0]; !strings.HasSuffix(got, "…") {
		t.Fatalf("cut line has no ellipsis: %q", got)
	}

	// Narrower terminal: the frame is redrawn at the new width, and the
	// cursor goes up over the lines the old frame takes once reflowed.
	buf.Reset()
	width = 20
	l.Draw()
	if !strings.HasPrefix(buf.String(), "\x1b[2A\r") {
		t.Fatalf("after shrinking to 20 columns the redraw starts with %q, want to go up 2 lines", buf.String())
	}
}

func TestLivePrintfKeepsRowsBelowTheMessage(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t0}
	l := newLive(&buf, func() int { return 80 }, c.now, "a", "b")
	l.Draw()
	l.Printf("warning: %s", "host b is slow")
	got := screen(buf.String())
	if got[0] != "warning: host b is slow" || !strings.HasPrefix(got[1], "  a") || !strings.HasPrefix(got[2], "  b") {
		t.Fatalf("screen after Printf: %q", got)
	}
}

func TestLiveFailedHostShowsError(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t0}
	l := newLive(&buf, func() int { return 80 }, c.now)
	l.Event(report.Event{Machine: "ephem", Phase: "activate", Time: c.t})
	l.Event(report.Event{Machine: "ephem", Phase: report.PhaseFailed, Err: errors.New("switch-to-configuration\nexited 4"), Time: c.t})
	l.Close()
	got := screen(buf.String())[0]
	if got != "✗ ephem  failed      0.0s  switch-to-configuration | exited 4" {
		t.Fatalf("failed row = %q", got)
	}
	if !strings.HasSuffix(buf.String(), "\x1b[?25h") {
		t.Fatalf("Close did not show the cursor again")
	}
}

func TestPlainOneLinePerPhaseChange(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf, "devmac", "ephem")
	p.Event(report.Event{Machine: "ephem", Phase: "copy", Detail: "3 paths", Time: t0})
	p.Event(report.Event{Machine: "ephem", Phase: "copy", Detail: "2 paths left", Time: t0.Add(time.Second)})
	p.Event(report.Event{Machine: "devmac", Phase: "activate", Time: t0.Add(2 * time.Second)})
	p.Event(report.Event{Machine: "ephem", Phase: "activate", Time: t0.Add(3 * time.Second)})
	p.Event(report.Event{Machine: "ephem", Phase: report.PhaseDone, Detail: "switched", Time: t0.Add(4 * time.Second)})
	want := `2026-11-26T01:02:03Z ephem  copy: 3 paths
2026-11-26T01:02:05Z devmac activate
2026-11-26T01:02:06Z ephem  activate
2026-11-26T01:02:07Z ephem  done: switched
`
	if buf.String() != want {
		t.Fatalf("plain output:\n%s\nwant:\n%s", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Fatal("plain output contains escape sequences")
	}
}

func TestNewPicksPlainForNonTerminal(t *testing.T) {
	if _, ok := New(&bytes.Buffer{}).(*Plain); !ok {
		t.Fatal("a buffer got the live view")
	}
}

func sampleSummary() *report.Summary {
	return report.NewSummary([]report.Result{
		{Machine: "devnix", Outcome: report.Switched, Generation: 7, Path: "/nix/store/aaaa-nixos-system-devnix", Seconds: 12.3},
		{Machine: "ephem", Outcome: report.Unreachable, Seconds: 3, Error: "ssh: connect to host 127.0.0.3 port 22: Connection refused"},
	}, 15.3)
}

func TestSummaryTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSummary(&buf, sampleSummary()); err != nil {
		t.Fatal(err)
	}
	want := `MACHINE  OUTCOME      GENERATION  STORE PATH                           DURATION  ERROR
devnix   switched     7           /nix/store/aaaa-nixos-system-devnix  12.3s
ephem    unreachable  -           -                                    3.0s      ssh: connect to host 127.0.0.3 port 22: Connection refused
1 of 2 machines failed: ephem
`
	got := buf.String()
	if got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

// TestDeploySummaryTable: a deploy's summary has the columns only a deploy
// has (target, what was copied), the paths a dry run would send, an error's
// first line, and the failed machines.
func TestDeploySummaryTable(t *testing.T) {
	s := report.NewSummary([]report.Result{
		{Machine: "devnix", Target: "root@127.0.0.2", Outcome: report.Switched, Generation: 3, Path: "/nix/store/aaaa-nixos-system-devnix", Copied: &report.Copied{Paths: 2, Bytes: 3 << 20}, Seconds: 4.25},
		{Machine: "devmac", Target: "local", Outcome: report.WouldCopy, Path: "/nix/store/bbbb-darwin-system-devmac", Copied: &report.Copied{Paths: 1, Bytes: 10}, WouldCopy: []string{"/nix/store/bbbb-darwin-system-devmac"}, Seconds: 1},
		{Machine: "ephem", Target: "root@127.0.0.3", Outcome: report.Failed, Path: "/nix/store/cccc-nixos-system-ephem", Copied: &report.Copied{}, Error: "ephem: activation failed\nlog line 1\nlog line 2", Seconds: 2},
	}, 5)
	var buf bytes.Buffer
	if err := WriteSummary(&buf, s); err != nil {
		t.Fatal(err)
	}
	want := `MACHINE  TARGET          OUTCOME   GENERATION  COPIED       STORE PATH                            DURATION  ERROR
devnix   root@127.0.0.2  switched  3           2 (3.0 MiB)  /nix/store/aaaa-nixos-system-devnix   4.2s
devmac   local           dry-run   -           1 (10 B)     /nix/store/bbbb-darwin-system-devmac  1.0s
ephem    root@127.0.0.3  failed    -           0            -                                     2.0s      ephem: activation failed
devmac would receive:
  /nix/store/bbbb-darwin-system-devmac
1 of 3 machines failed: ephem
`
	if got := buf.String(); got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

// A dry run's copy column says what would be copied, not what was.
func TestDryRunSummarySaysToCopy(t *testing.T) {
	s := report.NewSummary([]report.Result{
		{Machine: "devnix", Target: "root@127.0.0.2", Outcome: report.WouldCopy, Path: "/nix/store/aaaa-nixos-system-devnix", Copied: &report.Copied{Paths: 2, Bytes: 3 << 20}, Seconds: 1},
	}, 1)
	var buf bytes.Buffer
	WriteSummary(&buf, s)
	if !strings.HasPrefix(buf.String(), "MACHINE  TARGET          OUTCOME  GENERATION  TO COPY ") {
		t.Fatalf("dry-run table:\n%s", buf.String())
	}
}

func TestSummaryJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleSummary()); err != nil {
		t.Fatal(err)
	}
	var s struct {
		OK       bool
		Machines []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &s); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if s.OK {
		t.Error(`"ok" is true although ephem is unreachable`)
	}
	m := s.Machines[0]
	if m["machine"] != "devnix" || m["generation"] != 7.0 || m["path"] != "/nix/store/aaaa-nixos-system-devnix" || m["seconds"] != 12.3 || m["outcome"] != "switched" {
		t.Errorf("first machine = %v", m)
	}
	if _, has := m["error"]; has {
		t.Errorf("successful machine has an error field: %v", m)
	}

	buf.Reset()
	WriteJSON(&buf, report.NewSummary(nil, 0))
	if strings.TrimSpace(buf.String()) != "{\n  \"machines\": [],\n  \"seconds\": 0,\n  \"ok\": true\n}" {
		t.Errorf("empty summary = %s", buf.String())
	}
}

func TestLiveCloseDrawsFinalFrame(t *testing.T) {
	var buf bytes.Buffer
	l := NewLive(&buf, func() int { return 80 }, "a")
	l.Event(report.Event{Machine: "a", Phase: report.PhaseDone, Detail: "generation 3"})
	l.Close()
	if got := screen(buf.String())[0]; !strings.HasPrefix(got, "✓ a") || !strings.HasSuffix(got, "generation 3") {
		t.Fatalf("final row = %q", got)
	}
}

func TestDeployEventsDriveTheView(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t0}
	l := newLive(&buf, func() int { return 100 }, c.now, "devnix", "ephem")
	r := report.Reporter(l)
	r.Event(report.Event{Phase: report.PhaseEval, Detail: "2 machines", Time: c.t})
	c.advance(2 * time.Second)
	r.Event(report.Event{Machine: "devnix", Phase: report.PhaseCopy, Detail: "3 paths (1.2 MiB)", Time: c.t})
	r.Event(report.Event{Machine: "ephem", Phase: report.PhaseFailed, Err: errors.New("ephem: cannot connect: Connection refused"), Time: c.t})
	c.advance(time.Second)
	l.Draw()
	want := []string{
		"✓ *       eval        2.0s  2 machines",
		"› devnix  copy        1.0s  3 paths (1.2 MiB)",
		"✗ ephem   failed      0.0s  ephem: cannot connect: Connection refused",
		"",
	}
	if got := screen(buf.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var plain bytes.Buffer
	NewPlain(&plain).Event(report.Event{Phase: report.PhaseBuild, Detail: "2 closures", Time: t0})
	if plain.String() != "2026-11-26T01:02:03Z * build: 2 closures\n" {
		t.Fatalf("plain run-wide line = %q", plain.String())
	}
}

// countingWriter counts the writes (frames) the live view makes.
type countingWriter struct {
	mu sync.Mutex
	n  int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return len(p), nil
}

// However fast events come, the view draws at most about ten frames a
// second, each in one write.
func TestLiveCapsTheFrameRate(t *testing.T) {
	var w countingWriter
	l := NewLive(&w, func() int { return 80 }, "a")
	start := time.Now()
	for i := 0; time.Since(start) < 500*time.Millisecond; i++ {
		l.Event(report.Event{Machine: "a", Phase: "copy", Detail: strconv.Itoa(i)})
	}
	l.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	// 5 ticks in 500 ms, the final frame and the cursor restore, with slack
	// for a slow machine's ticker.
	if w.n > 9 {
		t.Fatalf("%d writes in 500 ms of constant events", w.n)
	}
}

// A machine whose outcome is "failed" says so once, not "failed: failed: …";
// any other outcome (rolled back, unreachable) stays in front of the error.
func TestFailedOutcomeIsNotRepeated(t *testing.T) {
	err := errors.New("activation exited 4")
	cases := map[string]string{
		string(report.Failed): "activation exited 4",
		"ROLLED BACK":         "ROLLED BACK: activation exited 4",
	}
	for outcome, want := range cases {
		ev := show(report.Event{Machine: "devnix", Phase: report.PhaseFailed, Detail: outcome, Err: err, Time: t0})
		if ev.detail != want {
			t.Errorf("outcome %q: detail = %q, want %q", outcome, ev.detail, want)
		}
		var plain bytes.Buffer
		NewPlain(&plain).Event(report.Event{Machine: "devnix", Phase: report.PhaseFailed, Detail: outcome, Err: err, Time: t0})
		if strings.Contains(plain.String(), "failed: failed") {
			t.Errorf("plain line repeats the outcome: %q", plain.String())
		}
	}
}
