package main

// Integration tests of switch, status, generations and rollback on real test
// hosts (internal/testhost): real nix, real OpenSSH, a private /nix store per
// host, and the fixture fleet whose activations record themselves on the host.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/shell"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

const systemProfile = "/nix/var/nix/profiles/system"

// nixherdBin is the test binary under the name "nixherd", which makes it run
// nixherd's main (see TestMain): the same binary the txtar scripts run.
func nixherdBin(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "nixherd")
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// opsFleet is a fixture flake with a deploy.nix placing machines on hosts.
type opsFleet struct {
	t   *testing.T
	c   *testhost.Cluster
	dir string
	bin string
}

// placement puts a fixture machine on a deploy.nix target.
type placement struct {
	m      testhost.FixtureMachine
	target string // "root@ADDR[:PORT]", or a test host's name
}

func newOpsFleet(t *testing.T, c *testhost.Cluster) *opsFleet {
	return &opsFleet{t: t, c: c, dir: t.TempDir(), bin: nixherdBin(t)}
}

// write (re)writes the flake and deploy.nix.
func (f *opsFleet) write(ps ...placement) {
	f.t.Helper()
	var ms []testhost.FixtureMachine
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  machines = {\n")
	for _, p := range ps {
		ms = append(ms, p.m)
		target := p.target
		if h := f.c.Host(target); h != nil {
			target = h.Target()
		}
		name := strings.ReplaceAll(p.m.Name, "@", "-at-")
		fmt.Fprintf(&b, "    %q = { target = %q; configuration = %q; platform = %q; };\n", name, target, p.m.Name, p.m.Platform)
	}
	b.WriteString("  };\n}\n")
	err := testhost.WriteFixture(f.dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": b.String()}})
	if err != nil {
		f.t.Fatal(err)
	}
}

// nixherd runs a nixherd command against the fleet and returns stdout,
// stderr and the exit code.
func (f *opsFleet) nixherd(args ...string) (string, string, int) {
	f.t.Helper()
	// The fleet's flags right after the subcommand: before a -- that ends
	// nixherd's own arguments (exec).
	args = append([]string{args[0], "--flake", f.dir, "-F", f.c.SSHConfig}, args[1:]...)
	out, errOut, code, _ := runNixherd(f.t, f.bin, args...)
	return out, errOut, code
}

// runNixherd runs the nixherd binary with args and returns its stdout,
// stderr, exit code and the most memory it used (its peak RSS in bytes).
func runNixherd(t *testing.T, bin string, args ...string) (string, string, int, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+stateHome(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("nixherd %s: %v", strings.Join(args, " "), err)
	}
	// Maxrss is in KiB on Linux.
	return stdout.String(), stderr.String(), code, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// must runs a nixherd command that has to succeed.
func (f *opsFleet) must(args ...string) string {
	f.t.Helper()
	out, errOut, code := f.nixherd(args...)
	if code != 0 {
		f.t.Fatalf("nixherd %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

type statusJSON struct {
	InSync   bool
	Machines []struct {
		Name       string
		Reachable  bool
		InSync     bool
		Running    string
		Desired    string
		Error      string
		Generation *struct {
			Number int
			Path   string
			Date   time.Time
		}
	}
}

func (f *opsFleet) status(wantCode int) map[string]statusMachine {
	f.t.Helper()
	out, errOut, code := f.nixherd("status", "--json")
	if code != wantCode {
		f.t.Fatalf("status exit %d, want %d\n%s%s", code, wantCode, out, errOut)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		f.t.Fatalf("status --json: %v\n%s", err, out)
	}
	byName := map[string]statusMachine{}
	for _, m := range s.Machines {
		sm := statusMachine{Reachable: m.Reachable, InSync: m.InSync, Running: m.Running, Desired: m.Desired, Error: m.Error}
		if m.Generation != nil {
			sm.Generation = m.Generation.Number
		}
		byName[m.Name] = sm
	}
	return byName
}

type statusMachine struct {
	Reachable, InSync       bool
	Running, Desired, Error string
	Generation              int
}

// status after a deploy: every machine in sync (exit 0); after the flake
// changes: that machine out of sync (exit 1); an unreachable machine is
// shown and makes the exit 3. generations lists the profile with its
// markers; rollback returns to the previous generation and to --to N by
// store path, activating it with the platform's contract.
func TestStatusGenerationsRollback(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"devnix", "devmac"}})
	f := newOpsFleet(t, c)
	devnix1 := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "1"}
	devmac := testhost.FixtureMachine{Name: "devmac", Platform: platform.Darwin, Generation: "1"}
	home := testhost.FixtureMachine{Name: "root@devmac", Platform: platform.Home, Generation: "1"}
	f.write(placement{devnix1, "devnix"}, placement{devmac, "devmac"}, placement{home, "devmac"})

	// Never deployed: reachable, out of sync.
	st := f.status(exitReported)
	if m := st["devnix"]; !m.Reachable || m.InSync || m.Running != "" || m.Desired == "" {
		t.Fatalf("before any deploy devnix = %+v", m)
	}

	// devmac's system and its root's home share a host: one run deploys both.
	f.must("deploy", "--all")
	st = f.status(0)
	for _, name := range []string{"devnix", "devmac", "root-at-devmac"} {
		if m := st[name]; !m.InSync || m.Generation != 1 || m.Running != m.Desired {
			t.Errorf("after deploy %s = %+v, want in sync on generation 1", name, m)
		}
	}
	gen1 := st["devnix"].Running
	if got := c.Host("devnix").CurrentSystem(); got != gen1 {
		t.Fatalf("status says devnix runs %s, the host runs %s", gen1, got)
	}
	if got := c.Host("devmac").Profile(systemProfile); got != st["devmac"].Running {
		t.Fatalf("status says devmac runs %s, its profile is %s", st["devmac"].Running, got)
	}

	// A change in the flake puts devnix out of sync; the others stay in sync.
	devnix2 := devnix1
	devnix2.Generation = "2"
	f.write(placement{devnix2, "devnix"}, placement{devmac, "devmac"}, placement{home, "devmac"})
	st = f.status(exitReported)
	if m := st["devnix"]; m.InSync || m.Running != gen1 || m.Desired == gen1 {
		t.Fatalf("after the change devnix = %+v", m)
	}
	if !st["devmac"].InSync {
		t.Errorf("devmac went out of sync: %+v", st["devmac"])
	}
	out, _, code := f.nixherd("status", "devnix")
	if code != exitReported || !regexpMatch(`(?m)^devnix\s+root@\S+\s+out of sync\s+1\s`, out) || strings.Contains(out, "devmac") {
		t.Errorf("status devnix: exit %d\n%s", code, out)
	}

	// diff --json says what the deploy would change, in deploy's vocabulary.
	out, _, code = f.nixherd("diff", "devnix", "--json")
	var diff struct {
		OK       bool
		Machines []struct {
			Machine, Current, Path  string
			Changed, Added, Removed []any
			Paths                   struct{ Old, New, Delta int }
		}
	}
	if err := json.Unmarshal([]byte(out), &diff); err != nil || code != 0 || !diff.OK || len(diff.Machines) != 1 {
		t.Fatalf("diff --json: exit %d, %v\n%s", code, err, out)
	}
	if d := diff.Machines[0]; d.Machine != "devnix" || d.Current != gen1 || d.Path != st["devnix"].Desired || d.Paths.Old == 0 || d.Changed == nil || d.Added == nil {
		t.Errorf("diff --json: %+v", d)
	}

	f.must("deploy", "devnix")
	gen2 := c.Host("devnix").CurrentSystem()
	if gen2 == gen1 || f.status(0)["devnix"].Generation != 2 {
		t.Fatalf("redeploy did not bring devnix to generation 2")
	}

	out = f.must("generations", "devnix")
	t.Logf("generations devnix:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], gen1) ||
		!strings.HasPrefix(lines[2], "2 ") || !strings.Contains(lines[2], gen2) || !strings.HasSuffix(lines[2], "current, running") ||
		strings.Contains(lines[1], "current") {
		t.Fatalf("generations devnix:\n%s", out)
	}

	// --dry-run shows the plan and changes nothing.
	out, errOut, code := f.nixherd("rollback", "devnix", "--dry-run")
	if code != 0 || !strings.Contains(errOut, fmt.Sprintf("devnix: generation 2 (%s) → 1 (%s", gen2, gen1)) ||
		!regexpMatch(`(?m)^devnix\s+would roll back\s+1\s+`+regexp.QuoteMeta(gen1), out) {
		t.Errorf("rollback --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if h := c.Host("devnix"); h.CurrentSystem() != gen2 || h.Profile(systemProfile) != gen2 {
		t.Fatalf("rollback --dry-run changed devnix")
	}

	// rollback (previous): resolved to generation 1's path, shown, activated.
	out, errOut, code = f.nixherd("rollback", "devnix")
	t.Logf("rollback devnix:\n%s%s", errOut, out)
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, fmt.Sprintf("devnix: generation 2 (%s) → 1 (%s", gen2, gen1)) {
		t.Errorf("rollback did not show its plan:\n%s", errOut)
	}
	h := c.Host("devnix")
	if h.CurrentSystem() != gen1 || h.Profile(systemProfile) != gen1 {
		t.Fatalf("after rollback devnix runs %s with profile %s, want %s", h.CurrentSystem(), h.Profile(systemProfile), gen1)
	}
	acts, err := h.Activations()
	if err != nil {
		t.Fatal(err)
	}
	if last := acts[len(acts)-1]; last.Action != "switch" || last.Path != gen1 {
		t.Errorf("last activation %+v, want switch of %s", last, gen1)
	}
	if m := f.status(exitReported)["devnix"]; m.Generation != 1 || m.Running != gen1 {
		t.Errorf("status after rollback: %+v", m)
	}

	// Nothing older than generation 1; generation 9 does not exist.
	if _, errOut, code := f.nixherd("rollback", "devnix"); code != 1 || !strings.Contains(errOut, "generation 1 is the oldest") {
		t.Errorf("rollback past the oldest: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := f.nixherd("rollback", "devnix", "--to", "9"); code != 1 || !strings.Contains(errOut, "there is no generation 9 (generations: 1, 2)") {
		t.Errorf("rollback --to 9: exit %d\n%s", code, errOut)
	}
	if h.CurrentSystem() != gen1 {
		t.Fatalf("a refused rollback changed the host")
	}

	// --to 2 returns forward, by store path, with the JSON summary.
	out = f.must("rollback", "devnix", "--to", "2", "--json")
	var sum struct {
		OK       bool
		Machines []struct {
			Machine    string
			Outcome    string
			Generation int
			Path       string
			Seconds    float64
		}
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || !sum.OK || len(sum.Machines) != 1 || sum.Machines[0].Machine != "devnix" ||
		sum.Machines[0].Generation != 2 || sum.Machines[0].Path != gen2 || sum.Machines[0].Outcome != "rolled forward" {
		t.Fatalf("rollback --to 2 --json: %v\n%s", err, out)
	}
	if h.CurrentSystem() != gen2 || h.Profile(systemProfile) != gen2 {
		t.Fatalf("after rollback --to 2 devnix runs %s", h.CurrentSystem())
	}

	// Already there: said so, and nothing is activated.
	before, _ := h.Activations()
	out, errOut, code = f.nixherd("rollback", "devnix", "--to", "2")
	if code != 0 || !strings.Contains(errOut, "rollback devnix: already on generation 2 ("+gen2+")") || !regexpMatch(`(?m)^devnix\s+unchanged\s+2\s`, out) {
		t.Errorf("rollback to the current generation: exit %d\n%s%s", code, out, errOut)
	}
	if after, _ := h.Activations(); len(after) != len(before) {
		t.Errorf("rollback to the generation it was on activated it again: %+v", after[len(before):])
	}

	// nix-darwin and home-manager on one host roll back together (one after
	// the other under the host's lock), each by its own contract.
	mac, homeHost := c.Host("devmac"), c.Host("devmac")
	mac1, home1 := mac.Profile(systemProfile), homeHost.HomeGeneration("root")
	devmac2, home2 := devmac, home
	devmac2.Generation, home2.Generation = "2", "2"
	f.write(placement{devnix2, "devnix"}, placement{devmac2, "devmac"}, placement{home2, "devmac"})
	f.must("deploy", "devmac,root-at-devmac")
	if mac.Profile(systemProfile) == mac1 || homeHost.HomeGeneration("root") == home1 {
		t.Fatalf("the deploy of generation 2 to devmac did not happen")
	}
	out = f.must("rollback", "devmac,root-at-devmac")
	if mac.Profile(systemProfile) != mac1 || mac.CurrentSystem() != mac1 || homeHost.HomeGeneration("root") != home1 {
		t.Fatalf("after rollback devmac runs %s (profile %s), home %s; want %s and %s\n%s",
			mac.CurrentSystem(), mac.Profile(systemProfile), homeHost.HomeGeneration("root"), mac1, home1, out)
	}
	acts, _ = mac.Activations()
	activated := map[string]string{} // action → path, the latest of each
	for _, a := range acts {
		activated[a.Action] = a.Path
	}
	if activated["activate"] != mac1 || activated["home-activate"] != home1 {
		t.Errorf("the rollback activated darwin %s and home %s, want %s and %s", activated["activate"], activated["home-activate"], mac1, home1)
	}

	// An unreachable machine is shown and makes status exit 3.
	f.write(placement{devnix2, "devnix"}, placement{devmac2, "devmac"}, placement{home2, "devmac"},
		placement{testhost.FixtureMachine{Name: "ephem", Platform: platform.NixOS, Generation: "1"}, "root@127.0.0.1:" + closedPort(t)})
	out, errOut, code = f.nixherd("status")
	if code != exitUnreachable || !regexpMatch(`(?m)^ephem\s+root@127\.0\.0\.1:\d+\s+unreachable`, out) ||
		!regexpMatch(`(?m)^devnix\s+\S+\s+in sync`, out) || !regexpMatch(`(?m)^devmac\s+\S+\s+out of sync\s+1\s`, out) {
		t.Fatalf("status with ephem down: exit %d\n%s%s", code, out, errOut)
	}
	if !regexpMatch(`(?m)^ephem: .*Connection refused`, out) {
		t.Errorf("status does not say why ephem is unreachable:\n%s", out)
	}
}

// A local switch, run on a test host as a user there would run it (the host
// is the local machine: its own /nix, /run and host name), never on this
// machine's own system profile. The machine is found by host name; each
// action does what its contract says.
func TestSwitchLocal(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"devnix", "devmac"}})
	f := newOpsFleet(t, c)
	devnix := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "1"}
	devmac := testhost.FixtureMachine{Name: "devmac", Platform: platform.Darwin, Generation: "1", ActivateUser: true}
	home := testhost.FixtureMachine{Name: "root@devmac", Platform: platform.Home, Generation: "1"}
	f.write(placement{devnix, "local"}, placement{devmac, "local"}, placement{home, "local"})
	h := c.Host("devnix")

	// A test host is not NixOS, and switch refuses a NixOS configuration
	// there before building anything.
	if _, errOut, code := f.switchOnCode(h); code != exitUsage || !strings.Contains(errOut, "this machine is not NixOS") {
		t.Fatalf("switch on a machine that is not NixOS: exit %d\n%s", code, errOut)
	}
	if h.Profile(systemProfile) != "" {
		t.Fatal("the refused switch set the system profile")
	}
	// Marked the way NixOS marks itself (os-release, inside the host's own
	// mount namespace only), it is NixOS to switch.
	markNixOS(t, h)

	// build: prints the path, activates nothing.
	out := f.switchOn(h, "--action", "build")
	gen1 := strings.TrimSpace(out)
	if !strings.HasPrefix(gen1, "/nix/store/") || !strings.HasSuffix(gen1, "-nixos-system-devnix-fixture") {
		t.Fatalf("switch --action build printed %q", out)
	}
	if h.CurrentSystem() != "" || h.Profile(systemProfile) != "" {
		t.Fatalf("build changed the host")
	}

	// switch, with the machine found by the host name "devnix".
	out = f.switchOn(h)
	if h.CurrentSystem() != gen1 || h.Profile(systemProfile) != gen1 || h.BootDefault() != gen1 {
		t.Fatalf("switch: runs %q, profile %q, boot %q; want %s\n%s", h.CurrentSystem(), h.Profile(systemProfile), h.BootDefault(), gen1, out)
	}
	if !strings.Contains(out, "devnix: switched, generation 1 (was 0)") {
		t.Errorf("switch output: %q", out)
	}

	// boot: new generation for the next boot, the running system unchanged.
	devnix.Generation = "2"
	f.write(placement{devnix, "local"}, placement{devmac, "local"}, placement{home, "local"})
	f.switchOn(h, "--action", "boot")
	gen2 := h.Profile(systemProfile)
	if gen2 == gen1 || h.BootDefault() != gen2 || h.CurrentSystem() != gen1 {
		t.Fatalf("boot: profile %s, boot %s, running %s", gen2, h.BootDefault(), h.CurrentSystem())
	}

	// test: runs generation 3 now, profile and boot default untouched.
	devnix.Generation = "3"
	f.write(placement{devnix, "local"}, placement{devmac, "local"}, placement{home, "local"})
	f.switchOn(h, "--action", "test")
	if h.CurrentSystem() == gen2 || h.CurrentSystem() == gen1 || h.Profile(systemProfile) != gen2 || h.BootDefault() != gen2 {
		t.Fatalf("test: running %s, profile %s, boot %s", h.CurrentSystem(), h.Profile(systemProfile), h.BootDefault())
	}
	gen3 := h.CurrentSystem()

	// dry-activate changes nothing, is recorded as such, and shows what the
	// activation printed.
	if out := f.switchOn(h, "--action", "dry-activate"); !strings.Contains(out, "devnix: dry-activate "+gen3+" (nothing changed):\n  would activate "+gen3+"\n") {
		t.Errorf("switch --action dry-activate printed %q", out)
	}
	acts, _ := h.Activations()
	want := []string{"switch", "boot", "test", "dry-activate"}
	if len(acts) != len(want) {
		t.Fatalf("activations %+v, want %v", acts, want)
	}
	for i, a := range acts {
		if a.Action != want[i] {
			t.Errorf("activation %d = %s, want %s", i, a.Action, want[i])
		}
	}
	if h.CurrentSystem() != gen3 {
		t.Errorf("dry-activate changed the running system")
	}

	// A second switch while one is activating is refused, naming the holder.
	// The first activation waits until the test lets it go, so the second
	// switch surely finds the lock held, however slow the machine.
	release := filepath.Join(h.Dir, "release-activation")
	devnix.Generation = "4"
	devnix.ActivateScript = "i=0; while [ ! -e /run/testhost/release-activation ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
	f.write(placement{devnix, "local"}, placement{devmac, "local"}, placement{home, "local"})
	f.switchOn(h, "--action", "build") // build first, so the two race only for the lock
	first := make(chan string, 1)
	go func() {
		out, errOut, code := f.switchOnCode(h)
		first <- fmt.Sprintf("exit %d\n%s%s", code, out, errOut)
	}()
	testenv.Eventually(t, 20*time.Second, "the deploy takes devnix's lock", func() bool {
		return strings.Contains(readFile(h.Path("/run/nixherd/deploy.lock/owner")), "nixherd")
	})
	_, errOut, code := f.switchOnCode(h)
	if code == 0 || !strings.Contains(errOut, "another deploy to this host is in progress (nixherd on root@devnix") {
		t.Errorf("concurrent switch: exit %d\n%s", code, errOut)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := <-first; !strings.HasPrefix(res, "exit 0") {
		t.Errorf("the first switch failed: %s", res)
	}
	if h.Profile(systemProfile) != h.CurrentSystem() || h.CurrentSystem() == gen3 {
		t.Errorf("after the locked switches devnix runs %s, profile %s", h.CurrentSystem(), h.Profile(systemProfile))
	}

	// On the host devmac, as root, the lookup finds home-manager's
	// "root@devmac" (darwinConfigurations are only looked up on macOS):
	// its own profile, activated as the user.
	m := c.Host("devmac")
	f.switchOn(m)
	homeGen := m.HomeGeneration("root")
	if !strings.HasSuffix(homeGen, "-home-manager-generation-root-at-devmac") {
		t.Fatalf("home-manager generation %q", homeGen)
	}
	if m.Profile("/nix/var/nix/profiles/per-user/root/home-manager") != homeGen && m.Profile("/root/.local/state/nix/profiles/home-manager") != homeGen {
		t.Errorf("the home-manager profile does not point at %s", homeGen)
	}
	if m.Profile(systemProfile) != "" {
		t.Errorf("the home switch touched the system profile")
	}

	// nix-darwin, named explicitly, on a machine that is not a Mac: refused
	// before anything is built or changed (the darwin contract itself is
	// tested by the deploys to test hosts, with the same executor).
	if _, errOut, code := f.switchOnCode(m, "--machine", "devmac"); code != exitUsage || !strings.Contains(errOut, "it is a nix-darwin configuration and this machine is not a Mac") {
		t.Errorf("darwin switch on Linux: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := f.switchOnCode(m, "--machine", "devmac", "--action", "test"); code != exitUsage || !strings.Contains(errOut, "this machine is not a Mac") {
		t.Errorf("darwin test on Linux: exit %d\n%s", code, errOut)
	}
	if acts2, _ := m.Activations(); len(acts2) != 1 || m.Profile(systemProfile) != "" {
		t.Errorf("the refused darwin switches changed something: %+v, profile %q", acts2, m.Profile(systemProfile))
	}
}

// A failed local activation puts the profile back where it was (and the
// boot default with it): the machine must not boot into what just failed.
func TestSwitchLocalFailureRestoresTheProfile(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"devnix"}})
	f := newOpsFleet(t, c)
	h := c.Host("devnix")
	markNixOS(t, h)
	devnix := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "1"}
	f.write(placement{devnix, "local"})
	f.switchOn(h)
	gen1 := h.Profile(systemProfile)

	devnix.Generation, devnix.ActivateExit = "2", 4
	f.write(placement{devnix, "local"})
	out, errOut, code := f.switchOnCode(h)
	t.Logf("failed switch:\n%s%s", out, errOut)
	if code != exitReported || !strings.Contains(errOut, "exited with status 4") ||
		!strings.Contains(errOut, systemProfile+" is back on generation 1 ("+gen1+"), the default for the next boot") {
		t.Fatalf("failed switch: exit %d\n%s%s", code, out, errOut)
	}
	if h.Profile(systemProfile) != gen1 || h.BootDefault() != gen1 {
		t.Fatalf("after the failed switch the profile is %s and the boot default %s, want %s", h.Profile(systemProfile), h.BootDefault(), gen1)
	}
	// The failed generation stays, unused; the next switch is generation 3.
	devnix.Generation, devnix.ActivateExit = "3", 0
	f.write(placement{devnix, "local"})
	if out := f.switchOn(h); !strings.Contains(out, "generation 3 (was 1)") {
		t.Errorf("the switch after the failed one: %s", out)
	}
}

