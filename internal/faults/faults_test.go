package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
	"github.com/nixherd/nixherd/internal/watchdog"
)

// nixherd is the binary under test, built once by TestMain.
var nixherd string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nixherd-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nixherd = filepath.Join(dir, "nixherd")
	if out, err := exec.Command("go", "build", "-o", nixherd, "github.com/nixherd/nixherd/cmd/nixherd").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building nixherd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// confirmTimeout is short so that the whole suite stays quick; the
// guarantee under test is "previous generation within timeout + 10s". It
// counts from the activation on the host, and the deployer only sees that
// through its status polls: with the suite's two kinds of host side by side
// and other suites on the 2 cores (load 6), polls lagged 6s behind and 4s
// made baseline deploys fail now and then.
const confirmTimeout = 8 * time.Second

// fleet is a fixture flake deployed to test hosts, one machine per host.
type fleet struct {
	t        *testing.T
	c        *testhost.Cluster
	hosts    []*testhost.Host // the cluster's hosts this fleet deploys to
	dir      string
	machines map[string]*testhost.FixtureMachine
	checks   map[string]string // deploy.nix healthChecks per machine, as Nix
}

func newFleet(t *testing.T, opts testhost.Options) *fleet {
	c := hosttest.Start(t, opts)
	return fleetOn(t, c, c.Hosts...)
}

// fleetOn is a fleet of its own on some hosts of a cluster that other
// fleets share: each host belongs to one fleet.
func fleetOn(t *testing.T, c *testhost.Cluster, hosts ...*testhost.Host) *fleet {
	f := &fleet{t: t, c: c, hosts: hosts, dir: t.TempDir(), machines: map[string]*testhost.FixtureMachine{}, checks: map[string]string{}}
	for _, h := range hosts {
		f.machines[h.Name] = &testhost.FixtureMachine{Name: h.Name, Platform: platform.NixOS, Generation: "a"}
	}
	f.write()
	return f
}

