package deploy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
	"github.com/nixherd/nixherd/internal/ui"
)

// TestDeployDarwinAndHomeManager deploys a nix-darwin system (with the old
// activate-user) and a standalone home-manager generation, each to its own
// test host, in one run.
func TestDeployDarwinAndHomeManager(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"mac", "hm"}})
	mac := testhost.FixtureMachine{Name: "mac", Platform: platform.Darwin, Generation: "1", ActivateUser: true}
	home := testhost.FixtureMachine{Name: "root@hm", Platform: platform.Home, Generation: "1"}
	f := newFleet(t, c, mac, home)

	s := f.deploy(deploy.Options{})
	if !s.OK {
		t.Fatalf("summary: %+v", s.Machines)
	}
	rm, rh := result(t, s, "mac"), result(t, s, "hm")
	if rm.Platform != "darwin" || rm.Outcome != report.Switched || rm.Generation != 1 {
		t.Errorf("mac: %+v", rm)
	}
	m := c.Host("mac")
	if m.Profile(target.SystemProfile) != rm.Path || m.CurrentSystem() != rm.Path {
		t.Errorf("mac: profile %s, current %s, want %s", m.Profile(target.SystemProfile), m.CurrentSystem(), rm.Path)
	}
	var actions []string
	for _, a := range activationsOf(t, m) {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "activate-user,activate" {
		t.Errorf("mac activations = %v, want activate-user then activate", actions)
	}

	if rh.Platform != "home" || rh.Outcome != report.Switched || rh.Generation != 1 {
		t.Errorf("hm: %+v", rh)
	}
	h := c.Host("hm")
	if got := h.HomeGeneration("root"); got != rh.Path {
		t.Errorf("hm: active home generation %q, want %s", got, rh.Path)
	}
	if got := h.Profile("/nix/var/nix/profiles/per-user/root/home-manager"); got != rh.Path {
		t.Errorf("hm: home-manager profile %q, want %s", got, rh.Path)
	}
	if h.Profile(target.SystemProfile) != "" {
		t.Error("a home-manager deploy set the system profile")
	}

	t.Run("darwin has no boot action", func(t *testing.T) {
		s := f.deploy(deploy.Options{Action: target.Boot}, "mac")
		if r := result(t, s, "mac"); r.Outcome != report.Failed || !strings.Contains(r.Error, "nix-darwin has no boot action") {
			t.Errorf("mac boot: %+v", r)
		}
	})

	t.Run("a platform the flake lacks is named", func(t *testing.T) {
		f.extra["mac"] = `platform = "nixos";`
		defer func() { delete(f.extra, "mac"); f.write() }()
		f.write()
		s := f.deploy(deploy.Options{}, "mac")
		if r := result(t, s, "mac"); r.Outcome != report.Failed || !strings.Contains(r.Error, `the flake has no "mac" in nixosConfigurations (deploy.nix `) {
			t.Errorf("mac as nixos: %+v", r)
		}
	})

	t.Run("guard refuses a closure of the wrong kind", func(t *testing.T) {
		pool, err := remote.NewPool()
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		ctx := context.Background()
		r, err := pool.Dial(ctx, "mac", mustAddress(t, m.Target()), c.SSHArgs())
		if err != nil {
			t.Fatal(err)
		}
		if err := (target.NixOS{}).Guard(ctx, r, rm.Path); err == nil || !strings.Contains(err.Error(), "is not a NixOS system") {
			t.Errorf("NixOS guard on a darwin system: %v", err)
		}
		if err := (target.Darwin{}).Guard(ctx, r, rm.Path); err != nil {
			t.Errorf("darwin guard on a darwin system: %v", err)
		}
	})
}

