package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
	"github.com/nixherd/nixherd/internal/watchdog"
)

// The watchdog's systemd branch, on hosts that run real systemd as process
// 1 as every NixOS host does: the watchdog runs as the transient service
// nixherd-watchdog-ID.service, the activation in the transient scope
// nixherd-activation-ID.scope, which is how a hung activation is stopped
// whole, and sshd is sshd.service, which activations restart and stop.
// One cluster serves every case, each on a host of its own, in parallel.
func TestSystemdWatchdog(t *testing.T) {
	t.Run("systemd", func(t *testing.T) {
		cases := []struct {
			name string
			test func(t *testing.T, f *fleet)
		}{
			{"activation-runs-in-a-scope", activationRunsInScope},
			{"hung-activation-stopped-through-its-scope", hungActivationStoppedThroughScope},
			{"activation-restarts-sshd.service", activationRestartsSSHD},
			{"activation-stops-sshd.service", sshdGoes(func(m *testhost.FixtureMachine, _ *testhost.Host) { m.SSHDown = true })},
			{"activation-moves-sshd-port", sshdGoes(func(m *testhost.FixtureMachine, h *testhost.Host) { m.SSHPort = h.Port + 1 })},
			{"activation-leaves-a-process-behind", activationLeavesProcess},
			{"activation-breaks-sshd.service", activationBreaksSSHD},
		}
		var names []string
		for i := range cases {
			names = append(names, fmt.Sprintf("sd%d", i+1))
		}
		c := hosttest.Start(t, testhost.Options{Names: names, Systemd: true})
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.test(t, fleetOn(t, c, c.Hosts[i]))
			})
		}
	})
}

// runUnits are the watchdog's units of run id on the host: its service
// and the activation's scope.
func runUnits(id string) (service, scope string) {
	return "nixherd-watchdog-" + id + ".service", "nixherd-activation-" + id + ".scope"
}

// newestRun is the id of the host's newest watchdog run.
func newestRun(t *testing.T, h *testhost.Host) string {
	t.Helper()
	ws := watchdogs(h)
	if len(ws) == 0 {
		t.Fatalf("%s: no watchdog run", h.Name)
	}
	return ws[len(ws)-1]
}

// unitProcesses lists the command lines of the processes in a unit of the
// host, read from the host's cgroup on this machine.
func unitProcesses(t *testing.T, h *testhost.Host, unit string) []string {
	t.Helper()
	cg, err := h.Systemctl(context.Background(), "show", "-p", "ControlGroup", "--value", unit)
	if err != nil || strings.TrimSpace(cg) == "" {
		return nil
	}
	procs, _ := os.ReadFile(filepath.Join(h.Cgroup(), strings.TrimSpace(cg), "cgroup.procs"))
	var cmds []string
	for _, pid := range strings.Fields(string(procs)) {
		b, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		cmds = append(cmds, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return cmds
}

// awaitProcess waits until a process whose command line contains cmd runs
// in the host's unit.
func awaitProcess(t *testing.T, h *testhost.Host, unit, cmd string) {
	t.Helper()
	testenv.Await(t, 10*time.Second, func() error {
		cmds := unitProcesses(t, h, unit)
		if slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, cmd) }) {
			return nil
		}
		return fmt.Errorf("%s: no %s in %s: it holds %q", h.Name, cmd, unit, cmds)
	})
}

// awaitUnits waits until the host's units matching pattern are want.
func awaitUnits(t *testing.T, h *testhost.Host, pattern string, want []string, within time.Duration) {
	t.Helper()
	testenv.Await(t, within, func() error {
		got, err := h.Units(context.Background(), pattern)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return nil
		}
		return fmt.Errorf("%s: units %s are %q, want %q\n%s", h.Name, pattern, got, want, h.Journal(context.Background(), 40))
	})
}

// noWatchdogUnitsLeft: once a run is over, its service and scope are gone
// (--collect), whatever the outcome.
func noWatchdogUnitsLeft(t *testing.T, h *testhost.Host) {
	t.Helper()
	awaitUnits(t, h, "nixherd-*", nil, 15*time.Second)
}

