package testhost_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// machineSentinels puts a file in this machine's /tmp and /var/tmp and
// checks, when the test is over, that both are still there: a systemd
// booted outside its overlay would have wiped them (contracts §9).
func machineSentinels(t *testing.T) {
	t.Helper()
	for _, dir := range []string{"/tmp", "/var/tmp"} {
		f, err := os.CreateTemp(dir, "nixherd-testhost-sentinel-")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		t.Cleanup(func() {
			if _, err := os.Stat(f.Name()); err != nil {
				t.Errorf("this machine's %s lost a file while systemd hosts ran: %v", dir, err)
			}
			os.Remove(f.Name())
		})
	}
}

// machineUnits lists this machine's own systemd units when it runs
// systemd (nil otherwise), read-only.
func machineUnits(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return nil
	}
	out, err := exec.Command("systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager").Output()
	if err != nil {
		t.Fatalf("systemctl on this machine: %v", err)
	}
	var units []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			units = append(units, f[0])
		}
	}
	return units
}

func startSystemd(t *testing.T, opts testhost.Options) *testhost.Cluster {
	t.Helper()
	machineSentinels(t)
	before := machineUnits(t)
	if before == nil {
		t.Log("this machine does not run systemd: its units cannot be affected")
	} else {
		t.Cleanup(func() {
			for _, u := range machineUnits(t) {
				if strings.HasPrefix(u, "nixherd-") || strings.HasPrefix(u, "testhost") {
					t.Errorf("this machine's systemd has the unit %s", u)
				}
			}
		})
	}
	opts.Systemd = true
	return hosttest.Start(t, opts)
}

// activeUnits lists the host's active units.
func activeUnits(t *testing.T, h *testhost.Host) []string {
	t.Helper()
	out, err := h.Systemctl(context.Background(), "list-units", "--state=active", "--plain", "--no-legend")
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			units = append(units, f[0])
		}
	}
	return units
}

// hostUnitAllowed says which active units a systemd host may have: its
// own, systemd's own and the bus; nothing this machine enables (timers,
// its sshd, databases, gettys, swap, automounts).
func hostUnitAllowed(u string) bool {
	switch u {
	case "sshd.service", "dbus.service", "dbus.socket", "nix-daemon.service",
		"systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket",
		"-.slice", "system.slice", "init.scope",
		"testhost.target", "sysinit.target", "local-fs.target", "swap.target", "basic.target",
		"sockets.target", "timers.target", "paths.target", "slices.target":
		return true
	}
	return strings.HasSuffix(u, ".mount") || strings.HasPrefix(u, "run-") && strings.HasSuffix(u, ".scope")
}

