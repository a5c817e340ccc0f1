package deploy_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testhost"
)

// testFleet is a fixture flake and its deploy.nix, pointing at test hosts.
type testFleet struct {
	t        *testing.T
	c        *testhost.Cluster
	dir      string
	machines []testhost.FixtureMachine
	// deploy.nix entries by machine name, beyond target and sshOptions.
	extra map[string]string
	// unreachable machines: name → target where nothing listens.
	unreachable map[string]string
	// sshConfig replaces the cluster's ssh_config for a machine.
	sshConfig map[string]string
}

func newFleet(t *testing.T, c *testhost.Cluster, ms ...testhost.FixtureMachine) *testFleet {
	f := &testFleet{t: t, c: c, dir: t.TempDir(), machines: ms, extra: map[string]string{}, unreachable: map[string]string{}, sshConfig: map[string]string{}}
	f.write()
	return f
}

// hostOf is the test host a fixture machine is deployed to: home-manager
// machines are named user@host.
func hostOf(m testhost.FixtureMachine) string {
	if _, h, ok := strings.Cut(m.Name, "@"); ok {
		return h
	}
	return m.Name
}

func (f *testFleet) write() {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("{\n  machines = {\n")
	for _, m := range f.machines {
		h := f.c.Host(hostOf(m))
		ssh := f.sshConfig[hostOf(m)]
		if ssh == "" {
			ssh = f.c.SSHConfig
		}
		fmt.Fprintf(&b, "    %q = { target = %q; configuration = %q; tags = [ %q ]; sshOptions = [ \"-F\" %q ]; %s };\n",
			hostOf(m), h.Target(), m.Name, string(m.Platform), ssh, f.extra[hostOf(m)])
	}
	for name, tgt := range f.unreachable {
		fmt.Fprintf(&b, "    %q = { target = %q; platform = \"nixos\"; configuration = %q; sshOptions = [ \"-F\" %q ]; };\n", name, tgt, f.machines[0].Name, f.c.SSHConfig)
	}
	b.WriteString("  };\n}\n")
	err := testhost.WriteFixture(f.dir, testhost.FixtureOptions{Machines: f.machines, Files: map[string]string{"deploy.nix": b.String()}})
	if err != nil {
		f.t.Fatal(err)
	}
}

// setGeneration gives every machine matching names a new generation.
func (f *testFleet) setGeneration(gen string, names ...string) {
	for i := range f.machines {
		for _, n := range names {
			if hostOf(f.machines[i]) == n {
				f.machines[i].Generation = gen
			}
		}
	}
	f.write()
}

func (f *testFleet) deploy(o deploy.Options, selectors ...string) *report.Summary {
	f.t.Helper()
	s, err := f.tryDeploy(o, selectors...)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *testFleet) tryDeploy(o deploy.Options, selectors ...string) (*report.Summary, error) {
	ctx := context.Background()
	inv, err := hosts.Load(ctx, f.dir)
	if err != nil {
		return nil, err
	}
	ms, err := inv.Select(selectors, len(selectors) == 0)
	if err != nil {
		return nil, err
	}
	o.Flake = f.dir
	if o.Reporter == nil {
		o.Reporter = &report.Lines{W: testWriter{f.t}}
	}
	return deploy.Run(ctx, ms, o)
}

// toplevel is what the fleet currently evaluates a machine to.
func (f *testFleet) toplevel(host string) string {
	f.t.Helper()
	for _, r := range f.deploy(deploy.Options{Action: target.Build}, host).Machines {
		return r.Path
	}
	return ""
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func result(t *testing.T, s *report.Summary, machine string) report.Result {
	t.Helper()
	for _, r := range s.Machines {
		if r.Machine == machine {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", machine, s.Machines)
	return report.Result{}
}

func nixos(name, gen string) testhost.FixtureMachine {
	return testhost.FixtureMachine{Name: name, Platform: platform.NixOS, Generation: gen, PayloadBytes: 4096}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