// write regenerates the flake and deploy.nix from the machines' settings.
func (f *fleet) write() {
	f.t.Helper()
	var ms []testhost.FixtureMachine
	var d strings.Builder
	d.WriteString("{\n  machines = {\n")
	for _, h := range f.hosts {
		ms = append(ms, *f.machines[h.Name])
		fmt.Fprintf(&d, "    %s = { target = %q; platform = %q;", h.Name, h.Target(), f.machines[h.Name].Platform)
		if c := f.checks[h.Name]; c != "" {
			fmt.Fprintf(&d, " healthChecks = [ %s ];", c)
		}
		d.WriteString(" };\n")
	}
	d.WriteString("  };\n}\n")
	err := testhost.WriteFixture(f.dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": d.String()}})
	if err != nil {
		f.t.Fatal(err)
	}
}

// run is one nixherd deploy process.
type run struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr syncBuffer
	done   chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `nixherd deploy` on the fleet in the background.
func (f *fleet) start(args ...string) *run {
	f.t.Helper()
	all := append([]string{"deploy", "--flake", f.dir, "-F", f.c.SSHConfig, "--confirm-timeout", confirmTimeout.String()}, args...)
	r := &run{done: make(chan struct{})}
	r.cmd = exec.Command(nixherd, all...)
	r.cmd.Env = append(os.Environ(), f.c.Env()...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	f.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// wait waits for the deploy to exit and returns its exit code.
func (r *run) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(within):
		r.cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump for the log
		select {
		case <-r.done:
		case <-time.After(2 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
		t.Fatalf("nixherd deploy did not exit within %s\nstdout:\n%s\nstderr:\n%s", within, &r.stdout, r.stderr.String())
		return -1
	}
}

func (r *run) output() string {
	return "stdout:\n" + r.stdout.String() + "\nstderr:\n" + r.stderr.String()
}

// deploy runs nixherd deploy to completion.
func (f *fleet) deploy(args ...string) *run {
	f.t.Helper()
	r := f.start(args...)
	r.wait(f.t, 2*time.Minute)
	return r
}

// baseline deploys generation "a" everywhere and returns each host's system.
func (f *fleet) baseline() map[string]string {
	f.t.Helper()
	r := f.deploy("--all")
	if r.code != 0 {
		f.t.Fatalf("baseline deploy exited %d\n%s", r.code, r.output())
	}
	on := map[string]string{}
	for _, h := range f.hosts {
		on[h.Name] = system(h)
		if on[h.Name] == "" {
			f.t.Fatalf("%s: nothing active after the baseline deploy", h.Name)
		}
		f.assertOn(h, on[h.Name])
	}
	return on
}

func system(h *testhost.Host) string { return h.Profile(watchdog.SystemProfile) }

// where describes everything that says which generation a host is on.
func where(h *testhost.Host) string {
	return fmt.Sprintf("running %s, profile %s, boot default %s", h.CurrentSystem(), system(h), h.BootDefault())
}

func consistentlyOn(h *testhost.Host, want string) bool {
	return h.CurrentSystem() == want && system(h) == want && h.BootDefault() == want && h.HasStorePath(want)
}

// assertOn checks the host runs want, boots want and its profile names
// want, a store path the host has.
func (f *fleet) assertOn(h *testhost.Host, want string) {
	f.t.Helper()
	if !consistentlyOn(h, want) {
		f.t.Fatalf("%s: %s; want all %s", h.Name, where(h), want)
	}
}

// waitOn waits until the host is consistently on want and returns how long it took.
func (f *fleet) waitOn(h *testhost.Host, want string, within time.Duration) time.Duration {
	f.t.Helper()
	start := time.Now()
	testenv.Await(f.t, within, func() error {
		if consistentlyOn(h, want) {
			return nil
		}
		return fmt.Errorf("%s not back on %s: %s", h.Name, want, where(h))
	})
	return time.Since(start)
}

// watchdogs lists the host's watchdog runs, oldest first.
func watchdogs(h *testhost.Host) []string {
	entries, _ := os.ReadDir(h.Path(watchdog.StateRoot))
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// watchdogState reads the state of the host's newest watchdog run from
// outside the host (no network needed).
func watchdogState(h *testhost.Host) string {
	ws := watchdogs(h)
	if len(ws) == 0 {
		return ""
	}
	b, _ := os.ReadFile(h.Path(watchdog.StateRoot + "/" + ws[len(ws)-1] + "/state"))
	return strings.TrimSpace(string(b))
}

// awaitState waits until the host's newest watchdog run (one started after
// `before` runs existed) reaches state.
func (f *fleet) awaitState(h *testhost.Host, before int, state string, within time.Duration) time.Time {
	f.t.Helper()
	testenv.Await(f.t, within, func() error {
		if len(watchdogs(h)) > before && watchdogState(h) == state {
			return nil
		}
		return fmt.Errorf("%s: watchdog state %q, want %q", h.Name, watchdogState(h), state)
	})
	return time.Now()
}

func (f *fleet) expectRolledBack(r *run, reason string) {
	f.t.Helper()
	if r.code == 0 {
		f.t.Fatalf("deploy exited 0 after a rollback\n%s", r.output())
	}
	out := r.stdout.String()
	if !strings.Contains(out, "ROLLED BACK") || !strings.Contains(out, reason) {
		f.t.Fatalf("summary does not report ROLLED BACK (%s)\n%s", reason, r.output())
	}
}

// within is the guarantee: back on the previous generation no later than
// the confirm timeout plus 10 seconds after the activation.
const within = confirmTimeout + 10*time.Second

func TestActivationThatClosesSSHRollsBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		f := newFleet(t, testhost.Options{N: 2, Systemd: systemd})
		on := f.baseline()
		h1, h2 := f.hosts[0], f.hosts[1]
		f.machines[h1.Name].Generation, f.machines[h1.Name].SSHDown = "b", true
		f.machines[h2.Name].Generation = "b"
		f.write()

		before := len(watchdogs(h1))
		r := f.start("--all")
		activated := f.awaitState(h1, before, watchdog.Activated, time.Minute)
		took := f.waitOn(h1, on[h1.Name], within)
		t.Logf("%s back on its previous generation %s after the activation", h1.Name, took.Round(100*time.Millisecond))
		r.wait(t, time.Minute)
		if time.Since(activated) < confirmTimeout {
			t.Errorf("rolled back before the confirm timeout")
		}
		f.expectRolledBack(r, "no confirmation within")
		// sshd is back: a fresh login works again.
		if _, err := h1.Run(context.Background(), "true"); err != nil {
			t.Fatalf("%s unreachable after the rollback: %v", h1.Name, err)
		}
		// The healthy host kept its new generation.
		if s := system(h2); s == on[h2.Name] || !consistentlyOn(h2, s) {
			t.Fatalf("%s: %s; want the new generation everywhere", h2.Name, where(h2))
		}
	})
}

func TestNetworkCutDuringActivationRollsBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		f := newFleet(t, testhost.Options{N: 2, NetNS: true, Systemd: systemd})
		on := f.baseline()
		h, other := f.hosts[0], f.hosts[1]
		for _, x := range f.hosts {
			f.machines[x.Name].Generation = "b"
			f.machines[x.Name].ActivateScript = "sleep 2"
		}
		f.write()

		before := len(watchdogs(h))
		r := f.start("--all")
		f.awaitState(h, before, watchdog.Activating, time.Minute)
		if err := h.Cut(); err != nil {
			t.Fatal(err)
		}
		activated := f.awaitState(h, before, watchdog.Activated, 30*time.Second)
		f.waitOn(h, on[h.Name], within-time.Since(activated))
		if err := h.Restore(); err != nil {
			t.Fatal(err)
		}
		r.wait(t, time.Minute)
		if r.code == 0 {
			t.Fatalf("deploy exited 0\n%s", r.output())
		}
		f.assertOn(h, on[h.Name])
		// The host whose network stayed up kept its new generation.
		if s := system(other); s == on[other.Name] || !consistentlyOn(other, s) {
			t.Fatalf("%s: %s; want the new generation everywhere\n%s", other.Name, where(other), r.output())
		}
		t.Logf("deploy with one host cut:\n%s", r.stdout.String())
	})
}

