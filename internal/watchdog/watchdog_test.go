package watchdog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/testenv"
)

// local runs the scripts on this machine, as root, the way the SSH runner
// runs them on a host. The watchdog really detaches (setsid) and really
// activates store paths built by the real nix.
type local struct{ calls *int }

func (l local) RunScript(ctx context.Context, script string, args ...string) ([]byte, error) {
	if l.calls != nil {
		*l.calls++
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, "nixherd"}, args...)...)
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return out, nil
}

// machine is a fake system profile on this machine with generations whose
// switch-to-configuration records what it was asked to do.
type machine struct {
	t       *testing.T
	dir     string // marks: log, current
	profile string
	state   string
}

func newMachine(t *testing.T) *machine {
	testenv.NeedRoot(t)
	testenv.NixEnv(t)
	testenv.NeedTool(t, "setsid")
	dir := t.TempDir()
	m := &machine{t: t, dir: dir, profile: filepath.Join(dir, "profiles", "system"), state: filepath.Join(dir, "nixherd", "watchdog")}
	os.MkdirAll(filepath.Dir(m.profile), 0o755)
	return m
}

// generation builds a system whose activation exits rc.
func (m *machine) generation(name string, rc int) string {
	m.t.Helper()
	return m.build(name, rc, "")
}

// hangingGeneration builds a system whose activation never ends: it starts
// a child that sleeps (its pid in hang.pid) and waits for it.
func (m *machine) hangingGeneration(name string) string {
	m.t.Helper()
	return m.build(name, 0, fmt.Sprintf("sleep 3600 & echo $! > %s/hang.pid; wait", m.dir))
}

// build builds a system whose activation records its call, runs pre and
// exits rc.
func (m *machine) build(name string, rc int, pre string) string {
	m.t.Helper()
	expr := fmt.Sprintf(`builtins.derivation {
  name = %q; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" ''
    /bin/mkdir -p $out/bin
    echo '#!/bin/sh
echo "$1 '$out'" >> %s/log
%s
case "$1" in test|switch) ln -sfn '$out' %s/current ;; esac
exit %d' > $out/bin/switch-to-configuration
    /bin/chmod +x $out/bin/switch-to-configuration
  '' ];
}`, "nixos-system-"+name, m.dir, pre, m.dir, rc)
	out, err := exec.Command("nix-build", "--no-out-link", "-E", expr).Output()
	if err != nil {
		m.t.Fatalf("building %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// install makes p the machine's current generation, as a past deploy would.
func (m *machine) install(p string) {
	m.t.Helper()
	if out, err := exec.Command("nix-env", "-p", m.profile, "--set", p).CombinedOutput(); err != nil {
		m.t.Fatalf("nix-env --set: %v: %s", err, out)
	}
	os.Symlink(p, filepath.Join(m.dir, "current"))
}

func (m *machine) current() string {
	p, _ := os.Readlink(filepath.Join(m.dir, "current"))
	return p
}

func (m *machine) bootDefault() string {
	p, _ := filepath.EvalSymlinks(m.profile)
	return p
}

func (m *machine) log() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "log"))
	return string(b)
}

func (m *machine) params(new string, timeout time.Duration) Params {
	return Params{Kind: NixOS, Profile: m.profile, New: new, ConfirmTimeout: timeout, StateRoot: m.state}
}

func final(t *testing.T, w *Watch, h Host, within time.Duration) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	st, err := w.Await(ctx, h, func(Status) bool { return false }, 100*time.Millisecond, within)
	if err != nil {
		t.Fatalf("watchdog did not finish within %s: %v (last state %q)", within, err, st.State)
	}
	return st
}

