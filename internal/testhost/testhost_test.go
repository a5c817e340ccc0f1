package testhost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// build builds the fixture's toplevels with the real nix and returns their
// store paths, in order.
func build(t *testing.T, dir string, ms ...testhost.FixtureMachine) []string {
	t.Helper()
	args := []string{"build", "--json", "--no-link"}
	for _, m := range ms {
		args = append(args, "path:"+dir+"#"+m.Attr())
	}
	cmd := exec.Command("nix", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix build: %v\n%s", err, stderr.String())
	}
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("nix build output %q: %v", out, err)
	}
	var paths []string
	for _, r := range res {
		paths = append(paths, r.Outputs["out"])
	}
	return paths
}

func fixture(t *testing.T, ms ...testhost.FixtureMachine) string {
	t.Helper()
	dir := t.TempDir()
	if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: ms}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTo copies a closure to the host with the real nix copy over ssh.
func copyTo(t *testing.T, c *testhost.Cluster, h *testhost.Host, path string) {
	t.Helper()
	cmd := exec.Command("nix", "copy", "--no-check-sigs", "--to", h.StoreURL(), path)
	cmd.Env = append(os.Environ(), c.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix copy to %s: %v\n%s", h.Name, err, out)
	}
}

func run(t *testing.T, h *testhost.Host, script string) string {
	t.Helper()
	out, err := h.Run(context.Background(), script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exitCode runs script on the host and returns its exit status.
func exitCode(t *testing.T, h *testhost.Host, script string) int {
	t.Helper()
	err := h.SSH(context.Background(), script).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// Three hosts, each its own sshd with a verified host key and its own store:
// a closure copied to one is in that host's store only, and its
// switch-to-configuration records the activation on that host only.
func TestHostsHaveOwnStoresAndActivation(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"devmac", "devnix", "ephem"}})
	addrs := map[string]bool{}
	for _, h := range c.Hosts {
		if got := strings.TrimSpace(run(t, h, "hostname")); got != h.Name {
			t.Errorf("hostname on %s = %q", h.Name, got)
		}
		// Its own TMPDIR: /tmp is this machine's.
		run(t, h, `touch "$TMPDIR/mine"`)
		if _, err := os.Stat(filepath.Join(h.Dir, "tmp", "mine")); err != nil {
			t.Errorf("TMPDIR on %s is not the host's own: %v", h.Name, err)
		}
		if addrs[h.Addr] {
			t.Errorf("address %s used twice", h.Addr)
		}
		addrs[h.Addr] = true
		if !strings.HasPrefix(h.Addr, "127.") {
			t.Errorf("loopback host %s has address %s", h.Name, h.Addr)
		}
	}
	// The ssh_config keeps host key checking on.
	cfg, err := os.ReadFile(c.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "StrictHostKeyChecking yes") {
		t.Errorf("ssh_config does not verify host keys:\n%s", cfg)
	}

	m := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "g1", PayloadBytes: 4096}
	dir := fixture(t, m)
	top := build(t, dir, m)[0]
	devnix := c.Host("devnix")
	copyTo(t, c, devnix, top)
	if !devnix.HasStorePath(top) {
		t.Fatalf("%s not in devnix's store after nix copy", top)
	}
	run(t, devnix, "nix-store --check-validity "+top)
	for _, other := range []string{"devmac", "ephem"} {
		if c.Host(other).HasStorePath(top) {
			t.Errorf("%s is in %s's store too", top, other)
		}
		if code := exitCode(t, c.Host(other), "nix-store --check-validity "+top); code == 0 {
			t.Errorf("%s is valid in %s's store", top, other)
		}
	}

	// The NixOS contract: guard, profile, activate.
	run(t, devnix, "test -f "+top+"/nixos-version")
	run(t, devnix, "nix-env -p /nix/var/nix/profiles/system --set "+top)
	run(t, devnix, top+"/bin/switch-to-configuration switch")
	if got := devnix.Profile("/nix/var/nix/profiles/system"); got != top {
		t.Errorf("system profile = %q, want %s", got, top)
	}
	if got := devnix.CurrentSystem(); got != top {
		t.Errorf("devnix /run/current-system = %q, want %s", got, top)
	}
	if got := strings.TrimSpace(run(t, devnix, "readlink /run/current-system")); got != top {
		t.Errorf("/run/current-system seen over ssh = %q", got)
	}
	acts, err := devnix.Activations()
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Action != "switch" || acts[0].Path != top || acts[0].Exit != 0 {
		t.Errorf("devnix activations = %+v", acts)
	}
	for _, other := range []string{"devmac", "ephem"} {
		if got := c.Host(other).CurrentSystem(); got != "" {
			t.Errorf("%s has /run/current-system %q after devnix's switch", other, got)
		}
		if acts, _ := c.Host(other).Activations(); len(acts) != 0 {
			t.Errorf("%s recorded activations %+v", other, acts)
		}
	}
	// Nothing of the host leaked onto the real machine.
	if _, err := os.Lstat(filepath.Join("/nix/var/nixherd-fixture")); err == nil {
		if l, _ := os.ReadFile("/nix/var/nixherd-fixture/activations.log"); strings.Contains(string(l), top) {
			t.Errorf("the real /nix/var/nixherd-fixture recorded the host's activation")
		}
	}
	if l, _ := os.Readlink("/run/current-system"); l == top {
		t.Errorf("the real /run/current-system points at the host's generation")
	}
}

