package testhost_test

// Integration tests of nixherd's deploy pipeline (internal/deploy) against
// real test hosts: real nix, real OpenSSH, separate stores.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testhost"
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
func (f *fleet) deploy(ctx context.Context, action target.Action, selectors ...string) (*deploy.Summary, map[string]deploy.Result) {
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
	byName := map[string]deploy.Result{}
	for _, r := range sum.Results {
		byName[r.Machine] = r
	}
	return sum, byName
}

func nixosMachines(gen string, names ...string) []testhost.FixtureMachine {
	var ms []testhost.FixtureMachine
	for _, n := range names {
		ms = append(ms, testhost.FixtureMachine{Name: n, Platform: testhost.NixOS, Generation: gen, PayloadBytes: 64 << 10})
	}
	return ms
}

const systemProfile = "/nix/var/nix/profiles/system"

// Five hosts deployed in parallel all end on the new generation with the
// closure in their own store; a second run with nothing changed copies
// nothing; with one host down the others still switch and the run fails,
// naming that host.
func TestDeployFiveHosts(t *testing.T) {
	names := []string{"h1", "h2", "h3", "h4", "h5"}
	c := testhost.Start(t, testhost.Options{Names: names})
	f := newFleet(t, c, nixosMachines("1", names...)...)
	ctx := context.Background()

	sum, res := f.deploy(ctx, target.Switch)
	if !sum.OK {
		t.Fatalf("first deploy failed: %+v", sum.Results)
	}
	for _, n := range names {
		h, r := c.Host(n), res[n]
		if r.Outcome != deploy.Switched || r.CopiedPaths == 0 {
			t.Errorf("%s: outcome %s, copied %d paths", n, r.Outcome, r.CopiedPaths)
		}
		if h.CurrentSystem() != r.Path || h.Profile(systemProfile) != r.Path {
			t.Errorf("%s runs %q, profile %q, want %s", n, h.CurrentSystem(), h.Profile(systemProfile), r.Path)
		}
		for _, p := range closureOf(t, r.Path) {
			if !h.HasStorePath(p) {
				t.Errorf("%s lacks %s of its closure", n, p)
			}
		}
	}

	sum, res = f.deploy(ctx, target.Switch)
	if !sum.OK {
		t.Fatalf("second deploy failed: %+v", sum.Results)
	}
	for _, n := range names {
		if r := res[n]; r.CopiedPaths != 0 || r.CopiedBytes != 0 {
			t.Errorf("%s: unchanged redeploy copied %d paths (%d bytes)", n, r.CopiedPaths, r.CopiedBytes)
		}
	}

	// A new generation with h3 down.
	if err := c.Host("h3").Stop(); err != nil {
		t.Fatal(err)
	}
	f.write(nixosMachines("2", names...)...)
	sum, res = f.deploy(ctx, target.Switch)
	if sum.OK {
		t.Fatal("deploy with a host down reported success")
	}
	if r := res["h3"]; r.Outcome != deploy.Unreachable {
		t.Errorf("h3: outcome %s (%s), want unreachable", r.Outcome, r.Error)
	}
	if failed := sum.Failed(); len(failed) != 1 || failed[0] != "h3" {
		t.Errorf("failed machines %v, want [h3]", failed)
	}
	var table strings.Builder
	sum.WriteTable(&table)
	if !strings.Contains(table.String(), "h3") || !strings.Contains(table.String(), "unreachable") {
		t.Errorf("summary does not name h3 as unreachable:\n%s", table.String())
	}
	for _, n := range []string{"h1", "h2", "h4", "h5"} {
		if r := res[n]; r.Outcome != deploy.Switched || c.Host(n).CurrentSystem() != r.Path {
			t.Errorf("%s: outcome %s, runs %q, want %s", n, r.Outcome, c.Host(n).CurrentSystem(), r.Path)
		}
	}
}