// TestDeploySystemAndHomeToOneHost deploys a nix-darwin system and a
// home-manager configuration that live on the same host (one ssh target) in
// one run: one connection, one deploy lock for both, the system activated
// before the home, and neither refused by the run's own lock.
func TestDeploySystemAndHomeToOneHost(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"mac"}})
	h := c.Host("mac")
	// Each activation takes a second, so without one lock for the host the
	// second machine would find the first one's lock taken.
	sys := testhost.FixtureMachine{Name: "mac", Platform: platform.Darwin, Generation: "1", ActivateScript: "sleep 1"}
	home := testhost.FixtureMachine{Name: "root@mac", Platform: platform.Home, Generation: "1", ActivateScript: "sleep 1"}
	dir := t.TempDir()
	deployNix := fmt.Sprintf(`{
  defaults.sshOptions = [ "-F" %q ];
  machines = {
    mac-home = { target = %q; configuration = "root@mac"; platform = "home"; };
    mac = { target = %q; platform = "darwin"; };
  };
}
`, c.SSHConfig, h.Target(), h.Target())
	if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: []testhost.FixtureMachine{sys, home}, Files: map[string]string{"deploy.nix": deployNix}}); err != nil {
		t.Fatal(err)
	}
	inv, err := hosts.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var locks []string
	s, err := deploy.Run(context.Background(), inv.Machines, deploy.Options{Flake: dir, Reporter: report.Func(func(e report.Event) {
		t.Logf("%s %s %s %v", e.Machine, e.Phase, e.Detail, e.Err)
		if e.Phase == report.PhaseLock {
			locks = append(locks, e.Machine)
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	if !s.OK {
		t.Fatalf("summary: %+v", s.Machines)
	}
	rs, rh := result(t, s, "mac"), result(t, s, "mac-home")
	if rs.Outcome != report.Switched || rh.Outcome != report.Switched {
		t.Errorf("outcomes: mac %+v, mac-home %+v", rs, rh)
	}
	if h.Profile(target.SystemProfile) != rs.Path || h.HomeGeneration("root") != rh.Path {
		t.Errorf("system profile %s (want %s), home generation %s (want %s)", h.Profile(target.SystemProfile), rs.Path, h.HomeGeneration("root"), rh.Path)
	}
	var acts []string
	for _, a := range activationsOf(t, h) {
		acts = append(acts, a.Action)
	}
	if strings.Join(acts, ",") != "activate,home-activate" {
		t.Errorf("activations %v, want the system's, then the home's", acts)
	}
	if strings.Join(locks, ",") != "mac,mac-home" {
		t.Errorf("lock steps %v, want mac then mac-home", locks)
	}
	if s.SSHConnections != 1 || h.Logins() != 1 {
		t.Errorf("%d connections, %d ssh logins; want one master connection for the host", s.SSHConnections, h.Logins())
	}
	if lockHeld(h) {
		t.Error("the lock outlived the deploy")
	}
}

// TestDeploySystemAndHomeToOneHostAsUser: over a non-root login the system
// takes the host's system-wide lock (through sudo) and the home the user's
// own; the run holds both until its last machine on the host is done.
func TestDeploySystemAndHomeToOneHostAsUser(t *testing.T) {
	testenv.NeedTool(t, "sudo")
	c := hosttest.Start(t, testhost.Options{Names: []string{"umac"}, DeployUser: "deploy", TrustedDeployUser: true})
	h := c.Host("umac")
	sys := testhost.FixtureMachine{Name: "umac", Platform: platform.Darwin, Generation: "1"}
	home := testhost.FixtureMachine{Name: "deploy@umac", Platform: platform.Home, Generation: "1"}
	dir := t.TempDir()
	deployNix := fmt.Sprintf(`{
  defaults.sshOptions = [ "-F" %q ];
  machines = {
    umac = { target = %q; platform = "darwin"; };
    umac-home = { target = %q; configuration = "deploy@umac"; platform = "home"; };
  };
}
`, c.SSHConfig, h.TargetAs("deploy"), h.TargetAs("deploy"))
	if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: []testhost.FixtureMachine{sys, home}, Files: map[string]string{"deploy.nix": deployNix}}); err != nil {
		t.Fatal(err)
	}
	inv, err := hosts.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	held := ""
	s, err := deploy.Run(context.Background(), inv.Machines, deploy.Options{Flake: dir, Reporter: report.Func(func(e report.Event) {
		t.Logf("%s %s %s %v", e.Machine, e.Phase, e.Detail, e.Err)
		if e.Machine == "umac-home" && e.Phase == report.PhaseActivate {
			out, err := h.Run(context.Background(), `for l in /run/nixherd/deploy.lock /home/deploy/.local/state/nixherd/deploy.lock; do [ -d "$l" ] && echo "$l"; done; true`)
			if err != nil {
				t.Error(err)
			}
			held = strings.TrimSpace(out)
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	if !s.OK {
		t.Fatalf("summary: %+v", s.Machines)
	}
	if rs, rh := result(t, s, "umac"), result(t, s, "umac-home"); h.Profile(target.SystemProfile) != rs.Path || h.HomeGeneration("deploy") != rh.Path {
		t.Errorf("system profile %s (want %s), home generation %s (want %s)", h.Profile(target.SystemProfile), rs.Path, h.HomeGeneration("deploy"), rh.Path)
	}
	if !strings.Contains(held, "/run/nixherd/deploy.lock") || !strings.Contains(held, "/home/deploy/.local/state/nixherd/deploy.lock") {
		t.Errorf("locks held while the home activates: %q, want the system-wide one and the user's", held)
	}
	if s.SSHConnections != 1 {
		t.Errorf("%d ssh connections, want 1", s.SSHConnections)
	}
	if lockHeld(h) {
		t.Error("the system-wide lock outlived the deploy")
	}
}

func mustAddress(t *testing.T, s string) remote.Address {
	a, err := remote.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDeployThroughABinaryCache pushes the closures once to a signed
// file:// cache, served over HTTP on loopback, from which the hosts
// substitute them: the deployer copies nothing to the hosts itself.
func TestDeployThroughABinaryCache(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"c1", "c2"}})
	f := newFleet(t, c, nixos("c1", "1"), nixos("c2", "1"))

	dir := t.TempDir()
	secret, public := filepath.Join(dir, "key.sec"), filepath.Join(dir, "key.pub")
	run(t, "sh", "-c", "nix --extra-experimental-features nix-command key generate-secret --key-name nixherd-test-cache-1 > "+secret)
	run(t, "sh", "-c", "nix --extra-experimental-features nix-command key convert-secret-to-public < "+secret+" > "+public)
	pub := strings.TrimSpace(readFile(t, public))
	cacheDir := filepath.Join(dir, "cache")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(cacheDir))}
	go srv.Serve(ln)
	defer srv.Close()

	s := f.deploy(deploy.Options{
		Cache:            "file://" + cacheDir + "?secret-key=" + secret,
		CacheSubstituter: "http://" + ln.Addr().String(),
		CachePublicKey:   pub,
	})
	if !s.OK {
		t.Fatalf("summary: %+v", s.Machines)
	}
	for _, n := range []string{"c1", "c2"} {
		r := result(t, s, n)
		if r.Outcome != report.Switched || r.Copied.Paths != 0 {
			t.Errorf("%s: %+v (everything should come from the cache)", n, r)
		}
		if !c.Host(n).HasStorePath(r.Path + "/payload/blob") {
			t.Errorf("%s: closure not in the host's store", n)
		}
	}
	narinfos, _ := filepath.Glob(filepath.Join(cacheDir, "*.narinfo"))
	if len(narinfos) == 0 || !strings.Contains(readFile(t, narinfos[0]), "Sig: nixherd-test-cache-1:") {
		t.Errorf("the cache holds no signed narinfo: %v", narinfos)
	}

	t.Run("an untrusted cache is refused", func(t *testing.T) {
		f.setGeneration("2", "c1")
		s := f.deploy(deploy.Options{Cache: "file://" + cacheDir + "?secret-key=" + secret, CacheSubstituter: "http://" + ln.Addr().String()}, "c1")
		if r := result(t, s, "c1"); r.Outcome != report.Failed || !strings.Contains(r.Error, "substituting from") {
			t.Errorf("c1 without the cache key: %+v", r)
		}
	})
}

// TestBuildOnTarget copies only the derivations and builds on the host.
func TestBuildOnTarget(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"b1"}})
	f := newFleet(t, c, nixos("b1", "1"))
	f.setGeneration("built-there", "b1")
	s := f.deploy(deploy.Options{BuildOn: "target"})
	r := result(t, s, "b1")
	if !s.OK || r.Outcome != report.Switched {
		t.Fatalf("b1: %+v", r)
	}
	h := c.Host("b1")
	if h.Profile(target.SystemProfile) != r.Path || !h.HasStorePath(r.Path+"/payload/blob") {
		t.Errorf("b1: profile %s, want %s with its closure", h.Profile(target.SystemProfile), r.Path)
	}
	// What crossed the wire were .drv files and sources, not outputs.
	if r.Copied.Paths == 0 || r.Copied.Bytes > 64<<10 {
		t.Errorf("b1 copied %d paths, %d bytes", r.Copied.Paths, r.Copied.Bytes)
	}
	drvs, _ := filepath.Glob(h.Path("/nix/store/*-nixos-system-b1-fixture.drv"))
	if len(drvs) == 0 {
		t.Error("the host's store holds no system derivation")
	}
}