// TestSystemdHosts: hosts with real systemd as process 1, each on an
// overlay of this machine's root with its own /tmp, /run, /dev, cgroups and
// units; sshd is sshd.service and systemd's tools work as on NixOS. One
// cluster serves every subtest.
func TestSystemdHosts(t *testing.T) {
	c := startSystemd(t, testhost.Options{N: 2})
	ctx := context.Background()

	t.Run("boots systemd with the host's units only", func(t *testing.T) {
		for _, h := range c.Hosts {
			if !h.Systemd() {
				t.Fatalf("%s: Systemd() = false", h.Name)
			}
			got := strings.Fields(run(t, h, "hostname; readlink /proc/1/exe; systemctl is-system-running"))
			if len(got) != 3 || got[0] != h.Name || !strings.HasSuffix(got[1], "/systemd") || got[2] != "running" {
				t.Errorf("%s: hostname, process 1, state = %q", h.Name, got)
			}
			for _, u := range activeUnits(t, h) {
				if !hostUnitAllowed(u) {
					t.Errorf("%s runs %s, which is not the host's", h.Name, u)
				}
			}
			// Debian's sshd, and the units that reach past the host (kernel
			// modules, sysctl, binfmt, clock, pstore, firstboot, logind,
			// gettys, debugfs, configfs, tracing and fuse mounts, timers).
			for _, u := range []string{"ssh.service", "ssh.socket",
				"systemd-modules-load.service", "systemd-sysctl.service", "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
				"systemd-timesyncd.service", "systemd-pstore.service", "systemd-firstboot.service", "systemd-logind.service",
				"getty@tty1.service", "getty.target", "sys-kernel-debug.mount", "sys-kernel-config.mount", "sys-kernel-tracing.mount",
				"sys-fs-fuse-connections.mount", "systemd-tmpfiles-setup.service", "apt-daily.timer"} {
				if out, _ := h.Systemctl(ctx, "show", "-p", "LoadState", "--value", u); strings.TrimSpace(out) != "masked" && strings.TrimSpace(out) != "not-found" {
					t.Errorf("%s: %s is %q, want masked", h.Name, u, strings.TrimSpace(out))
				}
			}
			// Debian's sshd.service alias of ssh.service is gone: the
			// host's own unit is the one loaded.
			if out, _ := h.Systemctl(ctx, "show", "-p", "Id,FragmentPath", "sshd.service"); !strings.Contains(out, "Id=sshd.service") || !strings.Contains(out, "/run/systemd/system/sshd.service") {
				t.Errorf("%s: sshd.service is %q", h.Name, out)
			}
		}
	})

	t.Run("own tmp, dev and cgroups", func(t *testing.T) {
		h := c.Hosts[0]
		name := fmt.Sprintf("nixherd-testhost-own-%d", os.Getpid())
		run(t, h, "echo a > /tmp/"+name+" && echo b > /var/tmp/"+name)
		for _, d := range []string{"/tmp", "/var/tmp"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				t.Errorf("a file the host wrote to its %s is in this machine's", d)
			}
		}
		if _, err := os.Stat(filepath.Join(c.Hosts[1].Path("/var/tmp"), name)); err == nil {
			t.Error("one host's /var/tmp is the other's")
		}
		// /dev/console is /dev/null (1:3); the kernel's log is not there.
		if got := strings.TrimSpace(run(t, h, "stat -L -c %t:%T /dev/console; test -e /dev/kmsg && echo kmsg || true")); got != "1:3" {
			t.Errorf("/dev/console and /dev/kmsg: %q", got)
		}
		// Its processes are in its own cgroup, seen inside as the root.
		cg := h.Cgroup()
		if cg == "" || !strings.Contains(cg, "nixherd-testhost-") {
			t.Fatalf("cgroup %q", cg)
		}
		procs, err := os.ReadFile(filepath.Join(cg, "system.slice", "sshd.service", "cgroup.procs"))
		if err != nil || len(strings.Fields(string(procs))) == 0 {
			t.Errorf("sshd.service has no processes in the host's cgroup %s: %v", cg, err)
		}
		if got := strings.TrimSpace(run(t, h, "grep '^0::' /proc/self/cgroup")); !strings.HasPrefix(got, "0::/system.slice/sshd.service") {
			t.Errorf("a login's cgroup inside the host: %q", got)
		}
	})

	t.Run("system bus, systemd-run and scopes", func(t *testing.T) {
		h := c.Hosts[1]
		if got := strings.TrimSpace(run(t, h, "systemd-run --wait --pipe --quiet echo over the bus")); got != "over the bus" {
			t.Errorf("systemd-run --wait --pipe: %q", got)
		}
		if got := run(t, h, "systemd-run --scope --quiet --unit=testhost-probe grep '^0::' /proc/self/cgroup"); !strings.Contains(got, "/testhost-probe.scope") {
			t.Errorf("systemd-run --scope ran in %q", got)
		}
	})

	t.Run("restarting sshd.service keeps sessions", func(t *testing.T) {
		h := c.Hosts[0]
		before := mainPID(t, h)
		// The session that restarts sshd carries on (KillMode=process).
		if got := strings.TrimSpace(run(t, h, "systemctl restart sshd.service && echo survived")); got != "survived" {
			t.Fatalf("restart: %q", got)
		}
		waitSSH(t, h, true, 10*time.Second)
		if after := mainPID(t, h); after == before {
			t.Errorf("sshd.service still runs pid %d", after)
		}
		if got := strings.TrimSpace(readHostFile(t, h, "/run/testhost/sshd.pid")); got != strconv.Itoa(mainPID(t, h)) {
			t.Errorf("sshd.pid %q, MainPID %d", got, mainPID(t, h))
		}
	})
}

