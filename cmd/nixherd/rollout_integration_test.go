package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/pulltest"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/testbrowser"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// pullFleet is a fleet of pulled fixture machines published to www/ with
// a binary cache, keys made by nix, and the nixherd binary under test.
type pullFleet struct {
	t        *testing.T
	dir      string
	fleet    string
	www      string
	bin      string
	cache    *pulltest.Cache
	cacheKey pulltest.Key
	key      pulltest.Key
	machines []testhost.FixtureMachine
	// agent, extra and tags give each machine its agent's address, more
	// deploy.nix text and tags; push machines are deployed over ssh.
	agent map[string]string
	extra map[string]string
	tags  map[string][]string
	push  map[string]string // machine → its ssh target
	// rollout is deploy.nix's rollout attribute ("" none).
	rollout string
}

func newPullFleet(t *testing.T, names ...string) *pullFleet {
	testenv.NixEnv(t)
	f := &pullFleet{t: t, dir: t.TempDir(), bin: nixherdBin(t), agent: map[string]string{}, extra: map[string]string{},
		tags: map[string][]string{}, push: map[string]string{}}
	f.fleet, f.www = filepath.Join(f.dir, "fleet"), filepath.Join(f.dir, "www")+"/"
	var err error
	if f.cacheKey, err = pulltest.NewKey(f.dir, "cache-1"); err != nil {
		t.Fatal(err)
	}
	if f.key, err = pulltest.NewKey(f.dir, "release-1"); err != nil {
		t.Fatal(err)
	}
	if f.cache, err = pulltest.NewCache("127.0.0.1:0", filepath.Join(f.dir, "cache")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cache.Close() })
	for _, n := range names {
		f.machines = append(f.machines, testhost.FixtureMachine{Name: n, Platform: platform.NixOS, Generation: "1"})
		// Nothing answers on port 1: an agent that never answers.
		f.agent[n] = "http://127.0.0.1:1"
	}
	return f
}

// generation gives every machine generation gen and writes the fleet.
func (f *pullFleet) generation(gen string) {
	f.t.Helper()
	for i := range f.machines {
		f.machines[i].Generation = gen
	}
	f.write()
}

func (f *pullFleet) write() {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("{\n  machines = {\n")
	for _, m := range f.machines {
		tags, _ := json.Marshal(f.tags[m.Name])
		if tags == nil || string(tags) == "null" {
			tags = []byte("[]")
		}
		if target, ok := f.push[m.Name]; ok {
			fmt.Fprintf(&b, "    %s = { target = %q; tags = %s; %s };\n", m.Name, target, strings.ReplaceAll(string(tags), ",", " "), f.extra[m.Name])
			continue
		}
		fmt.Fprintf(&b, "    %s = { target = \"root@%s.invalid\"; tags = %s; pull = { agent = %q; }; %s };\n",
			m.Name, m.Name, strings.ReplaceAll(string(tags), ",", " "), f.agent[m.Name], f.extra[m.Name])
	}
	b.WriteString("  };\n")
	if f.rollout != "" {
		fmt.Fprintf(&b, "  rollout = %s;\n", f.rollout)
	}
	b.WriteString("}\n")
	if err := testhost.WriteFixture(f.fleet, testhost.FixtureOptions{Machines: f.machines, Files: map[string]string{"deploy.nix": b.String()}}); err != nil {
		f.t.Fatal(err)
	}
}

// publishArgs are the flags of publish and rollout.
func (f *pullFleet) publishArgs() []string {
	return []string{"--flake", f.fleet, "--cache", f.cache.Store, "--cache-key", f.cacheKey.SecretFile, "--key", f.key.SecretFile, "--to", f.www}
}