// TestDryRunChangesNothing reports what would be copied and stops there.
func TestDryRunChangesNothing(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"d1"}})
	f := newFleet(t, c, nixos("d1", "1"))
	s := f.deploy(deploy.Options{DryRun: true})
	r := result(t, s, "d1")
	if !s.OK || r.Outcome != report.WouldCopy || r.Copied.Paths == 0 || len(r.WouldCopy) != r.Copied.Paths || !slices.Contains(r.WouldCopy, r.Path) {
		t.Fatalf("d1: %+v", r)
	}
	var table strings.Builder
	ui.WriteSummary(&table, s)
	if !strings.Contains(table.String(), "d1 would receive:\n  /nix/store/") {
		t.Errorf("the table does not list what d1 would receive:\n%s", table.String())
	}
	h := c.Host("d1")
	if h.HasStorePath(r.Path) || h.Profile(target.SystemProfile) != "" || len(activationsOf(t, h)) != 0 {
		t.Error("a dry run changed the host")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// TestDeployToANonStandardPort: the port of "user@host:port" reaches both
// ssh and nix copy (through NIX_SSHOPTS; the ssh:// store URL has no port).
func TestDeployToANonStandardPort(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"p1"}, Port: 2222})
	f := newFleet(t, c, nixos("p1", "1"))
	s := f.deploy(deploy.Options{BuildOn: "target"})
	if r := result(t, s, "p1"); !s.OK || r.Outcome != report.Switched || !strings.HasSuffix(r.Target, ":2222") {
		t.Fatalf("build on target via port 2222: %+v", r)
	}
	f.setGeneration("2", "p1")
	s = f.deploy(deploy.Options{})
	r := result(t, s, "p1")
	if !s.OK || r.Outcome != report.Switched || r.Copied.Paths == 0 || c.Host("p1").Profile(target.SystemProfile) != r.Path {
		t.Fatalf("copy via port 2222: %+v", r)
	}
}

