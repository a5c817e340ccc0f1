package agent

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// TestGrafanaDashboardNamesRealMetrics: examples/grafana/nixherd-agents.json
// is valid JSON and every query in it names only metrics the agent really
// exports (a histogram's _bucket, _sum and _count included), so renaming a
// metric breaks this test, not a user's dashboard.
func TestGrafanaDashboardNamesRealMetrics(t *testing.T) {
	data, err := os.ReadFile("../../examples/grafana/nixherd-agents.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Query any }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	m := newMetrics("m", "v")
	// A vector shows in a scrape once it has a series.
	m.lastFailureAt.WithLabelValues("fetch")
	m.deployments.WithLabelValues("switched")
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[f.GetName()+s] = true
			}
		}
	}
	name := regexp.MustCompile(`nixherd_[a-z_]+`)
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if !name.MatchString(q.Expr) {
				t.Errorf("panel %q: %q names no nixherd metric", p.Title, q.Expr)
			}
			exprs = append(exprs, q.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(string); ok {
			exprs = append(exprs, s)
		}
	}
	used := 0
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			used++
			if !exported[n] {
				t.Errorf("%q names %s, which the agent does not export", e, n)
			}
		}
	}
	if len(dash.Panels) < 5 || used < 10 {
		t.Errorf("%d panels, %d metric references: not much of a dashboard", len(dash.Panels), used)
	}
}
