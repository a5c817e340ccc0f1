package fleetexec

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/nixherd/nixherd/internal/remote"
)

type lineCounter struct{ lines, longest int }

func (c *lineCounter) Line(_ *Host, _ bool, line string) {
	c.lines++
	c.longest = max(c.longest, len(line))
}
func (c *lineCounter) Done(*Host) {}

// A host that prints without end, without a newline, costs a bounded
// amount of memory: the summary keeps the first MiBs and says so, and the
// unending line is handed out in pieces.
func TestLinesKeepABoundedAmount(t *testing.T) {
	out := &lineCounter{}
	l := &lines{res: &Host{}, out: out, mu: &sync.Mutex{}}
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 10 {
		l.Write(chunk)
	}
	l.Write([]byte("\nlast\n"))
	l.flush()
	kept := l.kept()
	if len(kept) > remote.MaxOutput+100 || !strings.HasSuffix(kept, "(only the first 4 MiB are kept)\n") {
		t.Errorf("kept %d bytes ending %q", len(kept), kept[max(0, len(kept)-60):])
	}
	if len(l.partial) > maxLine || out.longest > maxLine || out.lines < 10<<20/maxLine {
		t.Errorf("%d lines, the longest %d bytes, %d bytes pending", out.lines, out.longest, len(l.partial))
	}
}