func mainPID(t *testing.T, h *testhost.Host) int {
	t.Helper()
	pid, err := h.MainPID(context.Background(), "sshd.service")
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func readHostFile(t *testing.T, h *testhost.Host, p string) string {
	t.Helper()
	b, err := os.ReadFile(h.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The fixture does to sshd.service what NixOS's switch-to-configuration
// does: restart it, stop it, move its port, and bring it back.
func TestSystemdFixtureDrivesSSHD(t *testing.T) {
	c := startSystemd(t, testhost.Options{N: 1})
	h := c.Hosts[0]
	ctx := context.Background()
	good := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "good"}
	restarts := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "restart", SSHRestart: true}
	closes := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "nossh", SSHDown: true}
	moves := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "port", SSHPort: h.Port + 1}
	paths := map[string]string{}
	for _, m := range []testhost.FixtureMachine{good, restarts, closes, moves} {
		paths[m.Generation] = build(t, fixture(t, m), m)[0]
		copyTo(t, c, h, paths[m.Generation])
	}
	inside := func(gen string) {
		t.Helper()
		out, err := h.Command(ctx, paths[gen]+"/bin/switch-to-configuration", "test").CombinedOutput()
		if err != nil {
			t.Fatalf("activating %s inside the host: %v\n%s", gen, err, out)
		}
	}
	active := func() string {
		out, _ := h.Systemctl(ctx, "is-active", "sshd.service")
		return strings.TrimSpace(out)
	}

	run(t, h, paths["good"]+"/bin/switch-to-configuration test")
	pid := mainPID(t, h)
	// Over ssh: the session that restarts sshd survives it.
	run(t, h, paths["restart"]+"/bin/switch-to-configuration test")
	waitSSH(t, h, true, 10*time.Second)
	if now := mainPID(t, h); now == pid || now == 0 {
		t.Errorf("SSHRestart: sshd.service pid %d before, %d after", pid, now)
	}

	run(t, h, paths["nossh"]+"/bin/switch-to-configuration test")
	if got := active(); got != "inactive" {
		t.Errorf("SSHDown: sshd.service is %s", got)
	}
	waitSSH(t, h, false, 5*time.Second)
	inside("good")
	if got := active(); got != "active" {
		t.Errorf("back on good: sshd.service is %s", got)
	}
	waitSSH(t, h, true, 10*time.Second)

	run(t, h, paths["port"]+"/bin/switch-to-configuration test")
	waitSSH(t, h, false, 5*time.Second)
	moved := net.JoinHostPort(h.Addr, strconv.Itoa(h.Port+1))
	testenv.Await(t, 10*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", moved, time.Second)
		if err != nil {
			return fmt.Errorf("sshd does not listen on %s: %v\n%s", moved, err, h.SSHDLog())
		}
		conn.Close()
		return nil
	})
	inside("good")
	waitSSH(t, h, true, 10*time.Second)
	acts, _ := h.Activations()
	if len(acts) != 6 {
		t.Errorf("activations %+v", acts)
	}
}