// A host whose key is not the one in known_hosts is refused: the generated
// client files really verify host keys.
func TestWrongHostKeyIsRefused(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{N: 2})
	a, b := c.Hosts[0], c.Hosts[1]
	// known_hosts that lists b's key under a's address.
	kh, err := os.ReadFile(c.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	var bKey string
	for _, line := range strings.Split(string(kh), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == b.Addr {
			bKey = f[1] + " " + f[2]
		}
	}
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(wrong, []byte(a.Addr+" "+bKey+"\n"), 0o644)
	out, err := exec.Command("ssh", "-F", c.SSHConfig, "-o", "UserKnownHostsFile="+wrong, a.Name, "true").CombinedOutput()
	if err == nil {
		t.Fatalf("ssh to %s accepted a wrong host key", a.Name)
	}
	if !strings.Contains(string(out), "IDENTIFICATION HAS CHANGED") && !strings.Contains(string(out), "verification failed") {
		t.Errorf("unexpected refusal: %s", out)
	}
	run(t, a, "true") // with the right known_hosts it works
}

// The fixture's activation scripts honour the contracts and their knobs.
func TestFixtureActivationContracts(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{N: 1})
	h := c.Hosts[0]
	good := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "good"}
	unitFails := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "unit", ActivateExit: 4}
	scriptFails := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "script", ActivateScript: "echo hook ran > /run/hook; exit 3"}
	closesSSH := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "nossh", SSHDown: true}
	var paths []string
	for _, m := range []testhost.FixtureMachine{good, unitFails, scriptFails, closesSSH} {
		paths = append(paths, build(t, fixture(t, m), m)[0])
		copyTo(t, c, h, paths[len(paths)-1])
	}
	goodP, unitP, scriptP, nosshP := paths[0], paths[1], paths[2], paths[3]
	stc := func(p, action string) int { return exitCode(t, h, p+"/bin/switch-to-configuration "+action) }

	if code := stc(goodP, "bogus"); code != 1 {
		t.Errorf("unknown action: exit %d, want 1", code)
	}
	if code := stc(goodP, "boot"); code != 0 || h.BootDefault() != goodP || h.CurrentSystem() != "" {
		t.Errorf("boot: exit %d, boot default %q, current %q", code, h.BootDefault(), h.CurrentSystem())
	}
	if code := stc(goodP, "dry-activate"); code != 0 || h.CurrentSystem() != "" {
		t.Errorf("dry-activate: exit %d, current %q", code, h.CurrentSystem())
	}
	if code := stc(goodP, "test"); code != 0 || h.CurrentSystem() != goodP {
		t.Errorf("test: exit %d, current %q", code, h.CurrentSystem())
	}
	if code := stc(unitP, "switch"); code != 4 || h.CurrentSystem() != unitP || h.BootDefault() != unitP {
		t.Errorf("unit failure: exit %d, current %q, boot %q", code, h.CurrentSystem(), h.BootDefault())
	}
	if code := stc(scriptP, "switch"); code != 2 || h.CurrentSystem() != unitP {
		t.Errorf("failing activate script: exit %d, current %q (want unchanged %s)", code, h.CurrentSystem(), unitP)
	}
	if got := strings.TrimSpace(run(t, h, "cat /run/hook")); got != "hook ran" {
		t.Errorf("activation hook output %q", got)
	}
	acts, err := h.Activations()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range acts {
		got = append(got, a.Action+" "+strconv.Itoa(a.Exit))
	}
	if want := "boot 0,dry-activate 0,test 0,switch 4,switch 2"; strings.Join(got, ",") != want {
		t.Errorf("activation log %q, want %q", strings.Join(got, ","), want)
	}

	// A generation that closes the ssh port: the activation's own session
	// survives, new connections fail until a generation without it is
	// activated again (here from inside the host, as a watchdog would).
	if code := stc(nosshP, "test"); code != 0 {
		t.Fatalf("ssh-closing generation: exit %d", code)
	}
	waitSSH(t, h, false, 5*time.Second)
	out, err := h.Command(context.Background(), goodP+"/bin/switch-to-configuration", "test").CombinedOutput()
	if err != nil {
		t.Fatalf("re-activating inside the host: %v\n%s", err, out)
	}
	waitSSH(t, h, true, 5*time.Second)
	if h.CurrentSystem() != goodP {
		t.Errorf("after rollback current = %q", h.CurrentSystem())
	}
}