// markNixOS makes a test host look like NixOS to `nixherd switch`, the way
// NixOS marks itself (ID=nixos in /etc/os-release): a file of the host's
// own bound over /etc/os-release in the host's private mount namespace, so
// this machine's /etc is untouched.
func markNixOS(t *testing.T, h *testhost.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := readFile("/etc/os-release")
	if out, err := h.Run(ctx, `printf 'ID=nixos\nNAME=NixOS\n' > /run/testhost/os-release && mount --bind /run/testhost/os-release /etc/os-release && grep -qx ID=nixos /etc/os-release`); err != nil {
		t.Fatalf("marking %s as NixOS: %v\n%s", h.Name, err, out)
	}
	if readFile("/etc/os-release") != before {
		t.Fatal("the mark reached this machine's /etc/os-release")
	}
}

// switchOn runs `nixherd switch` on the test host over ssh, as someone
// logged in there would, so "local" is the host: its store, its /run, its
// host name.
func (f *opsFleet) switchOn(h *testhost.Host, args ...string) string {
	f.t.Helper()
	out, errOut, code := f.switchOnCode(h, args...)
	if code != 0 {
		f.t.Fatalf("switch %v on %s: exit %d\n%s%s", args, h.Name, code, out, errOut)
	}
	return out
}