// Close of a systemd cluster kills every process of its hosts, removes their
// cgroups and leaves nothing mounted; a test binary killed with its hosts
// running leaves only a directory and empty cgroups, which the next New
// removes.
func TestSystemdHostCleanup(t *testing.T) {
	if os.Getenv("NIXHERD_TESTHOST_HELPER") == "hold" {
		c, err := testhost.New(testhost.Options{N: 2, Systemd: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("dir", c.Dir)
		for _, h := range c.Hosts {
			pid, _ := h.Namespaces()
			fmt.Println("host", h.Cgroup(), pid)
		}
		os.Stdout.Sync()
		time.Sleep(time.Hour)
		return
	}
	machineSentinels(t)
	hosttest.Need(t)

	t.Run("Close", func(t *testing.T) {
		c, err := testhost.New(testhost.Options{N: 2, Systemd: true})
		if err != nil {
			t.Fatal(err)
		}
		type left struct{ pidNS, cgroup string }
		var hosts []left
		for _, h := range c.Hosts {
			run(t, h, "setsid sleep 600 </dev/null >/dev/null 2>&1 & systemd-run --quiet --unit=left-behind sleep 600")
			p, _ := h.Namespaces()
			hosts = append(hosts, left{p, h.Cgroup()})
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for _, h := range hosts {
			if ps := testhost.ProcessesInNamespace("pid", h.pidNS); len(ps) > 0 {
				t.Errorf("processes %v left in %s", ps, h.pidNS)
			}
			if _, err := os.Stat(h.cgroup); err == nil {
				t.Errorf("cgroup %s left", h.cgroup)
			}
		}
		if _, err := os.Stat(c.Dir); err == nil {
			t.Errorf("directory %s left", c.Dir)
		}
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), "testhost") {
			t.Errorf("host mounts visible outside:\n%s", mounts)
		}
	})

	t.Run("killed test binary", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestSystemdHostCleanup$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NIXHERD_TESTHOST_HELPER=hold")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		var dir string
		var cgroups, pidNSs []string
		buf := make([]byte, 64<<10)
		var text string
		for !strings.Contains(text, "host ") || strings.Count(text, "\nhost ") < 2 {
			n, err := out.Read(buf)
			if err != nil {
				t.Fatalf("helper: %v: %q", err, text)
			}
			text += string(buf[:n])
		}
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "dir":
				dir = f[1]
			case len(f) == 3 && f[0] == "host":
				cgroups, pidNSs = append(cgroups, f[1]), append(pidNSs, f[2])
			case len(f) > 0 && f[0] == "error:":
				t.Fatal(line)
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		for _, ns := range pidNSs {
			testenv.Await(t, 10*time.Second, func() error {
				if left := testhost.ProcessesInNamespace("pid", ns); len(left) > 0 {
					return fmt.Errorf("the killed binary's host still runs %v", left)
				}
				return nil
			})
		}
		// The next cluster sweeps what is left.
		next := hosttest.Start(t, testhost.Options{N: 1, Systemd: true})
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("stale directory %s left", dir)
		}
		for _, cg := range cgroups {
			if _, err := os.Stat(cg); err == nil {
				t.Errorf("stale cgroup %s left", cg)
			}
		}
		run(t, next.Hosts[0], "true")
	})
}

// A deploy user on a systemd host: sudo works, the store is reached
// through the host's nix-daemon.service, and sudo reaches systemd.
func TestSystemdDeployUser(t *testing.T) {
	testenv.NeedTool(t, "sudo")
	c := startSystemd(t, testhost.Options{N: 1, DeployUser: "deploy", TrustedDeployUser: true})
	h := c.Hosts[0]
	out, err := h.SSHAs(context.Background(), "deploy", `id -un; sudo -n id -u; test -S /nix/var/nix/daemon-socket/socket && echo socket; sudo -n systemd-run --wait --pipe --quiet echo as root`).CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "deploy\n0\nsocket\nas root" {
		t.Fatalf("as deploy: %q, %v", got, err)
	}
	if units := activeUnits(t, h); !slices.Contains(units, "nix-daemon.service") {
		t.Errorf("nix-daemon.service does not run: %q", units)
	}
	m := testhost.FixtureMachine{Name: "devnix", Platform: platform.NixOS, Generation: "user"}
	top := build(t, fixture(t, m), m)[0]
	cmd := exec.Command("nix", "copy", "--to", "ssh://"+strings.SplitN(h.TargetAs("deploy"), ":", 2)[0], top)
	cmd.Env = append(os.Environ(), c.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil || !h.HasStorePath(top) {
		t.Fatalf("copy as the deploy user: %v\n%s", err, out)
	}
}
