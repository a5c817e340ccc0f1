package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
)

func inventory() *hosts.Inventory {
	ms := []hosts.Machine{
		{Name: "c1", Tags: []string{"canary"}}, {Name: "w1", Tags: []string{"web"}}, {Name: "w2", Tags: []string{"web"}},
		{Name: "w3", Tags: []string{"web", "canary"}}, {Name: "db", Tags: []string{"db"}},
	}
	return &hosts.Inventory{File: "deploy.nix", Machines: ms}
}

func names(ws []Wave) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name+":"+strings.Join(w.Names(), ","))
	}
	return strings.Join(out, " ")
}

func TestSplitGivesEachMachineItsFirstWave(t *testing.T) {
	inv := inventory()
	ws, err := Split(inv, inv.Machines, []hosts.Wave{{Name: "canary", Selectors: []string{"@canary"}}, {Name: "web", Selectors: []string{"@web"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ws); got != "canary:c1,w3 web:w1,w2 rest:db" {
		t.Fatalf("waves %s", got)
	}
	// Only the selected machines take part.
	sel, _ := inv.Select([]string{"w*"}, false)
	ws, err = Split(inv, sel, []hosts.Wave{{Name: "canary", Selectors: []string{"@canary"}}})
	if err != nil || names(ws) != "canary:w3 rest:w1,w2" {
		t.Fatalf("waves %s, %v", names(ws), err)
	}
	// A wave that selects nothing is refused before anything happens.
	if _, err := Split(inv, inv.Machines, []hosts.Wave{{Name: "web", Selectors: []string{"@web"}}, {Name: "again", Selectors: []string{"w1"}}}); !errors.Is(err, ErrEmptyWave) {
		t.Fatalf("an empty wave: %v", err)
	}
	if _, err := Split(inv, inv.Machines, []hosts.Wave{{Name: "typo", Selectors: []string{"@canry"}}}); err == nil || !strings.Contains(err.Error(), "@canry") {
		t.Fatalf("a wave matching nothing: %v", err)
	}
}

// stage is a fake rollout stage: machines in fail fail to deploy, those in
// sick are unhealthy after the soak.
type stage struct {
	fail, sick map[string]string
	deployed   []string
}

func (s *stage) Deploy(_ context.Context, w Wave) (*report.Summary, error) {
	var rs []report.Result
	for _, m := range w.Machines {
		s.deployed = append(s.deployed, m.Name)
		r := report.Result{Machine: m.Name, Outcome: report.Switched}
		if why, ok := s.fail[m.Name]; ok {
			r.Outcome, r.Error = report.RolledBack, why
		}
		rs = append(rs, r)
	}
	return report.NewSummary(rs, 0), nil
}

func (s *stage) Healthy(_ context.Context, w Wave) (map[string]string, error) {
	bad := map[string]string{}
	for _, m := range w.Machines {
		if why, ok := s.sick[m.Name]; ok {
			bad[m.Name] = why
		}
	}
	return bad, nil
}

type quiet struct{}

func (quiet) Wave(int, Wave, string) {}

func waves(t *testing.T) []Wave {
	inv := inventory()
	ws, err := Split(inv, inv.Machines, []hosts.Wave{{Name: "canary", Selectors: []string{"c1"}, Soak: time.Millisecond}, {Name: "web", Selectors: []string{"@web"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestAFailedWaveHaltsTheRollout(t *testing.T) {
	s := &stage{fail: map[string]string{"w2": "health check failed: http://w2/health: connection refused"}}
	res := Run(context.Background(), waves(t), s, quiet{})
	if res.OK() || res.Halt.Wave != "web" || res.Halt.Machine != "w2" || !strings.Contains(res.Halt.Reason, "connection refused") {
		t.Fatalf("halt %+v", res.Halt)
	}
	if strings.Join(s.deployed, ",") != "c1,w1,w2,w3" {
		t.Errorf("deployed %v: the last wave (db) must not be", s.deployed)
	}
	sum := res.Summary(1)
	if r, _ := sum.Result("db"); r.Outcome != report.NotStarted || !strings.Contains(r.Error, "halted in wave web (w2)") {
		t.Errorf("db: %+v", r)
	}
	if sum.OK {
		t.Error("a halted rollout is OK")
	}
}

func TestAWaveUnhealthyAfterItsSoakHaltsTheRollout(t *testing.T) {
	s := &stage{sick: map[string]string{"c1": "runs the old system"}}
	res := Run(context.Background(), waves(t), s, quiet{})
	if res.OK() || res.Halt.Wave != "canary" || res.Halt.Machine != "c1" {
		t.Fatalf("halt %+v", res.Halt)
	}
	if strings.Join(s.deployed, ",") != "c1" {
		t.Errorf("deployed %v after the canary went bad", s.deployed)
	}
	if r, _ := res.Summary(1).Result("c1"); r.Outcome != report.Failed || !strings.Contains(r.Error, "unhealthy after the soak") {
		t.Errorf("c1: %+v", r)
	}
}

func TestAllWavesWhenAllIsWell(t *testing.T) {
	s := &stage{}
	res := Run(context.Background(), waves(t), s, quiet{})
	if !res.OK() || len(s.deployed) != 5 || !res.Summary(1).OK {
		t.Fatalf("result %+v, deployed %v", res, s.deployed)
	}
}
