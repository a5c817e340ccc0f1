package testhost_test

// The fixture's darwin and home-manager configurations through nixherd's
// real deploy pipeline (internal/deploy, whose own tests cover NixOS fleets).

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// fleet is a fixture flake with a deploy.nix placing each machine on the
// test host of the same name (home machines "user@host" on host).
type fleet struct {
	t        *testing.T
	c        *testhost.Cluster
	dir      string
	machines []testhost.FixtureMachine
}

func newFleet(t *testing.T, c *testhost.Cluster, ms ...testhost.FixtureMachine) *fleet {
	f := &fleet{t: t, c: c, dir: t.TempDir()}
	f.write(ms...)
	return f
}

// write (re)writes the flake and deploy.nix for ms.
func (f *fleet) write(ms ...testhost.FixtureMachine) {
	f.t.Helper()
	f.machines = ms
	var dms []testhost.DeployMachine
	for _, m := range ms {
		host := m.Name
		if i := strings.Index(host, "@"); i >= 0 {
			host = host[i+1:]
		}
		dms = append(dms, testhost.DeployMachine{Name: m.Name, Host: host, Platform: string(m.Platform)})
	}
	dn, err := f.c.DeployNix(dms...)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := testhost.WriteFixture(f.dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": dn}}); err != nil {
		f.t.Fatal(err)
	}
}

// deploy runs nixherd's deploy pipeline on the selected machines (all when
// none) and returns the results by machine.
func (f *fleet) deploy(ctx context.Context, action target.Action, selectors ...string) (*report.Summary, map[string]report.Result) {
	f.t.Helper()
	inv, err := hosts.Load(ctx, filepath.Join(f.dir, "deploy.nix"))
	if err != nil {
		f.t.Fatal(err)
	}
	ms, err := inv.Select(selectors, len(selectors) == 0)
	if err != nil {
		f.t.Fatal(err)
	}
	sum, err := deploy.Run(ctx, ms, deploy.Options{Flake: f.dir, Action: action})
	if err != nil {
		f.t.Fatalf("deploy: %v", err)
	}
	byName := map[string]report.Result{}
	for _, r := range sum.Machines {
		byName[r.Machine] = r
	}
	return sum, byName
}

// A nix-darwin machine gets its profile set and activate run (after the old
// activate-user); a standalone home-manager configuration gets its profile
// and activate.
func TestDeployDarwinAndHome(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"mac", "laptop"}})
	mac := testhost.FixtureMachine{Name: "mac", Platform: platform.Darwin, Generation: "1", ActivateUser: true}
	home := testhost.FixtureMachine{Name: "root@laptop", Platform: platform.Home, Generation: "1"}
	f := newFleet(t, c, mac, home)
	sum, res := f.deploy(context.Background(), target.Switch)
	if !sum.OK {
		t.Fatalf("deploy: %+v", sum.Machines)
	}
	m := c.Host("mac")
	if p := res["mac"].Path; m.CurrentSystem() != p || m.Profile(systemProfile) != p {
		t.Errorf("mac runs %q, profile %q, want %s", m.CurrentSystem(), m.Profile(systemProfile), p)
	}
	acts, _ := m.Activations()
	var got []string
	for _, a := range acts {
		got = append(got, a.Action)
	}
	if strings.Join(got, ",") != "activate-user,activate" {
		t.Errorf("darwin activations %v, want activate-user then activate", got)
	}
	l := c.Host("laptop")
	if p := res["root@laptop"].Path; l.HomeGeneration("root") != p {
		t.Errorf("home generation %q, want %s", l.HomeGeneration("root"), p)
	}
	if l.CurrentSystem() != "" {
		t.Errorf("a home-manager deploy changed the system: %q", l.CurrentSystem())
	}
}

const systemProfile = "/nix/var/nix/profiles/system"
