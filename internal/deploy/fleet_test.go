package deploy_test

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
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// TestDeployToFiveHostsInParallel deploys a changed fleet to five NixOS
// test hosts (real sshd, separate /nix stores) in one run, then redeploys
// with nothing changed.
func TestDeployToFiveHostsInParallel(t *testing.T) {
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	c := hosttest.Start(t, testhost.Options{Names: names})
	var ms []testhost.FixtureMachine
	for _, n := range names {
		ms = append(ms, nixos(n, "1"))
	}
	f := newFleet(t, c, ms...)

	start := time.Now()
	var mu sync.Mutex
	copying := map[string][]string{}
	lines := &report.Lines{W: testWriter{t}}
	s := f.deploy(deploy.Options{Reach: fanout.Options{Parallel: 10}, Reporter: report.Func(func(e report.Event) {
		lines.Event(e)
		if e.Phase == report.PhaseCopy {
			mu.Lock()
			copying[e.Machine] = append(copying[e.Machine], e.Detail)
			mu.Unlock()
		}
	})})
	t.Logf("first deploy of 5 hosts: %s", time.Since(start))
	if !s.OK || s.Evaluations != 1 || s.SSHConnections != 5 {
		t.Fatalf("summary: %+v", s)
	}
	for _, n := range names {
		r := result(t, s, n)
		h := c.Host(n)
		if r.Outcome != report.Switched || r.Generation != 1 || r.Copied.Paths == 0 {
			t.Errorf("%s: %+v", n, r)
		}
		if got := h.Profile(target.SystemProfile); got != r.Path {
			t.Errorf("%s: system profile = %q, want %s", n, got, r.Path)
		}
		if got := h.CurrentSystem(); got != r.Path {
			t.Errorf("%s: /run/current-system = %q, want %s", n, got, r.Path)
		}
		for _, p := range []string{r.Path, r.Path + "/payload/blob", r.Path + "/sw/bin/nixherd-fixture"} {
			if !h.HasStorePath(p) {
				t.Errorf("%s: store lacks %s", n, p)
			}
		}
		if got := strings.Join(copying[n], "; "); !strings.Contains(got, "nixos-system-"+n+"-fixture") {
			t.Errorf("%s: the copy events never named the system being copied: %s", n, got)
		}
		if logins := h.Logins(); logins != 1 {
			t.Errorf("%s: %d ssh handshakes, want 1 (one master connection)", n, logins)
		}
	}

	t.Run("nothing changed copies nothing", func(t *testing.T) {
		// --parallel 2: never more than two hosts between connect and done.
		var mu sync.Mutex
		active, most := 0, 0
		s := f.deploy(deploy.Options{Reach: fanout.Options{Parallel: 2}, Reporter: report.Func(func(e report.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Phase {
			case report.PhaseConnect:
				active++
				most = max(most, active)
			case report.PhaseDone, report.PhaseFailed:
				active--
			}
		})})
		if most != 2 {
			t.Errorf("at most %d hosts at once with --parallel 2", most)
		}
		// Every host already runs its system: up to date, nothing copied,
		// nothing activated.
		for _, r := range s.Machines {
			if r.Outcome != report.UpToDate || r.Copied != nil || r.Generation != 1 {
				t.Errorf("%s: %+v", r.Machine, r)
			}
			if acts := activationsOf(t, c.Host(r.Machine)); len(acts) != 1 {
				t.Errorf("%s: %d activations after a redeploy with nothing changed, want 1", r.Machine, len(acts))
			}
		}
		// --reactivate switches again, still copying nothing.
		s = f.deploy(deploy.Options{Reactivate: true}, "n1")
		if r := result(t, s, "n1"); r.Outcome != report.Switched || r.Copied == nil || r.Copied.Paths != 0 || r.Generation != 1 {
			t.Errorf("n1 reactivated: %+v", r)
		}
		if acts := activationsOf(t, c.Host("n1")); len(acts) != 2 {
			t.Errorf("n1: %d activations after --reactivate, want 2", len(acts))
		}
	})

	t.Run("one host unreachable", func(t *testing.T) {
		// 127.0.0.1:9 (discard) has no listener: connection refused.
		f.unreachable["gone"] = "root@127.0.0.1:9"
		defer func() { delete(f.unreachable, "gone"); f.write() }()
		f.setGeneration("2", "n1", "n2")
		// -s: the hosts may substitute (they have no substituters: a no-op).
		s := f.deploy(deploy.Options{SubstituteOnDestination: true}, "n1,n2,gone")
		if s.OK {
			t.Fatal("summary OK with an unreachable host")
		}
		if got := s.Failed(); len(got) != 1 || got[0] != "gone" {
			t.Errorf("failed = %v, want [gone]", got)
		}
		r := result(t, s, "gone")
		if r.Outcome != report.Unreachable || !strings.Contains(r.Error, "gone") {
			t.Errorf("gone: %+v", r)
		}
		for _, n := range []string{"n1", "n2"} {
			if r := result(t, s, n); r.Outcome != report.Switched || r.Generation != 2 {
				t.Errorf("%s: %+v", n, r)
			}
		}
	})

	t.Run("a failed activation says what failed", func(t *testing.T) {
		f.machines[3].ActivateExit = 4 // n4
		f.setGeneration("unit-fails", "n4")
		defer func() { f.machines[3].ActivateExit = 0; f.write() }()
		s := f.deploy(deploy.Options{}, "n4")
		r := result(t, s, "n4")
		if s.OK || r.Outcome != report.Failed || !strings.Contains(r.Error, "exited with status 4: a unit failed to stop, start or restart") {
			t.Errorf("n4: %+v", r)
		}
	})

	t.Run("test, boot and dry-activate actions", func(t *testing.T) {
		h := c.Host("n3")
		before := h.Profile(target.SystemProfile)
		f.setGeneration("test", "n3")
		s := f.deploy(deploy.Options{Action: target.Test}, "n3")
		r := result(t, s, "n3")
		if r.Outcome != report.Tested || h.CurrentSystem() != r.Path || h.Profile(target.SystemProfile) != before {
			t.Errorf("test: %+v; current %s, profile %s (was %s)", r, h.CurrentSystem(), h.Profile(target.SystemProfile), before)
		}
		f.setGeneration("boot", "n3")
		s = f.deploy(deploy.Options{Action: target.Boot}, "n3")
		rb := result(t, s, "n3")
		if rb.Outcome != report.Booted || rb.Generation != 2 || h.Profile(target.SystemProfile) != rb.Path || h.BootDefault() != rb.Path {
			t.Errorf("boot: %+v; profile %s, boot default %s", rb, h.Profile(target.SystemProfile), h.BootDefault())
		}
		if h.CurrentSystem() != r.Path {
			t.Errorf("boot changed the running system to %s", h.CurrentSystem())
		}
		f.setGeneration("dry", "n3")
		s = f.deploy(deploy.Options{Action: target.DryActivate}, "n3")
		rd := result(t, s, "n3")
		acts := activationsOf(t, h)
		if rd.Outcome != report.DryActivated || h.CurrentSystem() != r.Path || h.Profile(target.SystemProfile) != rb.Path ||
			len(acts) == 0 || acts[len(acts)-1].Action != "dry-activate" || acts[len(acts)-1].Path != rd.Path {
			t.Errorf("dry-activate: %+v; running %s, profile %s", rd, h.CurrentSystem(), h.Profile(target.SystemProfile))
		}
	})
}

