package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/plan"
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
func queryAgent(ctx context.Context, c plan.Closure) Machine {
	m := Machine{Name: c.Machine.Name, Target: c.Machine.Target, Platform: string(c.Platform), Desired: c.OutPath, Mode: ModePull}
	addr := c.Machine.Pull.Agent
	if addr == "" {
		m.Error = fmt.Sprintf("%s: pulled, but deploy.nix gives no address of its agent (pull.agent)", m.Name)
		return m
	}
	st, err := AgentStatus(ctx, addr)
	if err != nil {
		m.Error = fmt.Sprintf("%s: %v", m.Name, err)
		return m
	}
	m.Reachable = true
	if c.Err != nil {
		m.Error = c.Err.Error()
	}
	m.Running, m.Generation = st.Running, st.Generation
	m.InSync = m.Running != "" && m.Running == m.Desired
	if n := len(st.History); n > 1 {
		st.History = st.History[n-1:]
	}
	m.Agent = &st
	return m
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