// command is nixherd with args, its output going to files in the test's
// directory (read once it ended, or while it runs).
func (f *pullFleet) command(name string, args ...string) (*exec.Cmd, string, string) {
	out, errOut := filepath.Join(f.dir, name+".out"), filepath.Join(f.dir, name+".err")
	cmd := exec.Command(f.bin, args...)
	o, err := os.Create(out)
	if err != nil {
		f.t.Fatal(err)
	}
	e, err := os.Create(errOut)
	if err != nil {
		f.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = o, e
	f.t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		o.Close()
		e.Close()
	})
	return cmd, out, errOut
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func exitOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// manifest is the release published now, verified.
func (f *pullFleet) manifest() *release.Manifest {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.www, release.FileName))
	if err != nil {
		f.t.Fatal(err)
	}
	pub, err := release.ParsePublicKey(f.key.Public)
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := release.Verify(data, []release.PublicKey{pub})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// released lists, per machine, every path a release of the archive gave it.
func (f *pullFleet) released() map[string][]string {
	f.t.Helper()
	files, _ := filepath.Glob(filepath.Join(f.www, "releases", "*.json"))
	out := map[string][]string{}
	for _, file := range files {
		data, _ := os.ReadFile(file)
		m, err := release.Peek(data)
		if err != nil {
			f.t.Fatal(err)
		}
		for name, e := range m.Machines {
			out[name] = append(out[name], e.Path)
		}
	}
	return out
}

func (f *pullFleet) record() *rollout.Record {
	f.t.Helper()
	rec, err := rollout.ReadRecord(filepath.Join(f.www, rollout.RecordFile))
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

func (f *pullFleet) mustPublish() *release.Manifest {
	f.t.Helper()
	cmd, out, errOut := f.command("publish", append([]string{"publish", "--all"}, f.publishArgs()...)...)
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("publish: %v\n%s%s", err, read(f.t, out), read(f.t, errOut))
	}
	return f.manifest()
}

// TestRolloutHaltsWhenAnAgentNeverAnswers: the canary's agent never
// answers: it is shown stale, its wave does not pass by the deadline, the
// rollout exits 3 (unreachable) naming it, the canary gets its previous
// entry back and the other machine never gets the new system.
func TestRolloutHaltsWhenAnAgentNeverAnswers(t *testing.T) {
	f := newPullFleet(t, "n1", "n2")
	f.tags["n1"] = []string{"canary"}
	f.generation("1")
	before := f.mustPublish()
	f.generation("2")
	cmd, out, errOut := f.command("rollout", append([]string{"rollout", "--all", "--wave", "@canary", "--deadline", "2s", "--json"}, f.publishArgs()...)...)
	if code := exitOf(cmd.Run()); code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", code, read(t, out), read(t, errOut))
	}
	stderr := read(t, errOut)
	if !regexp.MustCompile(`rollout halted in wave @canary: n1: unreachable: not running release 2 after 2s: no answer from its agent since \S+: .*connection refused`).MatchString(stderr) {
		t.Errorf("stderr does not say which machine and why:\n%s", stderr)
	}
	rec := f.record()
	if rec.State != "halted" || rec.Waves[0].Machines[0].State != "stale" || rec.Waves[1].State != "not started" || rec.Reverted != 3 {
		t.Errorf("record %+v", rec)
	}
	var printed rollout.Record
	if err := json.Unmarshal([]byte(read(t, out)), &printed); err != nil || printed.State != "halted" {
		t.Errorf("--json: %v\n%s", err, read(t, out))
	}
	now := f.manifest()
	for _, n := range []string{"n1", "n2"} {
		if now.Machines[n].Path != before.Machines[n].Path {
			t.Errorf("%s: release %d gives it %s, want release 1's %s", n, now.Release, now.Machines[n].Path, before.Machines[n].Path)
		}
	}
	if paths := f.released()["n2"]; len(paths) != 3 || paths[0] != paths[1] || paths[1] != paths[2] {
		t.Errorf("n2 was given another system by some release: %v", paths)
	}
}