func sshdMainPID(t *testing.T, h *testhost.Host) int {
	t.Helper()
	pid, err := h.MainPID(context.Background(), "sshd.service")
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// sshdActive waits until sshd.service runs and a new login works.
func sshdActive(t *testing.T, h *testhost.Host) {
	t.Helper()
	testenv.Await(t, 10*time.Second, func() error {
		out, _ := h.Systemctl(context.Background(), "is-active", "sshd.service")
		state := strings.TrimSpace(out)
		_, err := h.Run(context.Background(), "true")
		if state == "active" && err == nil {
			return nil
		}
		return fmt.Errorf("%s: sshd.service is %s, a new login: %v\n%s", h.Name, state, err, h.Journal(context.Background(), 30))
	})
}

// A guarded switch runs the activation in nixherd-activation-ID.scope and
// the watchdog in nixherd-watchdog-ID.service; both exist while the
// activation runs and are gone when the run is over.
func activationRunsInScope(t *testing.T, f *fleet) {
	h := f.hosts[0]
	f.baseline()
	gate := filepath.Join(h.Dir, "gate") // /run/testhost/gate inside
	f.machines[h.Name].Generation = "b"
	f.machines[h.Name].ActivateScript = "while [ ! -e /run/testhost/gate ]; do sleep 0.1; done"
	f.write()

	before := len(watchdogs(h))
	r := f.start(h.Name)
	f.awaitState(h, before, watchdog.Activating, time.Minute)
	id := newestRun(t, h)
	service, scope := runUnits(id)
	awaitUnits(t, h, "nixherd-*", []string{scope, service}, 10*time.Second)
	awaitProcess(t, h, scope, "fixture/activate-hook") // the activation's hook, which waits for the gate
	awaitProcess(t, h, service, "watchdog.sh")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, time.Minute); code != 0 {
		t.Fatalf("deploy exited %d\n%s", code, r.output())
	}
	if s := system(h); !consistentlyOn(h, s) || !strings.Contains(s, "fixture") {
		t.Fatalf("after the deploy: %s", where(h))
	}
	noWatchdogUnitsLeft(t, h)
}

// A hung activation is stopped through its scope, every process of it,
// also one that left its process group and session (setsid), and the host
// rolls back.
func hungActivationStoppedThroughScope(t *testing.T, f *fleet) {
	h := f.hosts[0]
	escaped := []string{"sleep", strconv.Itoa(marker(true) + 100)}
	hung := []string{"sleep", strconv.Itoa(marker(true) + 200)}
	// The previous generation, which the rollback activates again, notes
	// what of the hung activation still runs by then: nothing may, the
	// activation is stopped before the way back is taken. (Once the
	// watchdog's service ends, systemd kills what is left in it anyway,
	// so the end state alone would not tell.)
	f.machines[h.Name].ActivateScript = fmt.Sprintf("pgrep -x -f '%s|%s' >>/run/testhost/left-at-rollback || true", strings.Join(escaped, " "), strings.Join(hung, " "))
	f.write()
	on := f.baseline()
	f.machines[h.Name].Generation = "b"
	f.machines[h.Name].ActivateScript = fmt.Sprintf("setsid %s </dev/null >/dev/null 2>&1 &\n%s", strings.Join(escaped, " "), strings.Join(hung, " "))
	f.write()

	before := len(watchdogs(h))
	r := f.start(h.Name, "--activation-timeout", "3s")
	f.awaitState(h, before, watchdog.Activating, time.Minute)
	// The escapee really left the activation's process group.
	testenv.Eventually(t, 10*time.Second, "the activation's processes start", func() bool {
		return len(processes(escaped)) > 0 && len(processes(hung)) > 0
	})
	if pg1, pg2 := processGroup(processes(escaped)[0]), processGroup(processes(hung)[0]); pg1 == pg2 {
		t.Fatalf("the escapee shares the activation's process group %s: the test proves nothing", pg1)
	}
	if code := r.wait(t, 25*time.Second); code != 1 {
		t.Fatalf("deploy exited %d, want 1\n%s", code, r.output())
	}
	f.expectRolledBack(r, "activation did not finish within 3s")
	f.assertOn(h, on[h.Name])
	acts, _ := h.Activations()
	if n := len(acts); n < 3 || acts[n-1].Path != on[h.Name] {
		t.Fatalf("the previous generation was not activated again: %+v", acts)
	}
	if left, _ := os.ReadFile(filepath.Join(h.Dir, "left-at-rollback")); len(left) > 0 {
		t.Errorf("processes (pids in the host) of the hung activation still ran when the rollback activated %s: %s", on[h.Name], left)
	}
	for _, argv := range [][]string{escaped, hung} {
		if pids := processes(argv); len(pids) > 0 {
			t.Errorf("%q of the stopped activation still runs: pids %v", argv, pids)
		}
	}
	noWatchdogUnitsLeft(t, h)
}

// processGroup is the process group of a process, from /proc/PID/stat.
func processGroup(pid string) string {
	stat, _ := os.ReadFile("/proc/" + pid + "/stat")
	_, rest, _ := strings.Cut(string(stat), ") ")
	if f := strings.Fields(rest); len(f) > 2 {
		return f[2]
	}
	return ""
}