func TestConfirmedGenerationBecomesBootDefault(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	h := local{}
	w, err := Start(context.Background(), h, m.params(new, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Await(context.Background(), h, func(s Status) bool { return s.State == Activated }, 50*time.Millisecond, 10*time.Second)
	if err != nil || st.State != Activated {
		t.Fatalf("state %q, %v", st.State, err)
	}
	if m.bootDefault() != old {
		t.Fatalf("boot default changed before the confirmation: %s", m.bootDefault())
	}
	if st.Prev != old {
		t.Errorf("prev = %q, want %q", st.Prev, old)
	}
	if d, err := w.Confirm(context.Background(), h); err != nil || d != "confirm" {
		t.Fatalf("confirm: %q, %v", d, err)
	}
	st = final(t, w, h, 10*time.Second)
	if st.State != Committed || m.bootDefault() != new || m.current() != new {
		t.Fatalf("state %q, boot default %s, running %s", st.State, m.bootDefault(), m.current())
	}
	if want := "test " + new + "\nboot " + new + "\n"; m.log() != want {
		t.Errorf("activations:\n%s\nwant:\n%s", m.log(), want)
	}
}

func TestNoConfirmationRollsBackByStorePath(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	h := local{}
	start := time.Now()
	w, err := Start(context.Background(), h, m.params(new, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st := final(t, w, h, 15*time.Second)
	if st.State != RolledBack || st.Decision != "timeout" || !strings.Contains(st.Reason, "no confirmation within 2s") {
		t.Fatalf("status %+v", st)
	}
	if took := time.Since(start); took > 2*time.Second+5*time.Second {
		t.Errorf("rollback took %s", took)
	}
	if m.current() != old || m.bootDefault() != old {
		t.Fatalf("running %s, boot default %s; want both %s", m.current(), m.bootDefault(), old)
	}
	if want := "test " + new + "\nswitch " + old + "\n"; m.log() != want {
		t.Errorf("activations:\n%s\nwant:\n%s", m.log(), want)
	}
	// A confirmation that arrives late does not undo the rollback.
	if d, _ := w.Confirm(context.Background(), h); d != "timeout" {
		t.Errorf("late confirm got %q, want the standing decision timeout", d)
	}
}

func TestFailedActivationRollsBackAtOnce(t *testing.T) {
	m := newMachine(t)
	old, bad := m.generation("old", 0), m.generation("unit-fails", 4)
	m.install(old)
	h := local{}
	w, err := Start(context.Background(), h, m.params(bad, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st := final(t, w, h, 10*time.Second)
	if st.State != RolledBack || st.ActivationRC != 4 || st.Reason != "activation exited 4" {
		t.Fatalf("status %+v", st)
	}
	if m.current() != old || m.bootDefault() != old {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), old)
	}
}

func TestHungActivationIsStoppedAndRolledBack(t *testing.T) {
	m := newMachine(t)
	old, hung := m.generation("old", 0), m.hangingGeneration("hung")
	m.install(old)
	p := m.params(hung, 30*time.Second)
	p.ActivationTimeout = time.Second
	h := local{}
	start := time.Now()
	w, err := Start(context.Background(), h, p)
	if err != nil {
		t.Fatal(err)
	}
	st := final(t, w, h, 15*time.Second)
	if st.State != RolledBack || st.Reason != "activation did not finish within 1s" {
		t.Fatalf("state %q, reason %q", st.State, st.Reason)
	}
	// Well before the confirm timeout: the deadline, not the wait for a
	// confirmation, ended it.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("rolled back after %s", took)
	}
	if m.current() != old || m.bootDefault() != old {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), old)
	}
	// The rollback's own activation ran to its end after the stop.
	if want := "test " + hung + "\nswitch " + old + "\n"; m.log() != want {
		t.Errorf("activations:\n%s\nwant:\n%s", m.log(), want)
	}
	// The stop reached the activation's child, not only the activation.
	b, err := os.ReadFile(filepath.Join(m.dir, "hang.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if pid := strings.TrimSpace(string(b)); running(pid) {
		t.Errorf("the activation's child %s still runs", pid)
	}
}

func TestAbortStopsAHungActivation(t *testing.T) {
	m := newMachine(t)
	old, hung := m.generation("old", 0), m.hangingGeneration("hung")
	m.install(old)
	p := m.params(hung, 30*time.Second)
	p.ActivationTimeout = time.Minute
	h := local{}
	w, err := Start(context.Background(), h, p)
	if err != nil {
		t.Fatal(err)
	}
	// Abort once the activation hangs: its child runs.
	testenv.Eventually(t, 10*time.Second, "the activation starts", func() bool {
		_, err := os.Stat(filepath.Join(m.dir, "hang.pid"))
		return err == nil
	})
	start := time.Now()
	if d, err := w.Abort(context.Background(), h, "the deploy was interrupted"); err != nil || d != "abort" {
		t.Fatalf("abort: %q, %v", d, err)
	}
	st := final(t, w, h, 15*time.Second)
	if st.State != RolledBack || st.Reason != "the deploy was interrupted" {
		t.Fatalf("state %q, reason %q", st.State, st.Reason)
	}
	// Long before the activation's deadline.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("rolled back %s after the abort", took)
	}
	if m.current() != old || m.bootDefault() != old {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), old)
	}
	b, _ := os.ReadFile(filepath.Join(m.dir, "hang.pid"))
	if pid := strings.TrimSpace(string(b)); pid == "" || running(pid) {
		t.Errorf("the activation's child %q still runs", pid)
	}
}

// running reports whether process pid exists and is not a zombie (an
// orphan whose reaper has not collected it yet is dead all the same).
func running(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestMissingNewGenerationChangesNothing(t *testing.T) {
	m := newMachine(t)
	old := m.generation("old", 0)
	m.install(old)
	h := local{}
	w, err := Start(context.Background(), h, m.params("/nix/store/"+strings.Repeat("0", 32)+"-nixos-system-gone", time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st := final(t, w, h, 10*time.Second)
	if st.State != Failed || !strings.Contains(st.Reason, "not in this machine's store") {
		t.Fatalf("status %+v", st)
	}
	if m.log() != "" || m.bootDefault() != old {
		t.Fatalf("something was activated: %q, boot default %s", m.log(), m.bootDefault())
	}
}

func TestGuardFailingHealthCheckRollsBack(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	g := &Guard{
		Params: m.params(new, 20*time.Second),
		Host:   local{},
		Check:  func(context.Context) []string { return []string{"http-api"} },
		Poll:   50 * time.Millisecond,
	}
	start := time.Now()
	out, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Result != ResultRolledBack || out.Reason != "health check failed: http-api" {
		t.Fatalf("outcome %+v", out)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("an abort waited for the confirm timeout: %s", time.Since(start))
	}
	if m.current() != old || m.bootDefault() != old {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), old)
	}
}

func TestGuardConfirmsOverTheFreshConnection(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	var fresh int
	checked := false
	g := &Guard{
		Params: m.params(new, 20*time.Second),
		Host:   local{},
		Fresh:  func() Host { return local{calls: &fresh} },
		Check:  func(context.Context) []string { checked = true; return nil },
		Poll:   50 * time.Millisecond,
	}
	out, err := g.Run(context.Background())
	if err != nil || !out.OK() {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if !checked || fresh != 1 {
		t.Errorf("health checked %v, fresh connections %d; want true, 1", checked, fresh)
	}
	if m.current() != new || m.bootDefault() != new {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), new)
	}
}