// TestUserLockIsTheUsersOwn: a non-root user's deploy lock lives where only
// that user may write. A directory another user made in /tmp under the
// name the lock once had does not block the user's deploys; a lock
// directory that is a symlink or another user's is refused with a clear
// error, and nothing is done through it.
func TestUserLockIsTheUsersOwn(t *testing.T) {
	testenv.NeedTool(t, "sudo")
	c := hosttest.Start(t, testhost.Options{Names: []string{"ulock"}, DeployUser: "deploy", TrustedDeployUser: true})
	h := c.Host("ulock")
	ctx := context.Background()
	dir := t.TempDir()
	deployNix := fmt.Sprintf("{ machines.ulock-home = { target = %q; configuration = \"deploy@ulock\"; platform = \"home\"; }; }\n", h.TargetAs("deploy"))
	deployGen := func(gen string) report.Result {
		t.Helper()
		home := testhost.FixtureMachine{Name: "deploy@ulock", Platform: platform.Home, Generation: gen}
		if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: []testhost.FixtureMachine{home}, Files: map[string]string{"deploy.nix": deployNix}}); err != nil {
			t.Fatal(err)
		}
		inv, err := hosts.Load(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := deploy.Run(ctx, inv.Machines, deploy.Options{Flake: dir, Reach: fanout.Options{SSHOptions: c.SSHArgs()}})
		if err != nil {
			t.Fatal(err)
		}
		return result(t, s, "ulock-home")
	}
	run := func(script string) string {
		t.Helper()
		out, err := h.Run(ctx, script)
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(out)
	}
	// The host's own /tmp, so that nothing here touches this machine's.
	run(`mount -t tmpfs -o mode=1777 ulock-tmp /tmp`)

	// Another user ("nobody") made the directory the lock used to live in.
	run(`d=/tmp/nixherd-$(id -u deploy); mkdir -m 755 "$d" && chown nobody "$d"`)
	if r := deployGen("1"); r.Outcome != report.Switched {
		t.Fatalf("with another user's /tmp/nixherd-UID: %+v", r)
	}
	if got := run(`stat -c '%a %U' /home/deploy/.local/state/nixherd`); got != "700 deploy" {
		t.Errorf("the lock directory is %q, want 700 deploy", got)
	}
	gen1 := h.HomeGeneration("deploy")

	for name, setup := range map[string]string{
		"symlink":         `ln -s /run/testhost/elsewhere "$d"`,
		"another user's":  `mkdir -m 755 "$d" && chown nobody "$d"`,
		"not a directory": `: > "$d"`,
	} {
		t.Run(name, func(t *testing.T) {
			run(`d=/home/deploy/.local/state/nixherd; rm -rf "$d" /run/testhost/elsewhere; mkdir -m 755 /run/testhost/elsewhere; chown deploy /run/testhost/elsewhere; ` + setup)
			r := deployGen("2-" + strings.ReplaceAll(name, " ", "-"))
			if r.Outcome == report.Switched || !strings.Contains(r.Error, "refusing to take the deploy lock: /home/deploy/.local/state/nixherd is not a directory of deploy alone") {
				t.Errorf("%+v", r)
			}
			if got := h.HomeGeneration("deploy"); got != gen1 {
				t.Errorf("the home moved to %s", got)
			}
			if got := run(`stat -c %a /run/testhost/elsewhere; ls -A /run/testhost/elsewhere`); got != "755" {
				t.Errorf("the symlink's target was changed: %q", got)
			}
		})
	}
}

