package status

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/target"
)

const (
	pathA = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-devnix"
	pathB = "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-nixos-system-devnix"
)

func sample() []Machine {
	date := time.Date(2026, 11, 26, 1, 2, 0, 0, time.Local)
	return []Machine{
		{Name: "devnix", Target: "root@127.0.0.2", Platform: "nixos", Reachable: true,
			Generation: &target.Generation{Number: 3, Date: date, Path: pathA, Current: true},
			Running:    pathA, Desired: pathA, InSync: true},
		{Name: "ephem", Target: "root@127.0.0.3", Platform: "nixos", Reachable: true,
			Generation: &target.Generation{Number: 1, Date: date, Path: pathA, Current: true},
			Running:    pathA, Desired: pathB},
		{Name: "devmac", Target: "dylan@127.0.0.4", Desired: pathB, Error: "devmac: cannot connect: Connection refused"},
	}
}

func TestStates(t *testing.T) {
	want := []string{"in sync", "out of sync", "unreachable"}
	for i, m := range sample() {
		if m.State() != want[i] {
			t.Errorf("%s: state %q, want %q", m.Name, m.State(), want[i])
		}
	}
	if (Machine{Reachable: true, Desired: pathA}).State() != "not deployed" {
		t.Error("a reachable machine without a running configuration is not 'not deployed'")
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	r := NewReport(sample())
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	want := `MACHINE  TARGET           STATE        GENERATION  DEPLOYED          RUNNING                       DESIRED
devnix   root@127.0.0.2   in sync      3           2026-11-26 01:02  01234567-nixos-system-devnix  01234567-nixos-system-devnix
ephem    root@127.0.0.3   out of sync  1           2026-11-26 01:02  01234567-nixos-system-devnix  zyxwvsrq-nixos-system-devnix
devmac   dylan@127.0.0.4  unreachable  -           -                 -                             zyxwvsrq-nixos-system-devnix
devmac: cannot connect: Connection refused
`
	if buf.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
	if r.InSync || !r.Unreachable() {
		t.Errorf("report InSync=%v Unreachable=%v", r.InSync, r.Unreachable())
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	NewReport(sample()[:1]).WriteJSON(&buf)
	var got struct {
		InSync   bool
		Machines []struct {
			Name       string
			Reachable  bool
			InSync     bool
			Running    string
			Desired    string
			Generation struct {
				Number int
				Path   string
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	m := got.Machines[0]
	if !got.InSync || !m.InSync || !m.Reachable || m.Generation.Number != 3 || m.Generation.Path != pathA || m.Running != pathA || m.Desired != pathA {
		t.Fatalf("json = %s", buf.String())
	}
}

func TestShortPath(t *testing.T) {
	if got := ShortPath(pathA); got != "01234567-nixos-system-devnix" {
		t.Errorf("ShortPath = %q", got)
	}
	if got := ShortPath("/tmp/x"); got != "/tmp/x" {
		t.Errorf("ShortPath of a non-store path = %q", got)
	}
}

// A machine that was reached but whose configuration does not evaluate is
// an error of the fleet, not a host that is down (exit 1, not 3).
func TestEvaluationErrorIsNotUnreachable(t *testing.T) {
	r := NewReport([]Machine{{Name: "ephem", Reachable: true, Error: "evaluating ephem: error: boom"}})
	if r.Unreachable() {
		t.Error("an evaluation error counts as unreachable")
	}
	if r.InSync {
		t.Error("a machine with an error counts as in sync")
	}
}

// TestPulledMachineFromItsAgent: a pulled machine's state comes from its
// agent's /status; the table says pull and why it is not in sync.
func TestPulledMachineFromItsAgent(t *testing.T) {
	switched := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	polled := time.Now().Add(-time.Hour)
	agentStatus := agent.Status{Machine: "web1", State: agent.StateIdle, AppliedRelease: 3, DesiredRelease: 4,
		Running: pathA, Desired: pathB, Failing: true, NeedsReboot: true, LastPoll: &polled, Started: polled,
		Generation:  &target.Generation{Number: 7, Path: pathA, Current: true},
		LastFailure: &agent.Failure{Stage: agent.StageHealth, Release: 4, Error: "web1: rolled back: health check failed: tcp web1:80\nmore", Time: switched.Add(time.Minute)},
		History: []agent.Deployment{{Release: 3, Path: pathA, Outcome: "switched", Started: switched, Seconds: 2},
			{Release: 4, Path: pathB, Outcome: "ROLLED BACK", Stage: agent.StageHealth, Error: "health check failed: tcp web1:80\nmore", Started: switched.Add(time.Minute)}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(agentStatus)
	}))
	defer srv.Close()
	c := plan.Closure{Machine: hosts.Machine{Name: "web1", Target: "root@web1", Pull: &hosts.Pull{Agent: srv.URL}}, Platform: "nixos", OutPath: pathB}
	m := queryAgent(context.Background(), c, Options{})
	if !m.Reachable || m.Mode != ModePull || m.Running != pathA || m.InSync || m.Generation.Number != 7 || len(m.Agent.History) != 1 {
		t.Fatalf("machine %+v", m)
	}
	// It has run release 3's system since its switch to it; the last
	// deployment rolled back at health; its last poll is an hour old.
	if m.Since == nil || !m.Since.Equal(switched.Add(2*time.Second)) || !m.NeedsReboot || !m.Stale {
		t.Errorf("since %v, needs reboot %v, stale %v", m.Since, m.NeedsReboot, m.Stale)
	}
	if d := m.LastDeploy; d == nil || d.Outcome != "ROLLED BACK" || d.Stage != "health" || d.Error != "health check failed: tcp web1:80" || d.Release != 4 {
		t.Errorf("last deploy %+v", d)
	}
	var buf bytes.Buffer
	r := NewReport([]Machine{m})
	r.WriteTable(&buf)
	for _, want := range []string{"pull: failed at health", "web1: release 4 failed at health: web1: rolled back: health check failed: tcp web1:80\n", "web1: needs a reboot"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	if r.Unreachable() || r.InSync {
		t.Errorf("report %+v", r)
	}

	srv.Close()
	if m := queryAgent(context.Background(), c, Options{}); m.Reachable || !strings.Contains(m.Error, "its agent does not answer") {
		t.Errorf("agent gone: %+v", m)
	}
	c.Machine.Pull.Agent = ""
	if m := queryAgent(context.Background(), c, Options{}); !strings.Contains(m.Error, "gives no address of its agent") {
		t.Errorf("no address: %+v", m)
	}
}

// TestAgentTextIsEscaped: what an agent reports is shown escaped, as what
// hosts send is.
func TestAgentTextIsEscaped(t *testing.T) {
	m := Machine{Name: "web1", Target: "root@web1", Reachable: true, Mode: ModePull, Running: pathA, Desired: pathB,
		Agent: &agent.Status{State: "idle\x1b[2J", Desired: pathB, Failing: true,
			LastFailure: &agent.Failure{Stage: "health\x1b]0;x\a", Release: 2, Error: "bad\x1b[31m red"}}}
	var buf bytes.Buffer
	NewReport([]Machine{m}).WriteTable(&buf)
	if strings.ContainsAny(buf.String(), "\x1b\a") {
		t.Errorf("control characters reached the table:\n%q", buf.String())
	}
}
