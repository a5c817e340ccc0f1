// Package fleetexec runs one command on the hosts of many machines at once
// (colmena exec): through internal/fanout, so in parallel up to a bound,
// one connection per host (a host's machines run it once) and nothing new
// started after an interrupt. The arguments reach the remote shell exactly
// as given: each is quoted, so `--` `echo '$HOME'` prints $HOME; write
// `sh -c '…'` for a pipeline.
package fleetexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
)

// Host is how the command went on one host.
type Host struct {
	// Machines are the deploy.nix machines on the host; Label names the
	// host in output (its first machine).
	Machines []string       `json:"machines"`
	Target   string         `json:"target"`
	Outcome  report.Outcome `json:"outcome"`
	// ExitCode is the command's exit status (-1 when it did not run).
	ExitCode int     `json:"exitCode"`
	Stdout   string  `json:"stdout"`
	Stderr   string  `json:"stderr"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"`
	Label    string  `json:"-"`
}

// Summary is the command's run on every host.
type Summary struct {
	Command []string `json:"command"`
	Hosts   []Host   `json:"hosts"`
	OK      bool     `json:"ok"`
}

// Outcomes of a command on a host.
const (
	Succeeded report.Outcome = "ok"
	Exited    report.Outcome = "exited" // with a non-zero status
)

// Output receives what the commands print as they print it. Line is called
// once per line (without its newline), from many goroutines, one call at a
// time; Done when a host's command ended, with its whole output.
type Output interface {
	Line(h *Host, stderr bool, line string)
	Done(h *Host)
}

// Run runs argv on the hosts of machines. Output may be nil (everything is
// kept in the summary only).
func Run(ctx context.Context, machines []hosts.Machine, argv []string, reach fanout.Options, out Output) (*Summary, error) {
	fleet, err := fanout.New(machines, reach)
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	results := make([]Host, len(fleet.Hosts()))
	for i, h := range fleet.Hosts() {
		results[i] = Host{Machines: h.Names(), Label: h.Names()[0], Target: h.Target(), ExitCode: -1}
	}
	var mu sync.Mutex // one Output call at a time
	notStarted := fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		res := &results[h.Index]
		runOn(ctx, h, machines[h.Machines[0]], argv, res, out, &mu)
	})
	for _, h := range notStarted {
		res := &results[h.Index]
		res.Outcome, res.Error = report.NotStarted, "interrupted before its turn: the command did not run"
	}
	s := &Summary{Command: argv, Hosts: results, OK: true}
	for _, r := range results {
		s.OK = s.OK && r.Outcome == Succeeded
	}
	return s, nil
}

func runOn(ctx context.Context, h *fanout.Host, m hosts.Machine, argv []string, res *Host, out Output, mu *sync.Mutex) {
	start := time.Now()
	defer func() {
		res.Seconds = time.Since(start).Seconds()
		if out != nil {
			mu.Lock()
			out.Done(res)
			mu.Unlock()
		}
	}()
	r, err := h.Connect(ctx, m)
	if err != nil {
		res.Outcome, res.Error = report.Failed, err.Error()
		var ce *remote.ConnectError
		if errors.As(err, &ce) {
			res.Outcome = report.Unreachable
		}
		return
	}
	stdout := &lines{res: res, out: out, mu: mu}
	stderr := &lines{res: res, out: out, mu: mu, stderr: true}
	c := remote.Cmd(argv...)
	c.Stdout, c.Stderr = stdout, stderr
	_, err = r.Run(ctx, c)
	stdout.flush()
	stderr.flush()
	res.Stdout, res.Stderr = stdout.kept(), stderr.kept()
	var ee *remote.ExitError
	switch {
	case err == nil:
		res.Outcome, res.ExitCode = Succeeded, 0
	case errors.As(err, &ee) && ee.Code > 0 && ee.Code != 255:
		res.Outcome, res.ExitCode = Exited, ee.Code
	case errors.As(err, &ee):
		// 255: ssh lost the host; -1: the command was stopped.
		res.Outcome, res.ExitCode, res.Error = report.Failed, ee.Code, err.Error()
	default:
		res.Outcome, res.Error = report.Failed, err.Error()
	}
}

// lines splits what a command writes into lines for Output, and keeps the
// first remote.MaxOutput bytes of it for the summary: a host may print
// without end, and neither what is kept nor a line without its newline may
// grow with it.
type lines struct {
	res     *Host
	out     Output
	mu      *sync.Mutex
	stderr  bool
	partial []byte
	all     bytes.Buffer
	cut     bool
}

// maxLine is where a line that has no newline yet is handed out anyway.
const maxLine = 64 << 10

// kept is the output kept, marked when more was printed.
func (l *lines) kept() string {
	if l.cut {
		return l.all.String() + fmt.Sprintf("\n… (only the first %d MiB are kept)\n", remote.MaxOutput>>20)
	}
	return l.all.String()
}

// flush hands out a last line that has no newline.
func (l *lines) flush() {
	if l.out != nil && len(l.partial) > 0 {
		l.mu.Lock()
		l.out.Line(l.res, l.stderr, string(l.partial))
		l.mu.Unlock()
		l.partial = nil
	}
}

func (l *lines) Write(p []byte) (int, error) {
	room := remote.MaxOutput - l.all.Len()
	l.all.Write(p[:max(0, min(len(p), room))])
	l.cut = l.cut || len(p) > room
	if l.out == nil {
		return len(p), nil
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 && len(l.partial) < maxLine {
			break
		}
		end, next := i, i+1
		if i < 0 || i > maxLine {
			end, next = maxLine, maxLine
		}
		line := strings.TrimSuffix(string(l.partial[:end]), "\r")
		l.partial = l.partial[next:]
		l.mu.Lock()
		l.out.Line(l.res, l.stderr, line)
		l.mu.Unlock()
	}
	return len(p), nil
}
