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
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// generations deploys generations 1…n of a NixOS fixture machine to each
// of the cluster's hosts and returns the fleet and each host's store paths,
// oldest first.
func generations(t *testing.T, c *testhost.Cluster, n int) (dir string, paths map[string][]string) {
	t.Helper()
	dir = t.TempDir()
	paths = map[string][]string{}
	var dms []testhost.DeployMachine
	for _, h := range c.Hosts {
		dms = append(dms, testhost.DeployMachine{Name: h.Name, Host: h.Name})
	}
	dn, err := c.DeployNix(dms...)
	if err != nil {
		t.Fatal(err)
	}
	for g := 1; g <= n; g++ {
		var ms []testhost.FixtureMachine
		for _, h := range c.Hosts {
			ms = append(ms, testhost.FixtureMachine{Name: h.Name, Platform: platform.NixOS, Generation: fmt.Sprint(g), PayloadBytes: 64 << 10})
		}
		if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": dn}}); err != nil {
			t.Fatal(err)
		}
		s, err := deploy.Run(context.Background(), machines(t, dir), deploy.Options{Flake: dir})
		if err != nil || !s.OK {
			t.Fatalf("deploying generation %d: %v %+v", g, err, s)
		}
		for _, r := range s.Machines {
			paths[r.Machine] = append(paths[r.Machine], r.Path)
		}
	}
	return dir, paths
}

// only is the machine of deploy.nix called name.
func only(t *testing.T, dir, name string) []hosts.Machine {
	t.Helper()
	for _, m := range machines(t, dir) {
		if m.Name == name {
			return []hosts.Machine{m}
		}
	}
	t.Fatalf("no machine %s", name)
	return nil
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

// TestGC runs gc on both kinds of test host (sshd only, and systemd as
// process 1): of five generations, --keep 2 keeps 4 and 5 and also 2, which
// runs now although it is older than every kept one; 1 and 3 go, and so
// does their closure. A host whose deploy lock is held is refused and left
// as it was.
func TestGC(t *testing.T) {
	for _, systemd := range []bool{false, true} {
		kind := map[bool]string{false: "sshd", true: "systemd"}[systemd]
		t.Run(kind, func(t *testing.T) {
			c := hosttest.Start(t, testhost.Options{Names: []string{"gc1", "gc2"}, Systemd: systemd})
			dir, paths := generations(t, c, 5)
			t.Run("keeps what runs and collects the rest", func(t *testing.T) {
				keepsWhatRuns(t, c.Host("gc1"), only(t, dir, "gc1"), paths["gc1"])
			})
			t.Run("refused while a deploy holds the lock", func(t *testing.T) {
				refusedWhileLocked(t, c.Host("gc2"), only(t, dir, "gc2"))
			})
		})
	}
}

func keepsWhatRuns(t *testing.T, h *testhost.Host, ms []hosts.Machine, paths []string) {
	// Generation 2 runs (activated with test): older than every kept one.
	if _, err := h.Run(context.Background(), paths[1]+"/bin/switch-to-configuration test"); err != nil {
		t.Fatal(err)
	}
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

func refusedWhileLocked(t *testing.T, h *testhost.Host, ms []hosts.Machine) {
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
	if got := strings.Join(links(h), " "); got != "1 2 3 4 5" {
		t.Errorf("generations after a refused gc: %s", got)
	}
}
