package gc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/gc"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/testhost"
)

// generations deploys generations 1…n of a NixOS fixture machine to the
// test host h and returns their store paths.
func generations(t *testing.T, c *testhost.Cluster, h *testhost.Host, n int) (dir string, paths []string) {
	t.Helper()
	dir = t.TempDir()
	for g := 1; g <= n; g++ {
		m := testhost.FixtureMachine{Name: h.Name, Platform: platform.NixOS, Generation: fmt.Sprint(g), PayloadBytes: 64 << 10}
		dn, err := c.DeployNix(testhost.DeployMachine{Name: h.Name, Host: h.Name})
		if err != nil {
			t.Fatal(err)
		}
		if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: []testhost.FixtureMachine{m}, Files: map[string]string{"deploy.nix": dn}}); err != nil {
			t.Fatal(err)
		}
		s, err := deploy.Run(context.Background(), machines(t, dir), deploy.Options{Flake: dir})
		if err != nil || !s.OK {
			t.Fatalf("deploying generation %d: %v %+v", g, err, s)
		}
		paths = append(paths, s.Machines[0].Path)
	}
	return dir, paths
}

func machines(t *testing.T, dir string) []hosts.Machine {
	t.Helper()
	inv, err := hosts.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Machines
}

func links(h *testhost.Host) []string {
	var out []string
	for g := 1; g <= 9; g++ {
		if h.Profile(fmt.Sprintf("/nix/var/nix/profiles/system-%d-link", g)) != "" {
			out = append(out, fmt.Sprint(g))
		}
	}
	return out
}

// TestGCKeepsWhatRunsAndCollectsTheRest: of five generations, --keep 2
// keeps 4 and 5 and also 2, which runs now although it is older than every
// kept one; 1 and 3 go, and so does their closure.
func TestGCKeepsWhatRunsAndCollectsTheRest(t *testing.T) {
	c := testhost.Start(t, testhost.Options{Names: []string{"gc1"}})
	h := c.Host("gc1")
	dir, paths := generations(t, c, h, 5)
	// Generation 2 runs (activated with test): older than every kept one.
	if _, err := h.Run(context.Background(), paths[1]+"/bin/switch-to-configuration test"); err != nil {
		t.Fatal(err)
	}
	ms := machines(t, dir)

	dry, err := gc.Run(context.Background(), ms, gc.Options{Keep: 2, DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(links(h), " "); got != "1 2 3 4 5" || dry.Hosts[0].Outcome != gc.WouldCollect || dry.FreedBytes <= 0 {
		t.Fatalf("dry run: links %s, outcome %s, would free %d", got, dry.Hosts[0].Outcome, dry.FreedBytes)
	}

	s, err := gc.Run(context.Background(), ms, gc.Options{Keep: 2}, report.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Hosts[0]
	if !s.OK || r.Outcome != gc.Collected || len(r.Profiles) != 1 || fmt.Sprint(r.Profiles[0].Kept) != "[2 4 5]" || fmt.Sprint(r.Profiles[0].Deleted) != "[1 3]" {
		t.Fatalf("gc: %+v", s)
	}
	if got := strings.Join(links(h), " "); got != "2 4 5" {
		t.Errorf("generations left: %s, want 2 4 5", got)
	}
	for i, p := range paths {
		kept := i == 1 || i >= 3
		if h.HasStorePath(p) != kept {
			t.Errorf("generation %d (%s): in the store %v, want %v", i+1, p, !kept, kept)
		}
	}
	if h.CurrentSystem() != paths[1] || r.FreedBytes <= 0 || s.FreedBytes != r.FreedBytes {
		t.Errorf("runs %s, freed %d (total %d)", h.CurrentSystem(), r.FreedBytes, s.FreedBytes)
	}
}

// TestGCRefusedWhileADeployHoldsTheLock: a host mid-deploy is left alone.
func TestGCRefusedWhileADeployHoldsTheLock(t *testing.T) {
	c := testhost.Start(t, testhost.Options{Names: []string{"gc2"}})
	h := c.Host("gc2")
	dir, _ := generations(t, c, h, 3)
	ms := machines(t, dir)

	// Hold the host's deploy lock as a deploy in progress would.
	fleet, err := fanout.New(ms, fanout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	r, err := fleet.Hosts()[0].Connect(context.Background(), ms[0])
	if err != nil {
		t.Fatal(err)
	}
	lock, err := apply.Lock(context.Background(), r, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gc.Run(context.Background(), ms, gc.Options{Keep: 1}, nil)
	lock.Release()
	if err != nil {
		t.Fatal(err)
	}
	if res := s.Hosts[0]; s.OK || res.Outcome != report.Refused || !errors.Is(res.Err, apply.ErrLocked) {
		t.Fatalf("gc of a locked host: %+v", res)
	}
	if got := strings.Join(links(h), " "); got != "1 2 3" {
		t.Errorf("generations after a refused gc: %s", got)
	}
}
