package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/report"
)

// Modes of a machine (Machine.Mode).
const (
	ModePush = "push"
	ModePull = "pull"
)

// agentTimeout bounds one request to an agent's /status.
const agentTimeout = 10 * time.Second

var agentClient = &http.Client{Timeout: agentTimeout}

// queryAgent reads a pulled machine's state from its agent's /status; the
// desired configuration is still the flake's, so that a release that lags
// behind the flake shows.
func queryAgent(ctx context.Context, c plan.Closure, o Options) Machine {
	o.defaults()
	m := Machine{Name: c.Machine.Name, Target: c.Machine.Target, Platform: string(c.Platform), Desired: c.OutPath, Mode: ModePull}
	addr := c.Machine.Pull.Agent
	if addr == "" {
		m.Error = fmt.Sprintf("%s: pulled, but deploy.nix gives no address of its agent (pull.agent)", m.Name)
		return m
	}
	st, err := AgentStatus(ctx, addr)
	if err != nil {
		m.Error = fmt.Sprintf("%s: %v", m.Name, err)
		m.Stale = true
		return m
	}
	m.Reachable = true
	if c.Err != nil {
		m.Error = c.Err.Error()
	}
	m.Running, m.Generation, m.NeedsReboot = st.Running, st.Generation, st.NeedsReboot
	m.InSync = m.Running != "" && m.Running == m.Desired
	m.LastSeen = st.LastPoll
	m.Stale = st.LastPoll == nil && o.Now().Sub(st.Started) > o.StaleAfter ||
		st.LastPoll != nil && o.Now().Sub(*st.LastPoll) > o.StaleAfter
	m.Since, m.LastDeploy = agentHistory(st)
	if n := len(st.History); n > 1 {
		st.History = st.History[n-1:]
	}
	m.Agent = &st
	return m
}

// agentHistory reads when a pulled machine began to run what it runs (its
// last switch to it, else its generation's date) and its last deployment.
func agentHistory(st agent.Status) (*time.Time, *Deploy) {
	var since *time.Time
	if g := st.Generation; g != nil && g.Path == st.Running && !g.Date.IsZero() {
		d := g.Date
		since = &d
	}
	var last *Deploy
	for i := len(st.History) - 1; i >= 0; i-- {
		d := st.History[i]
		end := d.Started.Add(time.Duration(d.Seconds * float64(time.Second)))
		if last == nil {
			first, _, _ := strings.Cut(d.Error, "\n")
			last = &Deploy{Outcome: string(d.Outcome), Stage: string(d.Stage), Error: first, Time: end, Release: d.Release, Path: d.Path}
		}
		if d.Outcome == report.Switched && d.Path == st.Running {
			since = &end
			break
		}
	}
	// A poll that failed before any deployment (fetch, verify, realise) is
	// the last word when it is newer.
	if f := st.LastFailure; st.Failing && f != nil && (last == nil || f.Time.After(last.Time)) {
		first, _, _ := strings.Cut(f.Error, "\n")
		last = &Deploy{Outcome: string(report.Failed), Stage: string(f.Stage), Error: first, Time: f.Time, Release: f.Release, Path: f.Path}
	}
	return since, last
}

// AgentStatus reads an agent's /status (addr is http://host:port).
func AgentStatus(ctx context.Context, addr string) (agent.Status, error) {
	var st agent.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := agentClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("its agent does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("its agent answered %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("its agent's /status: %w", err)
	}
	return st, nil
}

// pullState names a pulled machine's situation for the table.
func (m Machine) pullState() string {
	a := m.Agent
	switch {
	case m.InSync:
		return "pull: in sync"
	case a.Failing && a.LastFailure != nil:
		return "pull: failed at " + string(a.LastFailure.Stage)
	case a.Desired != m.Desired:
		return "pull: not published"
	}
	return "pull: " + a.State
}
