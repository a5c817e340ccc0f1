package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fast keeps the retry loop short so failing checks end quickly.
func fast(c Check) Check {
	c.AttemptTimeout = 500 * time.Millisecond
	c.Interval = 20 * time.Millisecond
	c.Deadline = 400 * time.Millisecond
	return c
}

func TestHTTPCheckPassesOnExpectedStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	r := Run(context.Background(), fast(Check{Name: "api", Kind: HTTP, URL: srv.URL, Status: 204}), nil)
	if !r.OK || r.Attempts != 1 {
		t.Fatalf("got %v", r)
	}
}

func TestHTTPCheckFailsOnOtherStatusAndSaysWhich(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	r := Run(context.Background(), fast(Check{Name: "api", Kind: HTTP, URL: srv.URL}), nil)
	if r.OK {
		t.Fatal("503 passed a check expecting 200")
	}
	if r.Attempts < 2 {
		t.Errorf("gave up after %d attempt(s), want retries until the deadline", r.Attempts)
	}
	if !strings.Contains(r.Err.Error(), "status 503, want 200") {
		t.Errorf("error %q does not name the statuses", r.Err)
	}
}

func TestHTTPCheckRetriesUntilServiceComesUp(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	c := fast(Check{Name: "web", Kind: HTTP, URL: srv.URL})
	c.Deadline = 5 * time.Second
	r := Run(context.Background(), c, nil)
	if !r.OK || r.Attempts != 3 {
		t.Fatalf("got %v, want ok on the third attempt", r)
	}
}

func TestHTTPCheckDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	if r := Run(context.Background(), fast(Check{Name: "r", Kind: HTTP, URL: srv.URL, Status: 301}), nil); !r.OK {
		t.Fatalf("redirect check: %v", r)
	}
}

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if r := Run(context.Background(), fast(Check{Name: "ssh", Kind: TCP, Address: ln.Addr().String()}), nil); !r.OK {
		t.Fatalf("open port: %v", r)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	r := Run(context.Background(), fast(Check{Name: "gone", Kind: TCP, Address: addr}), nil)
	if r.OK || !strings.Contains(r.Err.Error(), "refused") {
		t.Fatalf("closed port: %v", r)
	}
}

// shell runs commands with the local /bin/sh, standing in for the SSH runner.
type shell struct{ ran []string }

func (s *shell) Run(ctx context.Context, command string) ([]byte, error) {
	s.ran = append(s.ran, command)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.WaitDelay = 100 * time.Millisecond // do not wait on pipes a killed shell's children hold
	return cmd.CombinedOutput()
}

func TestCommandCheckUsesTheRunner(t *testing.T) {
	sh := &shell{}
	if r := Run(context.Background(), fast(Check{Name: "units", Kind: Command, Command: "test 1 -eq 1"}), sh); !r.OK {
		t.Fatalf("passing command: %v", r)
	}
	r := Run(context.Background(), fast(Check{Name: "units", Kind: Command, Command: "echo 'nginx.service failed'; exit 3"}), sh)
	if r.OK || !strings.Contains(r.Err.Error(), "nginx.service failed") {
		t.Fatalf("failing command: %v", r)
	}
	if len(sh.ran) < 3 {
		t.Errorf("runner saw %d runs, want the failing command retried", len(sh.ran))
	}
}

func TestAttemptTimeoutBoundsAHangingCommand(t *testing.T) {
	c := Check{Name: "hang", Kind: Command, Command: "sleep 10",
		AttemptTimeout: 100 * time.Millisecond, Interval: 10 * time.Millisecond, Deadline: 300 * time.Millisecond}
	start := time.Now()
	r := Run(context.Background(), c, &shell{})
	if r.OK || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %s", r, time.Since(start))
	}
}

func TestRunAllNamesTheFailingChecks(t *testing.T) {
	sh := &shell{}
	results, ok := RunAll(context.Background(), []Check{
		fast(Check{Name: "a", Kind: Command, Command: "true"}),
		fast(Check{Name: "b", Kind: Command, Command: "false"}),
		fast(Check{Name: "c", Kind: Command, Command: "true"}),
	}, sh)
	if ok || len(results) != 3 {
		t.Fatalf("ok=%v results=%v", ok, results)
	}
	if got := Failed(results); len(got) != 1 || got[0] != "b: exited with status 1 and printed nothing" {
		t.Fatalf("Failed = %v, want b with its reason", got)
	}
}

// A failed check says why, in the words a person looks for: the port
// refused, no answer in time, the command's exit status and the last line
// it printed (on stderr too, as a host's shell returns it).
func TestFailuresSayWhy(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	// A listener that accepts but never answers HTTP.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	hostShell := runnerFunc(func(ctx context.Context, command string) ([]byte, error) {
		// What apply's host shell returns for a command that ran and failed.
		return []byte("checking units\n"), &ExitError{Code: 3, Output: "warning: 2 units failed\nnginx.service: failed\n"}
	})
	for _, tc := range []struct {
		check  Check
		runner Runner
		want   string
	}{
		{Check{Name: "tcp", Kind: TCP, Address: refused}, nil, "^tcp: failed after [0-9]+ attempt\\(s\\) in [0-9.]+m?s: connection refused$"},
		{Check{Name: "http", Kind: HTTP, URL: "http://" + refused + "/health"}, nil, "^http: failed after [0-9]+ attempt\\(s\\) in [0-9.]+m?s: connection refused$"},
		{Check{Name: "http", Kind: HTTP, URL: "http://" + silent.Addr().String() + "/"}, nil, "^http: failed after [0-9]+ attempt\\(s\\) in [0-9.]+m?s: no answer within 500ms$"},
		{Check{Name: "cmd", Kind: Command, Command: "echo first; echo 'nginx.service failed' >&2; exit 3"}, &shell{}, ": exited with status 3: nginx.service failed$"},
		{Check{Name: "cmd", Kind: Command, Command: "x"}, hostShell, ": exited with status 3: nginx.service: failed$"},
		{Check{Name: "cmd", Kind: Command, Command: "sleep 5", AttemptTimeout: 100 * time.Millisecond}, &shell{}, ": did not finish within 100ms$"},
	} {
		c := fast(tc.check)
		if tc.check.AttemptTimeout != 0 {
			c.AttemptTimeout = tc.check.AttemptTimeout
		}
		r := Run(context.Background(), c, tc.runner)
		if r.OK || !regexp.MustCompile(tc.want).MatchString(r.String()) {
			t.Errorf("%s: %q, want it to match %q", tc.check.Name, r.String(), tc.want)
		}
	}
}

type runnerFunc func(ctx context.Context, command string) ([]byte, error)

func (f runnerFunc) Run(ctx context.Context, command string) ([]byte, error) { return f(ctx, command) }

func TestValidateRejectsUnusableChecks(t *testing.T) {
	for _, c := range []Check{
		{Kind: TCP, Address: "127.0.0.1:22"},
		{Name: "x", Kind: HTTP, URL: "ftp://x"},
		{Name: "x", Kind: HTTP, URL: "http://x", Status: 42},
		{Name: "x", Kind: TCP, Address: "no-port"},
		{Name: "x", Kind: Command},
		{Name: "x", Kind: "ping"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