// TestSecondDeployToABusyHostIsRefused runs two deploys to one host at once:
// the first holds the host's lock while its activation runs, the second is
// refused and changes nothing.
func TestSecondDeployToABusyHostIsRefused(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"busy"}})
	slow := nixos("busy", "1")
	// The activation waits (at most a minute) until the test releases it,
	// so the first deploy holds the lock however slow this machine is.
	slow.ActivateScript = "i=0; while [ ! -e /run/testhost/release ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
	f := newFleet(t, c, slow)
	h := c.Host("busy")
	release := func() { writeFile(t, filepath.Join(h.Dir, "release"), "") }
	defer release()

	first := make(chan *report.Summary)
	go func() { first <- f.deploy(deploy.Options{}) }()
	testenv.Eventually(t, 20*time.Second, "the first deploy takes the lock", func() bool { return lockHeld(h) })
	second := f.deploy(deploy.Options{})
	r := result(t, second, "busy")
	if second.OK || r.Outcome != report.Refused || !strings.Contains(r.Error, "another deploy to this host is in progress") || !strings.Contains(r.Error, "nixherd on ") {
		t.Errorf("second deploy: %+v", r)
	}
	release()
	s := <-first
	if r := result(t, s, "busy"); r.Outcome != report.Switched {
		t.Errorf("first deploy: %+v", r)
	}
	if n := len(activationsOf(t, h)); n != 1 {
		t.Errorf("%d activations, want 1 (the refused deploy must not activate)", n)
	}
	if lockHeld(h) {
		t.Error("the lock outlived the deploy")
	}
	// The lock is free again: a third deploy goes through.
	if s := f.deploy(deploy.Options{}); !s.OK {
		t.Errorf("third deploy: %+v", s.Machines)
	}
}