// waitSSH waits until ssh to the host works (up) or fails (!up).
func waitSSH(t *testing.T, h *testhost.Host, up bool, timeout time.Duration) {
	t.Helper()
	testenv.Await(t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := h.SSH(ctx, "true").Run()
		cancel()
		if (err == nil) == up {
			return nil
		}
		return errors.New(map[bool]string{true: "ssh did not come back", false: "ssh still answers"}[up] + " on " + h.Name)
	})
}

// darwin's activate (and the old activate-user) and home-manager's activate.
func TestFixtureDarwinAndHome(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{N: 1})
	h := c.Hosts[0]
	mac := testhost.FixtureMachine{Name: "devmac", Platform: platform.Darwin, Generation: "1", ActivateUser: true}
	home := testhost.FixtureMachine{Name: "me@ephem", Platform: platform.Home, Generation: "1"}
	paths := build(t, fixture(t, mac, home), mac, home)
	for _, p := range paths {
		copyTo(t, c, h, p)
	}
	macP, homeP := paths[0], paths[1]
	if got := strings.TrimSpace(run(t, h, "cat "+macP+"/systemConfig")); got != macP {
		t.Errorf("systemConfig = %q", got)
	}
	run(t, h, "nix-env -p /nix/var/nix/profiles/system --set "+macP+" && "+macP+"/activate-user && "+macP+"/activate")
	run(t, h, "nix-env -p /nix/var/nix/profiles/per-user/root/home-manager --set "+homeP+" && "+homeP+"/activate")
	if h.CurrentSystem() != macP {
		t.Errorf("darwin current-system = %q", h.CurrentSystem())
	}
	if h.HomeGeneration("root") != homeP {
		t.Errorf("home generation = %q", h.HomeGeneration("root"))
	}
	acts, _ := h.Activations()
	var got []string
	for _, a := range acts {
		got = append(got, a.Action)
	}
	if strings.Join(got, ",") != "activate-user,activate,home-activate" {
		t.Errorf("activations %v", got)
	}
}