// An activation that restarts sshd.service (NixOS does when sshd's unit
// changed) keeps its sessions and a fresh login confirms it: committed.
func activationRestartsSSHD(t *testing.T, f *fleet) {
	h := f.hosts[0]
	on := f.baseline()
	pid := sshdMainPID(t, h)
	f.machines[h.Name].Generation = "b"
	f.machines[h.Name].SSHRestart = true
	f.write()

	f.expectCommitted(f.deploy(h.Name), h, on[h.Name])
	if now := sshdMainPID(t, h); now == pid {
		t.Errorf("sshd.service was not restarted (pid %d)", pid)
	}
	sshdActive(t, h)
	noWatchdogUnitsLeft(t, h)
}

// sshdGoes is an activation that takes sshd away (change sets it up: stop
// sshd.service, move it to another port): no fresh login can confirm it,
// the host rolls back and sshd.service runs where it did.
func sshdGoes(change func(m *testhost.FixtureMachine, h *testhost.Host)) func(t *testing.T, f *fleet) {
	return func(t *testing.T, f *fleet) {
		h := f.hosts[0]
		on := f.baseline()
		f.machines[h.Name].Generation = "b"
		change(f.machines[h.Name], h)
		f.write()

		r := f.deploy(h.Name)
		f.expectRolledBack(r, "no confirmation within")
		f.assertOn(h, on[h.Name])
		sshdActive(t, h)
		noWatchdogUnitsLeft(t, h)
	}
}

// An activation that ends but leaves a process behind (here one that left
// its session): what is left in its scope is stopped when the activation
// ends, as systemd does with a transient service's leftovers (nixos-rebuild
// runs switch-to-configuration as one), and the scope goes. Before the fix
// the scope and the process stayed for good.
func activationLeavesProcess(t *testing.T, f *fleet) {
	h := f.hosts[0]
	on := f.baseline()
	left := []string{"sleep", strconv.Itoa(marker(true) + 300)}
	f.machines[h.Name].Generation = "b"
	f.machines[h.Name].ActivateScript = fmt.Sprintf("setsid %s </dev/null >/dev/null 2>&1 &", strings.Join(left, " "))
	f.write()

	f.expectCommitted(f.deploy(h.Name), h, on[h.Name])
	noWatchdogUnitsLeft(t, h)
	if pids := processes(left); len(pids) > 0 {
		t.Errorf("%q, left behind by the activation, still runs: pids %v", left, pids)
	}
}

// An activation after which sshd.service cannot start (its new port is
// taken): systemd restarts it until its start limit stops it, the host
// rolls back, and sshd.service runs again although the limit was hit
// moments before. Before the fix the watchdog's `systemctl restart` was
// refused ("start request repeated too quickly") and the host stayed
// unreachable.
func activationBreaksSSHD(t *testing.T, f *fleet) {
	h := f.hosts[0]
	on := f.baseline()
	taken, err := net.Listen("tcp", net.JoinHostPort(h.Addr, strconv.Itoa(h.Port+2)))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	f.machines[h.Name].Generation = "b"
	f.machines[h.Name].SSHPort = h.Port + 2
	f.write()

	r := f.deploy(h.Name)
	f.expectRolledBack(r, "") // "no confirmation", or "exited 4" if the restart fails at once
	f.assertOn(h, on[h.Name])
	// The rollback's own activation starts sshd.service cleanly (NixOS's
	// would exit 4 if systemd refused to).
	acts, _ := h.Activations()
	if last := acts[len(acts)-1]; last.Path != on[h.Name] || last.Exit != 0 {
		t.Errorf("the rollback's activation: %+v", last)
	}
	if !strings.Contains(h.Journal(context.Background(), 200), "sshd.service: Start request repeated too quickly") {
		t.Errorf("sshd.service did not hit its start limit: the test proves nothing\n%s", h.Journal(context.Background(), 60))
	}
	sshdActive(t, h)
	noWatchdogUnitsLeft(t, h)
}

// expectCommitted checks the deploy succeeded and the host is consistently
// on a generation other than old.
func (f *fleet) expectCommitted(r *run, h *testhost.Host, old string) {
	f.t.Helper()
	if r.code != 0 {
		f.t.Fatalf("deploy exited %d\n%s", r.code, r.output())
	}
	if s := system(h); s == old || !consistentlyOn(h, s) {
		f.t.Fatalf("%s; want the new generation everywhere", where(h))
	}
}