// TestStaleLockIsTakenOver: a lock left by a deploy whose process is gone,
// or taken before the host last booted, does not block the next deploy.
func TestStaleLockIsTakenOver(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"stale"}})
	f := newFleet(t, c, nixos("stale", "1"))
	h := c.Host("stale")
	ctx := context.Background()
	for name, script := range map[string]string{
		"dead pid": `mkdir -p /run/nixherd/deploy.lock && cd /run/nixherd/deploy.lock && echo 999999 > pid && cat /proc/sys/kernel/random/boot_id > boot && echo crashed > owner`,
		"old boot": `mkdir -p /run/nixherd/deploy.lock && cd /run/nixherd/deploy.lock && echo 1 > pid && echo some-earlier-boot > boot && echo crashed > owner`,
	} {
		if _, err := h.Run(ctx, script); err != nil {
			t.Fatal(err)
		}
		if s := f.deploy(deploy.Options{}); !s.OK {
			t.Errorf("%s: a stale lock blocked the deploy: %+v", name, s.Machines)
		}
		if lockHeld(h) {
			t.Errorf("%s: lock left behind", name)
		}
	}
}

// TestInterruptedDeployReleasesTheLock cancels a deploy during activation:
// Run returns, the host's lock goes away with the ssh session, and the next
// deploy is not refused.
func TestInterruptedDeployReleasesTheLock(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"intr"}})
	slow := nixos("intr", "1")
	slow.ActivateScript = "sleep 5"
	f := newFleet(t, c, slow)
	h := c.Host("intr")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *report.Summary)
	go func() {
		inv, err := hosts.Load(ctx, f.dir)
		if err != nil {
			t.Error(err)
		}
		s, err := deploy.Run(ctx, inv.Machines, deploy.Options{Flake: f.dir, Reporter: report.Func(func(e report.Event) {
			if e.Phase == report.PhaseActivate {
				cancel()
			}
		})})
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	var s *report.Summary
	select {
	case s = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if s != nil && s.OK {
		t.Error("an interrupted deploy reported success")
	}
	testenv.Eventually(t, 10*time.Second, "the interrupted deploy releases the lock", func() bool { return !lockHeld(h) })
	f.machines[0].ActivateScript = ""
	f.write()
	if s := f.deploy(deploy.Options{}); !s.OK {
		t.Errorf("deploy after the interrupted one: %+v", s.Machines)
	}
}

func lockHeld(h *testhost.Host) bool {
	_, err := os.Stat(h.Path("/run/nixherd/deploy.lock"))
	return err == nil
}

func activationsOf(t *testing.T, h *testhost.Host) []testhost.Activation {
	acts, err := h.Activations()
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// TestHostKeysAreVerified: with nixherd's own ssh options (no
// StrictHostKeyChecking of its own), a host whose key is unknown, or differs
// from the one on record, is refused before anything is copied.
func TestHostKeysAreVerified(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"k1"}})
	h := c.Host("k1")
	f := newFleet(t, c, nixos("k1", "1"))
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	otherPub := readFile(t, other+".pub")
	for name, knownHosts := range map[string]string{
		"unknown key": "",
		"changed key": h.Addr + " " + otherPub,
	} {
		t.Run(name, func(t *testing.T) {
			kh := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			cfg := kh + ".config"
			writeFile(t, kh, knownHosts)
			// BatchMode only keeps ssh from asking on a terminal; the host
			// key policy is ssh's default.
			writeFile(t, cfg, fmt.Sprintf("Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  BatchMode yes\n", c.IdentityFile, kh))
			f.sshConfig["k1"] = cfg
			defer func() { delete(f.sshConfig, "k1"); f.write() }()
			f.write()
			s := f.deploy(deploy.Options{})
			r := result(t, s, "k1")
			if r.Outcome != report.Unreachable || !strings.Contains(r.Error, "Host key verification failed") {
				t.Errorf("k1: %+v", r)
			}
			if h.HasStorePath(r.Path) || h.Logins() != 0 {
				t.Errorf("k1 was logged in to or received the closure")
			}
		})
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