func (f *opsFleet) switchOnCode(h *testhost.Host, args ...string) (string, string, int) {
	f.t.Helper()
	argv := append([]string{f.bin, "switch", "--flake", f.dir}, args...)
	script := "NIX_CONFIG=" + shell.Quote(testenv.OfflineNixConfig) + " exec " + shell.Join(argv)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := h.SSH(ctx, script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// On a terminal, deploy redraws one row per host in place (cursor moves, no
// scrolling log) and ends with every row marked done; piped, it writes
// plain timestamped lines without escape sequences. The terminal is a real
// pseudo-terminal made by script(1).
func TestDeployLiveViewOnTerminal(t *testing.T) {
	script := testenv.NeedTool(t, "script")
	c := hosttest.Start(t, testhost.Options{Names: []string{"devnix", "ephem"}})
	f := newOpsFleet(t, c)
	f.write(placement{testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "1", ActivateScript: "sleep 0.5"}, "devnix"},
		placement{testhost.FixtureMachine{Name: "ephem", Platform: platform.NixOS, Generation: "1"}, "ephem"})

	argv := []string{f.bin, "deploy", "--all", "--flake", f.dir, "-F", c.SSHConfig}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// script runs the command on a new pty and copies what it writes to
	// our stdout; stderr (the view) goes to the pty too.
	cmd := exec.CommandContext(ctx, script, "-qefc", shell.Join(argv), "/dev/null")
	cmd.Env = append(os.Environ(), "COLUMNS=100", "LINES=40", "TERM=xterm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy on a pty: %v\n%q", err, out)
	}
	screen := string(out)
	if !regexpMatch(`\x1b\[\d+A`, screen) || !strings.Contains(screen, "\x1b[?25l") || !strings.Contains(screen, "\x1b[?25h") {
		t.Fatalf("no in-place redraw on a terminal:\n%q", screen)
	}
	for _, host := range []string{"devnix", "ephem"} {
		if !regexpMatch(`✓ `+host+`\s+done\s+\d+\.\ds\s+switched`, screen) {
			t.Errorf("no finished row for %s:\n%q", host, screen)
		}
	}
	// Lines written minus lines gone back up: what stays on the screen.
	net := strings.Count(screen, "\n")
	for _, m := range regexp.MustCompile(`\x1b\[(\d+)A`).FindAllStringSubmatch(screen, -1) {
		n, _ := strconv.Atoi(m[1])
		net -= n
	}
	if net > 3+4 { // 3 rows (the run and 2 hosts), the summary table
		t.Errorf("the live view left %d lines on the screen for 2 hosts:\n%q", net, screen)
	}

	// The same deploy piped: plain lines, one per phase change.
	_, errOut, code := f.nixherd("deploy", "--all", "--reactivate")
	if code != 0 || strings.Contains(errOut, "\x1b") || !regexpMatch(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ devnix\s+done: switched$`, errOut) {
		t.Fatalf("piped deploy: exit %d\n%s", code, errOut)
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// stateHomes are the tests' own state directories.
var stateHomes sync.Map // *testing.T → string

// stateHome is the XDG_STATE_HOME of the nixherd commands a test runs
// (where push rollouts keep their record): the test's own, removed with it,
// the same for every command of the test.
func stateHome(t *testing.T) string {
	if d, ok := stateHomes.Load(t); ok {
		return d.(string)
	}
	d := t.TempDir()
	stateHomes.Store(t, d)
	t.Cleanup(func() { stateHomes.Delete(t) })
	return d
}
