// Package health runs the checks that decide whether a freshly activated
// machine is kept: an HTTP GET that must answer a given status code, a TCP
// connect, or a command run on the machine itself.
//
// A check is retried until it passes or its deadline passes, because services
// restarted by an activation need a moment to come up; a deploy confirms the
// new generation only when every check of the machine passed, and names the
// failing check in its summary otherwise.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Kind says how a check probes the machine.
type Kind string

const (
	HTTP    Kind = "http"    // GET URL, expect Status
	TCP     Kind = "tcp"     // connect to Address
	Command Kind = "command" // run Command on the machine, expect exit 0
)

// Defaults for the timing fields a check leaves zero.
const (
	DefaultAttemptTimeout = 5 * time.Second
	DefaultInterval       = 1 * time.Second
	DefaultDeadline       = 30 * time.Second
)

// Check is one health check of a machine.
type Check struct {
	Name    string
	Kind    Kind
	URL     string // HTTP
	Status  int    // HTTP: expected status code; 0 means 200
	Address string // TCP: host:port
	Command string // Command: a shell command run on the machine

	AttemptTimeout time.Duration // bound on one attempt
	Interval       time.Duration // pause between attempts
	Deadline       time.Duration // give up this long after the first attempt
}

// Runner runs a shell command on the machine being checked. The deploy
// pipeline passes its SSH connection; tests pass a local shell.
type Runner interface {
	Run(ctx context.Context, command string) (output []byte, err error)
}

// Result is the outcome of one check, named for the deploy summary.
type Result struct {
	Name     string
	OK       bool
	Attempts int
	Elapsed  time.Duration
	Err      error // the last attempt's error when !OK
}

func (r Result) String() string {
	if r.OK {
		return fmt.Sprintf("%s: ok after %d attempt(s)", r.Name, r.Attempts)
	}
	return fmt.Sprintf("%s: failed after %d attempt(s) in %s: %v", r.Name, r.Attempts, r.Elapsed.Round(time.Millisecond), r.Err)
}

// Validate reports a check that cannot run, before any deploy starts.
func (c Check) Validate() error {
	if c.Name == "" {
		return errors.New("health check without a name")
	}
	switch c.Kind {
	case HTTP:
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
			return fmt.Errorf("health check %q: url %q must start with http:// or https://", c.Name, c.URL)
		}
		if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
			return fmt.Errorf("health check %q: status %d is not an HTTP status code", c.Name, c.Status)
		}
	case TCP:
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			return fmt.Errorf("health check %q: address %q: %w", c.Name, c.Address, err)
		}
	case Command:
		if strings.TrimSpace(c.Command) == "" {
			return fmt.Errorf("health check %q: empty command", c.Name)
		}
	default:
		return fmt.Errorf("health check %q: unknown kind %q (want http, tcp or command)", c.Name, c.Kind)
	}
	return nil
}

func (c Check) withDefaults() Check {
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Deadline <= 0 {
		c.Deadline = DefaultDeadline
	}
	if c.Kind == HTTP && c.Status == 0 {
		c.Status = http.StatusOK
	}
	return c
}

// Run retries the check until it passes, its deadline passes or ctx ends.
// runner is only used by command checks and may be nil otherwise.
func Run(ctx context.Context, c Check, runner Runner) Result {
	c = c.withDefaults()
	res := Result{Name: c.Name}
	if err := c.Validate(); err != nil {
		res.Err = err
		return res
	}
	if c.Kind == Command && runner == nil {
		res.Err = errors.New("no way to run a command on this machine")
		return res
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.Deadline)
	defer cancel()
	deadline, _ := ctx.Deadline()
	for {
		res.Attempts++
		err := attempt(ctx, c, runner)
		res.Elapsed = time.Since(start)
		if err != nil && res.Err != nil && (ctx.Err() != nil || !time.Now().Before(deadline)) {
			// The deadline cut this attempt short: the previous
			// attempt's error says more about what is wrong.
			return res
		}
		res.Err = err
		if res.Err == nil {
			res.OK = true
			return res
		}
		select {
		case <-ctx.Done():
			return res
		case <-time.After(c.Interval):
		}
	}
}

// RunAll runs the checks one after the other and returns every result; ok is
// true only when all passed. They run in order so the summary reads the same
// on every deploy.
func RunAll(ctx context.Context, checks []Check, runner Runner) (results []Result, ok bool) {
	ok = true
	for _, c := range checks {
		r := Run(ctx, c, runner)
		results = append(results, r)
		ok = ok && r.OK
	}
	return results, ok
}

// Failed names the failing checks and why each failed, for the summary
// line of a rolled back host ("tcp 10.0.0.2:22: connection refused").
func Failed(results []Result) []string {
	var failed []string
	for _, r := range results {
		if !r.OK {
			failed = append(failed, fmt.Sprintf("%s: %v", r.Name, r.Err))
		}
	}
	return failed
}

// ExitError is a command check's command that ran on the machine and
// failed: its exit status and what it printed (stdout and stderr).
type ExitError struct {
	Code   int
	Output string
}

func (e *ExitError) Error() string { return fmt.Sprintf("exited with status %d", e.Code) }

// commandFailure says why a command check failed: its exit status and the
// last line it printed, or that it did not finish in time.
func commandFailure(ctx context.Context, err error, stdout []byte, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("did not finish within %s", timeout)
	}
	output := string(stdout)
	code := -1
	var ee *ExitError
	var xe interface{ ExitCode() int }
	switch {
	case errors.As(err, &ee):
		code, output = ee.Code, output+"\n"+ee.Output
	case errors.As(err, &xe):
		code = xe.ExitCode()
	default:
		return err
	}
	if tail := lastLine([]byte(output)); tail != "" {
		return fmt.Errorf("exited with status %d: %s", code, tail)
	}
	return fmt.Errorf("exited with status %d and printed nothing", code)
}

// netFailure says why an HTTP or TCP probe failed in the words a person
// looks for: refused, no answer in time, or the network's own error.
func netFailure(err error, timeout time.Duration) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %s", timeout)
	}
	return err
}

func attempt(ctx context.Context, c Check, runner Runner) error {
	ctx, cancel := context.WithTimeout(ctx, c.AttemptTimeout)
	defer cancel()
	switch c.Kind {
	case HTTP:
		return probeHTTP(ctx, c.URL, c.Status, c.AttemptTimeout)
	case TCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.Address)
		if err != nil {
			return netFailure(err, c.AttemptTimeout)
		}
		return conn.Close()
	case Command:
		out, err := runner.Run(ctx, c.Command)
		if err != nil {
			return commandFailure(ctx, err, out, c.AttemptTimeout)
		}
		return nil
	}
	return fmt.Errorf("unknown kind %q", c.Kind)
}

// client does not follow redirects: a check expecting 301 must see the 301.
var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func probeHTTP(ctx context.Context, url string, want int, timeout time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return netFailure(err, timeout)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

func lastLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