// TestRolloutInterruptedAndRefusedTwice: while a rollout waits on its
// canary, a second rollout (and a publish) to the same destination is
// refused; Ctrl-C then stops the first, which says which release is
// published: the canary's, verified and whole.
func TestRolloutInterruptedAndRefusedTwice(t *testing.T) {
	f := newPullFleet(t, "n1", "n2")
	f.tags["n1"] = []string{"canary"}
	f.generation("1")
	before := f.mustPublish()
	f.generation("2")
	first, _, firstErr := f.command("rollout", append([]string{"rollout", "--all", "--wave", "@canary", "--deadline", "1h"}, f.publishArgs()...)...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Await(t, 2*time.Minute, func() error {
		if first.ProcessState != nil {
			return nil
		}
		if rec := f.record(); rec == nil || rec.Waves[0].Machines[0].State != "stale" {
			return fmt.Errorf("the canary is not shown stale yet: %+v\n%s", rec, read(t, firstErr))
		}
		return nil
	})

	// A short deadline: were it not refused, it would end soon all the same.
	second, out, errOut := f.command("rollout2", append([]string{"rollout", "--all", "--deadline", "1s"}, f.publishArgs()...)...)
	if code := exitOf(second.Run()); code != 1 || !regexp.MustCompile(`refusing to roll out: \S+/manifest.json: another publish or rollout to this destination is running \(a rollout started .* is at release 2\)`).MatchString(read(t, errOut)) {
		t.Errorf("a second rollout: exit %d\n%s%s", code, read(t, out), read(t, errOut))
	}
	pub, out, errOut := f.command("publish2", append([]string{"publish", "--all"}, f.publishArgs()...)...)
	if code := exitOf(pub.Run()); code != 1 || !strings.Contains(read(t, errOut), "another publish or rollout to this destination is running") {
		t.Errorf("a publish meanwhile: exit %d\n%s%s", code, read(t, out), read(t, errOut))
	}

	first.Process.Signal(syscall.SIGINT)
	if code := exitOf(first.Wait()); code != 1 {
		t.Errorf("the interrupted rollout exits %d, want 1", code)
	}
	if stderr := read(t, firstErr); !strings.Contains(stderr, "interrupted: release 2 is published (no wave has the new systems); the other machines keep release 1's systems") {
		t.Errorf("the interrupted rollout does not say what is published:\n%s", stderr)
	}
	if m := f.manifest(); m.Release != 2 || m.Machines["n1"].Path == before.Machines["n1"].Path || m.Machines["n2"].Path != before.Machines["n2"].Path {
		t.Errorf("published: release %d %+v, release 1 %+v", m.Release, m.Machines, before.Machines)
	}
	if rec := f.record(); rec.State != "interrupted" || rec.Release != 2 {
		t.Errorf("record %+v", rec)
	}
}

// TestRolloutOverTwelveAgents is the rollout a person watches on the
// dashboard: twelve hosts with agents in three waves (2, 4, 6; at most 3
// machines published at once) and a pushed host beside them. A host of
// the second wave fails its health check: its agent rolls back, the
// rollout halts, the second wave gets release 1's systems back, the third
// never receives the change, and Chromium shows it all on the dashboard,
// at a desktop's width and a phone's.
func TestRolloutOverTwelveAgents(t *testing.T) {
	testenv.NeedTool(t, "chromium")
	var names []string
	for i := 1; i <= 12; i++ {
		names = append(names, fmt.Sprintf("r%02d", i))
	}
	c := hosttest.Start(t, testhost.Options{Names: append(append([]string{}, names...), "push1")})
	f := newPullFleet(t, names...)
	f.machines = append(f.machines, testhost.FixtureMachine{Name: "push1", Platform: platform.NixOS, Generation: "1"})
	f.push["push1"] = c.Host("push1").Target()
	for _, n := range names[:2] {
		f.tags[n] = []string{"canary"}
	}
	for _, n := range names[2:6] {
		f.tags[n] = []string{"web"}
	}
	for _, n := range names {
		f.agent[n] = fmt.Sprintf("http://%s:9851", c.Host(n).Addr)
	}
	f.rollout = `{ waves = [ { name = "canary"; machines = [ "@canary" ]; soak = "1s"; } { name = "web"; machines = [ "@web" ]; soak = "1s"; } ]; maxInFlight = "25%"; deadline = "2m"; }`
	f.generation("1")
	bin, err := os.ReadFile(f.bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(c.Host(n).Dir, "nixherd"), bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Release 1 everywhere, and push1 deployed over ssh.
	deployPush := func() int {
		cmd, _, _ := f.command("deploy", "deploy", "--flake", f.fleet, "-F", c.SSHConfig, "push1")
		return exitOf(cmd.Run())
	}
	if code := deployPush(); code != 0 {
		t.Fatalf("deploy push1: exit %d", code)
	}
	first := f.mustPublish()
	www := wwwURL(t, f)
	pids := map[string]string{}
	t.Cleanup(func() {
		for n, pid := range pids {
			c.Host(n).Command(context.Background(), "kill", "-KILL", "--", "-"+pid).Run()
		}
	})
	for _, n := range names {
		h := c.Host(n)
		cmd := h.Command(context.Background(), "sh", "-c", `setsid "$@" >>/run/testhost/agent.log 2>&1 </dev/null & echo $!`, "sh",
			"/run/testhost/nixherd", "agent", "--machine", n, "--manifest", www+"/manifest.json",
			"--public-key", f.key.Public, "--cache", f.cache.URL, "--cache-public-key", f.cacheKey.Public,
			"--listen", h.Addr+":9851", "--interval", "1s", "--jitter", "200ms", "--confirm-timeout", "10s", "--health-deadline", "2s")
		pid, err := cmd.Output()
		if err != nil {
			t.Fatalf("starting %s's agent: %v", n, err)
		}
		pids[n] = strings.TrimSpace(string(pid))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range names {
				t.Logf("%s: agent log:\n%s", n, lastLines(read(t, c.Host(n).Path("/run/testhost/agent.log")), 8))
			}
		}
	})
	activations := map[string]int{}
	testenv.Await(t, 3*time.Minute, func() error {
		for _, n := range names {
			st, err := status.AgentStatus(context.Background(), f.agent[n])
			if err != nil || !st.InSync || st.AppliedRelease != first.Release {
				return fmt.Errorf("%s is not on release 1 yet: %v %+v", n, err, st.LastFailure)
			}
		}
		return nil
	})
	for _, n := range names {
		acts, _ := c.Host(n).Activations()
		activations[n] = len(acts)
	}

	// Generation 2 for all; r04's fails its health check. push1's
	// activation fails: it rolls back.
	f.generation("2")
	f.extra["r04"] = `healthChecks = [ { command = "false"; } ];`
	f.machines[len(f.machines)-1].ActivateExit = 4
	f.write()
	if code := deployPush(); code != 1 {
		t.Fatalf("deploy push1 with a failing activation: exit %d, want 1", code)
	}

	dash, _, dashErr := f.command("dashboard", "dashboard", "--flake", f.fleet, "-F", c.SSHConfig, "--release", f.www,
		"--listen", "127.0.0.1:0", "--refresh", "1s", "--ssh-every", "3s")
	if err := dash.Start(); err != nil {
		t.Fatal(err)
	}
	var url string
	testenv.Eventually(t, 30*time.Second, "the dashboard says where it is", func() bool {
		m := regexp.MustCompile(`dashboard on (http://\S+/)`).FindStringSubmatch(read(t, dashErr))
		if m != nil {
			url = m[1]
		}
		return m != nil
	})

	start := time.Now()
	ro, roOut, roErr := f.command("rollout", append([]string{"rollout", "r*"}, f.publishArgs()...)...)
	if err := ro.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan int, 1)
	go func() { ended <- exitOf(ro.Wait()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	b, err := testbrowser.Start(ctx, 1280, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	// During the rollout: the page, refreshing itself, shows it running.
	var during string
	testenv.Await(t, 2*time.Minute, func() error {
		b.Eval(ctx, `(document.querySelector("#rollout") || {dataset: {}}).dataset.state || ""`, &during)
		if len(ended) > 0 {
			t.Fatalf("the rollout ended before the page showed it running\n%s", read(t, roErr))
		}
		if during != "running" {
			return fmt.Errorf("the page shows no running rollout (%q)\n%s", during, read(t, roErr))
		}
		return nil
	})
	shot(ctx, t, b, "rollout-running.png")

	code := <-ended
	took := time.Since(start)
	t.Logf("the rollout took %s", took.Round(time.Second))
	stderr := read(t, roErr)
	if code != 1 || !regexp.MustCompile(`rollout halted in wave web: r04: ROLLED BACK: release \d+ rolled back at health: .*health check failed: command false`).MatchString(stderr) {
		t.Fatalf("rollout: exit %d, want 1, naming r04 and its health check\n%s%s", code, read(t, roOut), stderr)
	}

	// The hosts: the canaries run generation 2, the second wave is back on
	// generation 1 (r04 rolled back, the others switched and back), the
	// third wave never received anything.
	paths := map[string]string{}
	for n, e := range first.Machines {
		paths[n] = e.Path
	}
	testenv.Await(t, time.Minute, func() error {
		for _, n := range names[2:] {
			if got := c.Host(n).CurrentSystem(); got != paths[n] {
				return fmt.Errorf("%s runs %s, want release 1's %s", n, got, paths[n])
			}
		}
		return nil
	})
	now := f.manifest()
	for _, n := range names[:2] {
		if got := c.Host(n).CurrentSystem(); got == paths[n] || got != now.Machines[n].Path {
			t.Errorf("the canary %s runs %s, want generation 2's %s", n, got, now.Machines[n].Path)
		}
	}
	released := f.released()
	for _, n := range names[6:] {
		for _, p := range released[n] {
			if p != paths[n] {
				t.Errorf("%s (wave rest) was given %s by a release", n, p)
			}
		}
		if acts, _ := c.Host(n).Activations(); len(acts) != activations[n] {
			t.Errorf("%s was activated during the rollout", n)
		}
	}
	for _, n := range names[2:6] {
		if now.Machines[n].Path != paths[n] {
			t.Errorf("release %d gives %s %s, want release 1's", now.Release, n, now.Machines[n].Path)
		}
	}

	// The dashboard, without a reload: the halt, the reverted wave, the
	// wave never started, r04's rollback and why, push1's rollback.
	var waves, rows map[string]string
	testenv.Await(t, time.Minute, func() error {
		b.Eval(ctx, `Object.fromEntries([...document.querySelectorAll("#rollout .wave")].map(w => [w.dataset.wave, w.dataset.state]))`, &waves)
		rows = pageRows(ctx, t, b)
		want := map[string]string{"canary": "done", "web": "reverted", "rest": "not started"}
		for w, s := range want {
			if waves[w] != s {
				return fmt.Errorf("wave %s is %q on the page, want %q (%v)", w, waves[w], s, waves)
			}
		}
		for _, n := range names[2:] {
			if !strings.Contains(rows[n], "pull: not published") {
				return fmt.Errorf("%s is shown as %q", n, rows[n])
			}
		}
		if !strings.Contains(rows["r04"], "ROLLED BACK at health") || !strings.Contains(rows["r01"], "pull: in sync") ||
			!strings.Contains(rows["push1"], "ROLLED BACK at activate") {
			return fmt.Errorf("rows: r04 %q, r01 %q, push1 %q", rows["r04"], rows["r01"], rows["push1"])
		}
		return nil
	})
	var message string
	b.Eval(ctx, `document.querySelector("#rollout .message").innerText`, &message)
	if !strings.Contains(message, "r04") || !strings.Contains(message, "health check failed") {
		t.Errorf("the rollout's message on the page: %q", message)
	}
	shot(ctx, t, b, "rollout-halted.png")
	if err := b.Resize(ctx, 390, 844); err != nil {
		t.Fatal(err)
	}
	if err := b.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	var overflow struct{ Scroll, Inner int }
	b.Eval(ctx, `({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`, &overflow)
	if overflow.Inner != 390 || overflow.Scroll > overflow.Inner {
		t.Errorf("at a phone's width the page is %dpx wide in a %dpx window", overflow.Scroll, overflow.Inner)
	}
	shot(ctx, t, b, "rollout-halted-phone.png")

	// status --json tells the same story.
	var rep status.Report
	out, err := exec.Command(f.bin, "status", "--flake", f.fleet, "-F", c.SSHConfig, "--release", f.www, "--json").Output()
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if rep.Rollout == nil || rep.Rollout.Halt == nil || rep.Rollout.Halt.Machine != "r04" || rep.Release == nil || rep.Release.Number != now.Release {
		t.Errorf("status --json: rollout %+v, release %+v", rep.Rollout, rep.Release)
	}
}

// wwwURL serves the fleet's www/ over HTTP for the agents.
func wwwURL(t *testing.T, f *pullFleet) string {
	t.Helper()
	s, err := pulltest.Serve("127.0.0.1:0", f.www)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pageRows maps each machine's row on the page to the text a person sees in it.
func pageRows(ctx context.Context, t *testing.T, b *testbrowser.Browser) map[string]string {
	t.Helper()
	rows, err := b.Texts(ctx, "tr[data-machine]", "machine")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// shot keeps a screenshot of the page as a test artifact.
func shot(ctx context.Context, t *testing.T, b *testbrowser.Browser, name string) {
	t.Helper()
	if err := b.SaveScreenshot(ctx, testenv.Artifact(t, name)); err != nil {
		t.Fatal(err)
	}
}