// A host in a network namespace: cutting its link makes ssh fail, restoring
// it makes ssh work again.
func TestNetNSCutAndRestore(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{N: 1, NetNS: true})
	h := c.Hosts[0]
	if h.NetNS() == "" || strings.HasPrefix(h.Addr, "127.") {
		t.Fatalf("netns host has namespace %q address %s", h.NetNS(), h.Addr)
	}
	run(t, h, "true")
	if err := h.Cut(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.SSH(ctx, "true").Run(); err == nil {
		t.Fatal("ssh worked with the link cut")
	}
	if err := h.Restore(); err != nil {
		t.Fatal(err)
	}
	waitSSH(t, h, true, 10*time.Second)

	// A cut is a partition, not a reset: a session open across a short cut
	// carries on once the link is back.
	var out bytes.Buffer
	session := h.SSH(context.Background(), "sleep 2; echo still here")
	session.Stdout = &out
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := h.Cut(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := h.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := session.Wait(); err != nil || strings.TrimSpace(out.String()) != "still here" {
		t.Errorf("session across the cut: %v, output %q", err, out.String())
	}
}

// Closing a cluster leaves no process, mount namespace, network namespace,
// veth, listener or directory behind, and frees the addresses.
func TestCloseCleansUp(t *testing.T) {
	hosttest.Need(t)
	c, err := testhost.New(testhost.Options{N: 2, NetNS: true})
	if err != nil {
		t.Fatal(err)
	}
	lo, err := testhost.New(testhost.Options{N: 1})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	type left struct{ pidNS, mntNS, netns, addr, dir string }
	var hosts []left
	for _, cl := range []*testhost.Cluster{c, lo} {
		for _, h := range cl.Hosts {
			p, m := h.Namespaces()
			procs := h.Processes()
			if len(procs) < 2 { // the supervisor and sshd
				t.Fatalf("%s runs %v", h.Name, procs)
			}
			// Hold the namespaces open until the checks are done, so the
			// kernel cannot give their numbers to new namespaces meanwhile.
			for _, kind := range []string{"pid", "mnt"} {
				var held *os.File
				for _, pid := range procs {
					if f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil {
						held = f
						break
					}
				}
				if held == nil {
					t.Fatalf("cannot open the %s namespace of %s", kind, h.Name)
				}
				defer held.Close()
			}
			// Start a detached process inside, as a watchdog would.
			run(t, h, "setsid sleep 600 </dev/null >/dev/null 2>&1 &")
			hosts = append(hosts, left{p, m, h.NetNS(), h.Addr + ":" + strconv.Itoa(h.Port), cl.Dir})
		}
	}
	// Stop ends one host early: it no longer answers, and Close still works.
	stopped := lo.Hosts[0]
	if err := stopped.Stop(); err != nil {
		t.Error(err)
	}
	if ps := stopped.Processes(); len(ps) > 0 {
		t.Errorf("stopped host still runs %v", ps)
	}
	if err := stopped.SSH(context.Background(), "true").Run(); err == nil {
		t.Error("ssh to a stopped host worked")
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if err := lo.Close(); err != nil {
		t.Error(err)
	}
	for _, h := range hosts {
		if ps := testhost.ProcessesInNamespace("pid", h.pidNS); len(ps) > 0 {
			t.Errorf("processes %v left in %s", ps, h.pidNS)
		}
		if ps := testhost.ProcessesInNamespace("mnt", h.mntNS); len(ps) > 0 {
			t.Errorf("processes %v left in %s", ps, h.mntNS)
		}
		if h.netns != "" {
			if _, err := os.Stat("/run/netns/" + h.netns); err == nil {
				t.Errorf("network namespace %s left", h.netns)
			}
		}
		// Only loopback addresses are dialled: a removed namespace's address
		// has no route of its own any more.
		if h.netns != "" {
			continue
		}
		if conn, err := net.DialTimeout("tcp", h.addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("something still listens on %s", h.addr)
		}
	}
	for _, h := range hosts {
		if _, err := os.Stat(h.dir); err == nil {
			t.Errorf("directory %s left", h.dir)
		}
	}
	links, _ := exec.Command("ip", "-br", "link").Output()
	for _, h := range hosts {
		if h.netns != "" && strings.Contains(string(links), strings.Replace(h.netns, "nixherd-th", "nhth", 1)+"a") {
			t.Errorf("veth of %s left:\n%s", h.netns, links)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), "nixherd-testhost") {
		t.Errorf("host mounts visible outside:\n%s", mounts)
	}
}

// Clusters started at the same time (as go test does with packages) get
// distinct addresses.
func TestConcurrentClustersGetDistinctAddresses(t *testing.T) {
	hosttest.Need(t)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := testhost.New(testhost.Options{N: 2})
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { c.Close() })
			mu.Lock()
			defer mu.Unlock()
			for _, h := range c.Hosts {
				if prev, ok := seen[h.Addr]; ok {
					t.Errorf("address %s given to cluster %d and %s", h.Addr, i, prev)
				}
				seen[h.Addr] = strconv.Itoa(i)
			}
		}()
	}
	wg.Wait()
	if len(seen) != 6 {
		t.Errorf("got %d addresses, want 6", len(seen))
	}
}