func TestActivationExit4RollsBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		f := newFleet(t, testhost.Options{N: 1, Systemd: systemd})
		on := f.baseline()
		h := f.hosts[0]
		f.machines[h.Name].Generation = "b"
		f.machines[h.Name].ActivateExit = 4
		f.write()

		r := f.deploy(h.Name)
		f.expectRolledBack(r, "activation exited 4")
		f.assertOn(h, on[h.Name])
		if !strings.Contains(r.stdout.String()+r.stderr.String(), "the following units failed") {
			t.Errorf("the activation's output is not shown\n%s", r.output())
		}
	})
}

func TestHungActivationIsStoppedAndRolledBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		start := time.Now()
		f := newFleet(t, testhost.Options{N: 1, Systemd: systemd})
		on := f.baseline()
		h := f.hosts[0]
		// A unit that never finishes starting, as far as the deployer can tell:
		// the activation sleeps far past the deadline. The number marks this
		// sleep among the machine's processes.
		hang := fmt.Sprintf("sleep %d", marker(systemd))
		f.machines[h.Name].Generation = "b"
		f.machines[h.Name].ActivateScript = hang
		f.write()

		r := f.start(h.Name, "--activation-timeout", "3s")
		if code := r.wait(t, 25*time.Second); code != 1 {
			t.Fatalf("deploy exited %d, want 1\n%s", code, r.output())
		}
		f.expectRolledBack(r, "activation did not finish within 3s")
		f.assertOn(h, on[h.Name])
		if pids := processes(strings.Fields(hang)); len(pids) > 0 {
			t.Errorf("the hung activation's %q still runs: pids %v", hang, pids)
		}
		t.Logf("deploy:\n%s", r.output())
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("took %s", took)
		}
	})
}

// processes lists the live processes (not zombies) whose argv is argv.
func processes(argv []string) []string {
	want := strings.Join(argv, "\x00") + "\x00"
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []string
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil || string(cmdline) != want {
			continue
		}
		stat, _ := os.ReadFile(d + "/stat")
		if _, rest, _ := strings.Cut(string(stat), ") "); strings.HasPrefix(rest, "Z") {
			continue
		}
		pids = append(pids, filepath.Base(d))
	}
	return pids
}

func TestFailingHealthCheckRollsBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		f := newFleet(t, testhost.Options{N: 1, Systemd: systemd})
		h := f.hosts[0]
		// Passes on generation a, fails on b: a real check of what runs.
		f.checks[h.Name] = `{ command = "grep -qx a /run/current-system/fixture/generation"; }`
		f.write()
		on := f.baseline()
		f.machines[h.Name].Generation = "b"
		f.write()

		r := f.deploy(h.Name)
		f.expectRolledBack(r, "health check failed: command grep -qx a /run/current-system/fixture/generation")
		f.assertOn(h, on[h.Name])
	})
}