// TestDeployRunsAnActivationWhosePathHasEquals: a store path may hold "="
// (a derivation's name may). Deployed as a non-root user, the nix-darwin
// activate script of such a path runs through sudo, and the host records
// the activation; before, `sudo env PATH=… /nix/store/…=…/activate` took
// the path for an assignment, ran nothing and the deploy said switched.
func TestDeployRunsAnActivationWhosePathHasEquals(t *testing.T) {
	testenv.NeedTool(t, "sudo")
	c := hosttest.Start(t, testhost.Options{Names: []string{"eqmac"}, DeployUser: "deploy", TrustedDeployUser: true})
	h := c.Host("eqmac")
	sys := testhost.FixtureMachine{Name: "eqmac=1", Platform: platform.Darwin, Generation: "1"}
	dir := t.TempDir()
	deployNix := fmt.Sprintf("{ machines.\"eqmac=1\" = { target = %q; platform = \"darwin\"; }; }\n", h.TargetAs("deploy"))
	if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: []testhost.FixtureMachine{sys}, Files: map[string]string{"deploy.nix": deployNix}}); err != nil {
		t.Fatal(err)
	}
	inv, err := hosts.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := deploy.Run(context.Background(), inv.Machines, deploy.Options{Flake: dir, Reach: fanout.Options{SSHOptions: c.SSHArgs()}})
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, s, "eqmac=1")
	if !strings.Contains(r.Path, "=") || r.Outcome != report.Switched {
		t.Fatalf("%+v", r)
	}
	var acts []string
	for _, a := range activationsOf(t, h) {
		acts = append(acts, a.Action+" "+a.Path)
	}
	if len(acts) != 1 || acts[0] != "activate "+r.Path {
		t.Errorf("activations on the host: %q, want activate %s", acts, r.Path)
	}
}