// closureOf lists the local closure of a store path.
func closureOf(t *testing.T, p string) []string {
	t.Helper()
	out, err := execOutput("nix-store", "-qR", p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}

// A second deploy to a host that is being deployed is refused; the first
// one finishes.
func TestConcurrentDeploysToOneHostRefuseTheSecond(t *testing.T) {
	c := testhost.Start(t, testhost.Options{Names: []string{"busy"}})
	slow := testhost.FixtureMachine{Name: "busy", Platform: testhost.NixOS, Generation: "slow", ActivateScript: "sleep 4"}
	f := newFleet(t, c, slow)
	h := c.Host("busy")
	ctx := context.Background()

	var first deploy.Result
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, res := f.deploy(ctx, target.Switch)
		first = res["busy"]
	}()
	// Wait until the first deploy holds the host's lock.
	if err := waitFor(20*time.Second, func() bool {
		_, err := os.Stat(h.Path("/run/nixherd/deploy.lock"))
		return err == nil
	}); err != nil {
		wg.Wait()
		t.Fatalf("first deploy never reached activation: %v (result %+v)", err, first)
	}
	sum, res := f.deploy(ctx, target.Switch)
	wg.Wait()
	if sum.OK || res["busy"].Outcome != deploy.Refused {
		t.Errorf("second deploy: outcome %s (%s), want refused", res["busy"].Outcome, res["busy"].Error)
	}
	if !strings.Contains(res["busy"].Error, "in progress") {
		t.Errorf("refusal does not say the host is being deployed: %q", res["busy"].Error)
	}
	if first.Outcome != deploy.Switched || h.CurrentSystem() != first.Path {
		t.Errorf("first deploy: outcome %s (%s), host runs %q", first.Outcome, first.Error, h.CurrentSystem())
	}
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// switch, boot and test do what nixos-rebuild's do: boot makes a new
// generation the boot default without running it; test runs it without a
// new generation or boot default.
func TestDeployActions(t *testing.T) {
	c := testhost.Start(t, testhost.Options{Names: []string{"box"}})
	h := c.Host("box")
	f := newFleet(t, c, nixosMachines("1", "box")...)
	ctx := context.Background()

	_, res := f.deploy(ctx, target.Switch)
	gen1 := res["box"].Path
	if res["box"].Outcome != deploy.Switched || h.CurrentSystem() != gen1 || h.BootDefault() != gen1 {
		t.Fatalf("switch: %+v; runs %q, boots %q", res["box"], h.CurrentSystem(), h.BootDefault())
	}

	f.write(nixosMachines("2", "box")...)
	_, res = f.deploy(ctx, target.Boot)
	gen2 := res["box"].Path
	if res["box"].Outcome != deploy.Booted || gen2 == gen1 {
		t.Fatalf("boot: %+v", res["box"])
	}
	if h.CurrentSystem() != gen1 || h.BootDefault() != gen2 || h.Profile(systemProfile) != gen2 {
		t.Errorf("after boot: runs %q (want %s), boots %q, profile %q (want %s)", h.CurrentSystem(), gen1, h.BootDefault(), h.Profile(systemProfile), gen2)
	}

	f.write(nixosMachines("3", "box")...)
	_, res = f.deploy(ctx, target.Test)
	gen3 := res["box"].Path
	if res["box"].Outcome != deploy.Tested {
		t.Fatalf("test: %+v", res["box"])
	}
	if h.CurrentSystem() != gen3 || h.BootDefault() != gen2 || h.Profile(systemProfile) != gen2 {
		t.Errorf("after test: runs %q (want %s), boots %q, profile %q (want %s)", h.CurrentSystem(), gen3, h.BootDefault(), h.Profile(systemProfile), gen2)
	}
	acts, _ := h.Activations()
	var got []string
	for _, a := range acts {
		got = append(got, a.Action)
	}
	if strings.Join(got, ",") != "switch,boot,test" {
		t.Errorf("activations on the host: %v", got)
	}
}

// A nix-darwin machine gets its profile set and activate run (after the old
// activate-user); a standalone home-manager configuration gets its profile
// and activate.
func TestDeployDarwinAndHome(t *testing.T) {
	c := testhost.Start(t, testhost.Options{Names: []string{"mac", "laptop"}})
	mac := testhost.FixtureMachine{Name: "mac", Platform: testhost.Darwin, Generation: "1", ActivateUser: true}
	home := testhost.FixtureMachine{Name: "root@laptop", Platform: testhost.Home, Generation: "1"}
	f := newFleet(t, c, mac, home)
	sum, res := f.deploy(context.Background(), target.Switch)
	if !sum.OK {
		t.Fatalf("deploy: %+v", sum.Results)
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

func execOutput(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return string(out), nil
}