func TestInterruptDuringCopyActivatesNothing(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(sig.String(), func(t *testing.T) {
				f := newFleet(t, testhost.Options{N: 2, Systemd: systemd})
				on := f.baseline()
				for _, h := range f.hosts {
					f.machines[h.Name].Generation = "b"
					f.machines[h.Name].PayloadBytes = 96 << 20
				}
				f.write()
				runs := map[string]int{}
				for _, h := range f.hosts {
					runs[h.Name] = len(watchdogs(h))
				}

				r := f.start("--all")
				testenv.Await(t, time.Minute, func() error {
					if strings.Contains(r.stderr.String(), "copying") {
						return nil
					}
					return fmt.Errorf("no copy seen\n%s", r.output())
				})
				r.cmd.Process.Signal(sig)
				if code := r.wait(t, time.Minute); code == 0 {
					t.Fatalf("interrupted deploy exited 0\n%s", r.output())
				}
				for _, h := range f.hosts {
					f.assertOn(h, on[h.Name])
					if n := len(watchdogs(h)); n != runs[h.Name] {
						t.Errorf("%s: an activation started after the interrupt", h.Name)
					}
				}
				// A rerun finishes the job.
				if r := f.deploy("--all"); r.code != 0 {
					t.Fatalf("rerun exited %d\n%s", r.code, r.output())
				}
				for _, h := range f.hosts {
					if s := system(h); s == on[h.Name] || !consistentlyOn(h, s) {
						t.Fatalf("%s after the rerun: %s", h.Name, where(h))
					}
				}
			})
		}
	})
}

func TestInterruptDuringActivationRollsBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		for _, tc := range []struct {
			name  string
			sig   syscall.Signal
			state string // when the signal is sent
		}{
			{"SIGINT-while-activating", syscall.SIGINT, watchdog.Activating},
			{"SIGTERM-while-activating", syscall.SIGTERM, watchdog.Activating},
			{"SIGINT-during-health-checks", syscall.SIGINT, watchdog.Activated},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFleet(t, testhost.Options{N: 1, Systemd: systemd})
				h := f.hosts[0]
				f.checks[h.Name] = `{ command = "sleep 1"; }`
				f.write()
				on := f.baseline()
				f.machines[h.Name].Generation = "b"
				f.machines[h.Name].ActivateScript = "sleep 1"
				f.write()

				before := len(watchdogs(h))
				r := f.start(h.Name)
				f.awaitState(h, before, tc.state, time.Minute)
				r.cmd.Process.Signal(tc.sig)
				if code := r.wait(t, time.Minute); code == 0 {
					t.Fatalf("interrupted deploy exited 0\n%s", r.output())
				}
				f.awaitState(h, before, watchdog.RolledBack, within)
				f.assertOn(h, on[h.Name])
				t.Logf("interrupted deploy:\n%s", r.output())
				if r := f.deploy(h.Name); r.code != 0 {
					t.Fatalf("rerun exited %d\n%s", r.code, r.output())
				}
				if s := system(h); s == on[h.Name] || !consistentlyOn(h, s) {
					t.Fatalf("after the rerun: %s", where(h))
				}
			})
		}
	})
}

// A deployer killed (SIGKILL: no cleanup, its connections just drop) while
// the host activates or while it runs the health checks: the host ends on
// its previous generation by itself.
func TestKilledDeployerLeavesHostToRollBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		c := hosttest.Start(t, testhost.Options{N: 2, Systemd: systemd})
		for i, state := range []string{watchdog.Activating, watchdog.Activated} {
			t.Run("while-"+state, func(t *testing.T) {
				t.Parallel()
				f := fleetOn(t, c, c.Hosts[i])
				h := f.hosts[0]
				f.checks[h.Name] = `{ command = "sleep 2"; }` // holds the deployer before its confirmation
				f.write()
				on := f.baseline()
				f.machines[h.Name].Generation = "b"
				f.machines[h.Name].ActivateScript = "sleep 2" // time to kill it meanwhile
				f.write()

				before := len(watchdogs(h))
				r := f.start(h.Name)
				f.awaitState(h, before, state, time.Minute)
				r.cmd.Process.Signal(syscall.SIGKILL)
				r.wait(t, 10*time.Second)
				activated := f.awaitState(h, before, watchdog.Activated, 30*time.Second)
				if consistentlyOn(h, on[h.Name]) {
					t.Fatal("rolled back before the deployer died: the test proves nothing")
				}
				f.waitOn(h, on[h.Name], within-time.Since(activated))
				// The record says so once sshd is restarted and the run is closed.
				f.awaitState(h, before, watchdog.RolledBack, 10*time.Second)
				f.assertOn(h, on[h.Name])
				if h.Systemd() {
					sshdActive(t, h)
					noWatchdogUnitsLeft(t, h)
				}
			})
		}
	})
}