func TestGuardInterruptedBeforeConfirmationRollsBack(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	ctx, cancel := context.WithCancel(context.Background())
	g := &Guard{
		Params: m.params(new, 30*time.Second),
		Host:   local{},
		Check:  func(context.Context) []string { cancel(); return nil }, // ^C during the health checks
		Poll:   50 * time.Millisecond,
	}
	out, err := g.Run(ctx)
	if err == nil || out.Result != ResultRolledBack || out.Reason != "the deploy was interrupted" {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if m.current() != old || m.bootDefault() != old {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), old)
	}
}

func TestOldRecordsArePruned(t *testing.T) {
	m := newMachine(t)
	old := m.generation("old", 0)
	m.install(old)
	for i := 0; i < 25; i++ {
		d := filepath.Join(m.state, fmt.Sprintf("20000101T000000-%09d", i))
		os.MkdirAll(d, 0o700)
		os.WriteFile(filepath.Join(d, "state"), []byte("committed\n"), 0o644)
	}
	running := filepath.Join(m.state, "20000101T000000-000000000")
	os.WriteFile(filepath.Join(running, "state"), []byte("activating\n"), 0o644) // never removed while unfinished
	h := local{}
	w, err := Start(context.Background(), h, m.params("/nix/store/"+strings.Repeat("0", 32)+"-nixos-system-gone", time.Second))
	if err == nil {
		final(t, w, h, 10*time.Second)
	}
	entries, _ := os.ReadDir(m.state)
	if len(entries) != 21 {
		t.Errorf("%d records left, want the newest 20 and the unfinished one", len(entries))
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("an unfinished record was pruned: %v", err)
	}
}

// lost passes the launch through, then loses the machine, as a cut network
// would: every later script fails.
type lost struct {
	local
	launched bool
}

func (l *lost) RunScript(ctx context.Context, script string, args ...string) ([]byte, error) {
	if l.launched {
		return nil, fmt.Errorf("ssh: connect to host: no route to host")
	}
	l.launched = true
	return l.local.RunScript(ctx, script, args...)
}

func TestGuardReportsALostMachineWhichRollsBackAlone(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	h := &lost{}
	g := &Guard{Params: m.params(new, 2*time.Second), Host: h, Poll: 50 * time.Millisecond, Patience: time.Second}
	out, err := g.Run(context.Background())
	if err != nil || out.Result != ResultUnreachable || !strings.Contains(out.Reason, "returns to its previous generation by itself") {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	st := final(t, out.Watch, local{}, 15*time.Second)
	if st.State != RolledBack || m.current() != old || m.bootDefault() != old {
		t.Fatalf("state %q, running %s, boot default %s; want %s", st.State, m.current(), m.bootDefault(), old)
	}
}

// TestGuardResumesARunItDidNotStart: a process starts the watchdog and dies
// (a pull agent restarted during its own deployment); a new Guard with the
// same run ID takes over, checks, confirms, and the new generation is kept.
func TestGuardResumesARunItDidNotStart(t *testing.T) {
	m := newMachine(t)
	old, new := m.generation("old", 0), m.generation("new", 0)
	m.install(old)
	p := m.params(new, 20*time.Second)
	p.ID = "20261201T100000-000000000-r7"
	if _, err := Start(context.Background(), local{}, p); err != nil {
		t.Fatal(err)
	}
	checked := false
	g := &Guard{Params: p, Host: local{}, Poll: 50 * time.Millisecond,
		Check: func(context.Context) []string { checked = true; return nil }}
	out, err := g.Resume(context.Background())
	if err != nil || !out.OK() || !checked {
		t.Fatalf("outcome %+v, %v (checked %v)", out, err, checked)
	}
	if m.current() != new || m.bootDefault() != new {
		t.Fatalf("running %s, boot default %s; want %s", m.current(), m.bootDefault(), new)
	}

	// A run that never started: nothing was activated, and Resume says so.
	p.ID = "20261201T100001-000000000-r8"
	out, err = (&Guard{Params: p, Host: local{}, Poll: 50 * time.Millisecond}).Resume(context.Background())
	if err != nil || out.Result != ResultFailed || !strings.Contains(out.Reason, "nothing was activated") {
		t.Fatalf("resuming a run that never started: %+v, %v", out, err)
	}
}