// A deploy user: logs in with the client key, sudo without a password (or
// with one, given on stdin), reaches the store through the host's
// nix-daemon, and may copy unsigned paths only when trusted. The real
// machine's accounts are untouched.
func TestDeployUser(t *testing.T) {
	hosttest.Need(t)
	testenv.NeedTool(t, "sudo")
	m := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "user"}
	top := build(t, fixture(t, m), m)[0]
	ctx := context.Background()
	asUser := func(h *testhost.Host, script string) (string, error) {
		out, err := h.SSHAs(ctx, "deploy", script).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	copyAs := func(c *testhost.Cluster, h *testhost.Host) (string, error) {
		cmd := exec.Command("nix", "copy", "--to", "ssh://"+strings.SplitN(h.TargetAs("deploy"), ":", 2)[0], top)
		cmd.Env = append(os.Environ(), c.Env()...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("passwordless sudo, untrusted", func(t *testing.T) {
		c := hosttest.Start(t, testhost.Options{N: 1, DeployUser: "deploy"})
		h := c.Hosts[0]
		if out, err := asUser(h, "id -un; sudo -n id -u"); err != nil || out != "deploy\n0" {
			t.Fatalf("as deploy: %q, %v", out, err)
		}
		// The store is reached through the host's nix-daemon.
		if out, err := asUser(h, "nix-store --check-validity /nix/store/00000000000000000000000000000000-none 2>&1; test -S /nix/var/nix/daemon-socket/socket"); err != nil {
			t.Errorf("no nix-daemon socket for the deploy user: %q, %v", out, err)
		}
		out, err := copyAs(c, h)
		// Nix 2.8's ssh:// store says "lacks a valid signature", newer
		// daemons "lacks a signature by a trusted key".
		if err == nil || !regexp.MustCompile(`lacks a (valid )?signature`).MatchString(out) {
			t.Errorf("untrusted copy: err %v, output %q; want the signature error", err, out)
		}
		if h.HasStorePath(top) {
			t.Error("the untrusted copy landed")
		}
	})

	t.Run("sudo with a password, trusted", func(t *testing.T) {
		c := hosttest.Start(t, testhost.Options{N: 1, DeployUser: "deploy", DeployPassword: "correct horse", TrustedDeployUser: true})
		h := c.Hosts[0]
		if _, err := asUser(h, "sudo -n true"); err == nil {
			t.Error("sudo -n worked although a password is set")
		}
		if out, err := asUser(h, "echo 'correct horse' | sudo -S -k -p '' id -u"); err != nil || out != "0" {
			t.Errorf("sudo with the password: %q, %v", out, err)
		}
		if out, err := copyAs(c, h); err != nil {
			t.Fatalf("trusted copy: %v\n%s", err, out)
		}
		if !h.HasStorePath(top) {
			t.Error("trusted copy did not land")
		}
		if out, err := asUser(h, "echo 'correct horse' | sudo -S -k -p '' "+top+"/bin/switch-to-configuration test"); err != nil {
			t.Errorf("activation through sudo: %v\n%s", err, out)
		}
		if h.CurrentSystem() != top {
			t.Errorf("current system %q", h.CurrentSystem())
		}
	})

	passwd, _ := os.ReadFile("/etc/passwd")
	if strings.Contains(string(passwd), "nixherd test deploy user") {
		t.Error("the real /etc/passwd has the test deploy user")
	}
}

// The directory of a cluster whose process died without closing it is
// removed by the next New; a live cluster's is not.
func TestStaleClusterDirIsRemoved(t *testing.T) {
	hosttest.Need(t)
	stale, err := os.MkdirTemp("", "nixherd-testhost-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(stale)
	// A process that has exited: pid 1's start time never matches this.
	os.WriteFile(filepath.Join(stale, "owner"), []byte("999999999 1"), 0o600)
	// One written in another pid namespace is left alone.
	foreign, err := os.MkdirTemp("", "nixherd-testhost-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(foreign)
	os.WriteFile(filepath.Join(foreign, "owner-ns"), []byte("pid:[1]"), 0o600)
	os.WriteFile(filepath.Join(foreign, "owner"), []byte("999999999 1"), 0o600)
	live := hosttest.Start(t, testhost.Options{N: 1})
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("stale cluster directory %s left", stale)
	}
	hosttest.Start(t, testhost.Options{N: 1})
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a directory owned in another pid namespace was removed: %v", err)
	}
	if _, err := os.Stat(live.Dir); err != nil {
		t.Errorf("a live cluster's directory was removed: %v", err)
	}
}

// home-manager activates as its user: a deploy user's activation is recorded
// too.
func TestHomeActivationAsDeployUser(t *testing.T) {
	hosttest.Need(t)
	testenv.NeedTool(t, "sudo")
	c := hosttest.Start(t, testhost.Options{N: 1, DeployUser: "deploy", TrustedDeployUser: true})
	h := c.Hosts[0]
	m := testhost.FixtureMachine{Name: "deploy@" + h.Name, Platform: platform.Home, Generation: "1"}
	top := build(t, fixture(t, m), m)[0]
	copyTo(t, c, h, top)
	out, err := h.SSHAs(context.Background(), "deploy", "nix-env -p $HOME/hm-profile --set "+top+" && "+top+"/activate").CombinedOutput()
	if err != nil {
		t.Fatalf("home activation as deploy: %v\n%s", err, out)
	}
	if got := h.HomeGeneration("deploy"); got != top {
		t.Errorf("home generation of deploy = %q, want %s", got, top)
	}
	acts, _ := h.Activations()
	if len(acts) != 1 || acts[0].Action != "home-activate" || acts[0].Path != top {
		t.Errorf("activations %+v", acts)
	}
}

// TestPathsResolveInsideTheHost: a link in the host's store with an absolute
// target is followed in the host's file system, never this machine's, so a
// check cannot pass or fail by what an earlier run left in this machine's
// /nix or /run.
func TestPathsResolveInsideTheHost(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"resolver"}})
	h := c.Host("resolver")
	run(t, h, `set -e
mkdir -p /nix/store/00000000000000000000000000000000-target
echo data > /nix/store/00000000000000000000000000000000-target/blob
ln -s /nix/store/00000000000000000000000000000000-target /nix/store/11111111111111111111111111111111-link
ln -s ../store/11111111111111111111111111111111-link /nix/store/22222222222222222222222222222222-relative
ln -s /run/nixherd-testhost /nix/store/33333333333333333333333333333333-machine-run`)

	for _, p := range []string{
		"/nix/store/11111111111111111111111111111111-link/blob",
		"/nix/store/22222222222222222222222222222222-relative/blob",
	} {
		if !h.HasStorePath(p) {
			t.Errorf("HasStorePath(%s) = false: the link's target is in the host's store", p)
		}
		got, err := h.Resolve(p)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(got); err != nil || string(b) != "data\n" {
			t.Errorf("reading %s as %s: %q, %v", p, got, b, err)
		}
	}

	// /run/nixherd-testhost holds this machine's address leases; the
	// host's /run is its own and has no such folder.
	leases, _ := filepath.Glob("/run/nixherd-testhost/*.lock")
	if len(leases) == 0 {
		t.Fatal("no address leases on this machine while a host runs")
	}
	through := "/nix/store/33333333333333333333333333333333-machine-run/" + filepath.Base(leases[0])
	if h.HasStorePath(through) {
		t.Errorf("HasStorePath(%s) followed the link into this machine's /run", through)
	}
	if _, err := os.Stat(h.Path(through)); err == nil {
		t.Errorf("Path(%s) = %s leads into this machine's /run", through, h.Path(through))
	}
}