func TestDarwinFailedActivationRollsBack(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		f := newFleet(t, testhost.Options{N: 1, Systemd: systemd})
		h := f.hosts[0]
		f.machines[h.Name].Platform = platform.Darwin
		f.write()
		r := f.deploy(h.Name)
		if r.code != 0 {
			t.Fatalf("baseline deploy exited %d\n%s", r.code, r.output())
		}
		old := system(h)
		if old == "" || h.CurrentSystem() != old {
			t.Fatalf("after the baseline: %s", where(h))
		}
		f.machines[h.Name].Generation = "b"
		f.machines[h.Name].ActivateExit = 4
		f.write()

		r = f.deploy(h.Name)
		f.expectRolledBack(r, "activation exited 4")
		// nix-darwin has no boot default: what runs and the profile say it all.
		if h.CurrentSystem() != old || system(h) != old {
			t.Fatalf("%s; want %s", where(h), old)
		}
		acts, err := h.Activations()
		if err != nil {
			t.Fatal(err)
		}
		if last := acts[len(acts)-1]; last.Action != "activate" || last.Path != old {
			t.Fatalf("last activation %+v; want the previous system re-activated", last)
		}
	})
}

// TestAskWaitsForYes answers deploy --ask on a real pseudo-terminal
// (script(1)): "no" deploys nothing, "yes" deploys.
func TestAskWaitsForYes(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		script := testenv.NeedTool(t, "script")
		f := newFleet(t, testhost.Options{N: 1, Systemd: systemd})
		h := f.hosts[0]
		on := f.baseline()
		f.machines[h.Name].Generation = "b"
		f.write()

		ask := func(answer string) (string, int) {
			argv := []string{nixherd, "deploy", "--ask", "--flake", f.dir, "-F", f.c.SSHConfig, h.Name}
			cmd := exec.Command(script, "-qefc", shell.Join(argv), "/dev/null")
			cmd.Env = append(os.Environ(), append(f.c.Env(), "TERM=dumb")...)
			cmd.Stdin = strings.NewReader(answer + "\n")
			out, _ := cmd.CombinedOutput()
			return string(out), cmd.ProcessState.ExitCode()
		}

		before := len(watchdogs(h))
		out, code := ask("no")
		if code == 0 || !strings.Contains(out, "not confirmed: nothing was deployed") {
			t.Fatalf("answer no: exit %d\n%s", code, out)
		}
		for _, want := range []string{h.Name + " (" + h.Target() + ")", "Closure size:", "Deploy to 1 machine(s)? Type yes to continue:"} {
			if !strings.Contains(out, want) {
				t.Errorf("--ask output lacks %q:\n%s", want, out)
			}
		}
		f.assertOn(h, on[h.Name])
		if len(watchdogs(h)) != before {
			t.Fatal("something was activated after the answer no")
		}

		out, code = ask("yes")
		if code != 0 {
			t.Fatalf("answer yes: exit %d\n%s", code, out)
		}
		if s := system(h); s == on[h.Name] || !consistentlyOn(h, s) {
			t.Fatalf("after yes: %s", where(h))
		}
	})
}

// onEachKind runs test once per kind of test host, as parallel subtests
// named after the kind: "sshd" (a shell supervises sshd) and "systemd"
// (real systemd as process 1, as on NixOS). `go test -run /systemd` runs
// the systemd ones only; scripts/fault-suite.sh counts each kind's passes.
func onEachKind(t *testing.T, test func(t *testing.T, systemd bool)) {
	for _, kind := range []string{"sshd", "systemd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			test(t, kind == "systemd")
		})
	}
}

// marker is a number no other process of this machine has in its argv
// ("sleep MARKER"), distinct for the two kinds of host that run in
// parallel.
func marker(systemd bool) int {
	n := 36000 + os.Getpid()%10000*2
	if systemd {
		n++
	}
	return n
}
