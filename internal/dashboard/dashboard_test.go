package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testbrowser"
	"github.com/nixherd/nixherd/internal/testenv"
)

const (
	pathA = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web-1"
	pathB = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web-2"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fleet is a fleet of a pushed machine that rolled back, a pulled machine
// in sync, one whose agent failed its health check (with a hostile error
// text), one whose agent does not answer and one never read.
func fleet() ([]hosts.Machine, func(context.Context, []plan.Closure) ([]status.Machine, error)) {
	pull := &hosts.Pull{Agent: "http://agent"}
	ms := []hosts.Machine{{Name: "db", Target: "root@db"}, {Name: "web1", Target: "root@web1", Pull: pull},
		{Name: "web2", Target: "root@web2", Pull: pull}, {Name: "web3", Target: "root@web3", Pull: pull}, {Name: "zz-new", Target: "root@zz", Pull: pull}}
	since := now.Add(-90 * time.Minute)
	poll := now.Add(-2 * time.Second)
	read := func(_ context.Context, cs []plan.Closure) ([]status.Machine, error) {
		var out []status.Machine
		for _, c := range cs {
			switch c.Machine.Name {
			case "db":
				out = append(out, status.Machine{Name: "db", Target: "root@db", Mode: status.ModePush, Reachable: true, Running: pathA, Desired: pathB,
					Generation: &target.Generation{Number: 4, Path: pathA, Date: since}, Since: &since, NeedsReboot: true,
					LastDeploy: &status.Deploy{Outcome: "ROLLED BACK", Stage: "activate", Error: "activation exited 4", Time: now.Add(-time.Minute)}})
			case "web1":
				out = append(out, status.Machine{Name: "web1", Target: "root@web1", Mode: status.ModePull, Reachable: true, Running: pathB, Desired: pathB, InSync: true,
					Since: &since, LastSeen: &poll, Agent: &agent.Status{AppliedRelease: 7, DesiredRelease: 7, InSync: true, Running: pathB, Desired: pathB, State: "idle"},
					LastDeploy: &status.Deploy{Outcome: "switched", Release: 7, Time: since}})
			case "web2":
				out = append(out, status.Machine{Name: "web2", Target: "root@web2", Mode: status.ModePull, Reachable: true, Running: pathA, Desired: pathB,
					Since: &since, LastSeen: &poll, Agent: &agent.Status{AppliedRelease: 6, DesiredRelease: 7, Failing: true, Running: pathA, Desired: pathB, State: "idle",
						LastFailure: &agent.Failure{Stage: agent.StageHealth, Release: 7, Error: "health check failed: <script>alert(1)</script>"}},
					LastDeploy: &status.Deploy{Outcome: "ROLLED BACK", Stage: "health", Release: 7, Error: "health check failed: <script>alert(1)</script>", Time: now.Add(-time.Minute)}})
			case "web3":
				out = append(out, status.Machine{Name: "web3", Target: "root@web3", Mode: status.ModePull, Desired: pathB, Stale: true,
					Error: "web3: its agent does not answer: connection refused"})
			}
		}
		return out, nil
	}
	return ms, read
}

func newServer(t *testing.T, release string) *Server {
	ms, read := fleet()
	s := New(Options{Machines: ms, Release: release, Now: func() time.Time { return now },
		Evaluate: func(_ context.Context, ms []hosts.Machine) ([]plan.Closure, error) {
			var cs []plan.Closure
			for _, m := range ms {
				if m.Name != "zz-new" {
					cs = append(cs, plan.Closure{Machine: m, Platform: "nixos", OutPath: pathB})
				}
			}
			return cs, nil
		}, Read: read})
	s.refreshPush(context.Background())
	s.refreshPull(context.Background())
	return s
}

// releaseDir holds a rollout record halted in its second wave.
func releaseDir(t *testing.T) string {
	dir := t.TempDir()
	rec := rollout.Record{State: "halted", Started: now.Add(-5 * time.Minute), Updated: now, PreviousRelease: 5, Release: 8, Reverted: 8,
		Halt:    &rollout.Halt{Wave: "web", Machine: "web2", Reason: "ROLLED BACK: release 7 rolled back at health: health check failed"},
		Message: "rollout halted in wave web: web2: ROLLED BACK",
		Waves: []rollout.WaveRecord{
			{Name: "canary", State: "done", Machines: []rollout.MachineRecord{{Machine: "web1", State: "running"}}},
			{Name: "web", State: "reverted", Machines: []rollout.MachineRecord{{Machine: "web2", State: "reverted", Error: "<b>not bold</b>"}}},
			{Name: "rest", State: "not started", Machines: []rollout.MachineRecord{{Machine: "web3", State: "not started"}}}}}
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, rollout.RecordFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPageAndJSONShowOneModel: the page and /status.json come from the
// same report, and what hosts said is escaped, never markup.
func TestPageAndJSONShowOneModel(t *testing.T) {
	s := newServer(t, releaseDir(t))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	page := get(t, srv.URL+"/")
	for _, want := range []string{`data-machine="web2" data-state="pull: failed at health"`, "ROLLED BACK at health (release 7)",
		"health check failed: &lt;script&gt;alert(1)&lt;/script&gt;", "needs a reboot", "stale: its agent does not answer",
		`data-machine="zz-new" data-state="not read yet"`, "Rollout", `data-wave="rest" data-state="not started"`, "&lt;b&gt;not bold&lt;/b&gt;",
		"in sync since 1h ago", `src="refresh.js"`, `http-equiv="refresh"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<b>not bold") {
		t.Error("text from a host reached the page as markup")
	}
	if part := get(t, srv.URL+"/?part=fleet"); strings.Contains(part, "<html") || !strings.Contains(part, `data-machine="web1"`) {
		t.Errorf("the fleet part:\n%s", part)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/status.json")), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Machines) != 4 || r.Rollout == nil || r.Rollout.Halt.Machine != "web2" || r.Machines[0].LastDeploy.Stage != "activate" {
		t.Errorf("status.json: %+v", r)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b.String()
}

// TestPageInABrowser: Chromium renders the page from the binary alone (no
// request leaves for anywhere else), the rows and the halted wave show,
// the page refreshes itself, and at a phone's width nothing overflows
// sideways. Screenshots are kept as artifacts.
func TestPageInABrowser(t *testing.T) {
	testenv.NeedTool(t, "chromium")
	s := newServer(t, releaseDir(t))
	requests := map[string]int{}
	var reqMu = make(chan struct{}, 1)
	reqMu <- struct{}{}
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-reqMu
		requests[r.URL.RequestURI()]++
		reqMu <- struct{}{}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := testbrowser.Start(ctx, 1280, 900)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	rows := pageRows(ctx, t, b)
	if got := rows["web2"]; !strings.Contains(got, "pull: failed at health") || !strings.Contains(got, "health check failed: <script>alert(1)</script>") {
		t.Errorf("web2 is shown as %q", got)
	}
	if got := rows["db"]; !strings.Contains(got, "ROLLED BACK at activate") || !strings.Contains(got, "needs a reboot") {
		t.Errorf("db is shown as %q", got)
	}
	var waves []string
	if err := b.Eval(ctx, `[...document.querySelectorAll("#rollout .wave")].map(w => w.dataset.wave + ": " + w.dataset.state)`, &waves); err != nil {
		t.Fatal(err)
	}
	if strings.Join(waves, ", ") != "canary: done, web: reverted, rest: not started" {
		t.Errorf("waves %v", waves)
	}
	var scripts int
	b.Eval(ctx, `document.querySelectorAll("script:not([src])").length + document.querySelectorAll("#fleet script").length`, &scripts)
	if scripts != 0 {
		t.Errorf("%d scripts in the page besides refresh.js", scripts)
	}
	shot(ctx, t, b, "dashboard-wide.png")

	// It refreshes itself: the fleet part is fetched again.
	testenv.Eventually(t, 30*time.Second, "the page fetches its fleet part again", func() bool {
		<-reqMu
		defer func() { reqMu <- struct{}{} }()
		return requests["/?part=fleet"] > 0
	})

	if err := b.Resize(ctx, 390, 844); err != nil {
		t.Fatal(err)
	}
	if err := b.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	var overflow struct{ Scroll, Inner int }
	if err := b.Eval(ctx, `({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`, &overflow); err != nil {
		t.Fatal(err)
	}
	if overflow.Inner != 390 || overflow.Scroll > overflow.Inner {
		t.Errorf("at a phone's width the page is %dpx wide in a %dpx window", overflow.Scroll, overflow.Inner)
	}
	if rows := pageRows(ctx, t, b); !strings.Contains(rows["web2"], "ROLLED BACK at health") {
		t.Errorf("on a phone web2 is shown as %q", rows["web2"])
	}
	shot(ctx, t, b, "dashboard-phone.png")
	for uri := range requests {
		if !strings.HasPrefix(uri, "/") {
			t.Errorf("a request for %s", uri)
		}
	}
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

// TestPageShowsTheLatestRollout: a push rollout (deploy --waves) recorded
// after the pull rollout beside the release is the one shown, as a push
// deploy; an older one gives way to the pull rollout.
func TestPageShowsTheLatestRollout(t *testing.T) {
	pushed := func(started time.Time) string {
		rec := rollout.Record{Kind: "push", State: "running", Started: started, Updated: now,
			Waves: []rollout.WaveRecord{{Name: "@canary", State: "deploying", Machines: []rollout.MachineRecord{{Machine: "web1", State: "deploying"}}}}}
		data, _ := json.Marshal(rec)
		file := filepath.Join(t.TempDir(), "push.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	for _, tc := range []struct {
		name    string
		started time.Time
		want    []string
	}{
		{"later push", now.Add(-time.Minute), []string{"push deploy in waves", `data-wave="@canary" data-state="deploying"`}},
		{"earlier push", now.Add(-time.Hour), []string{"release 5 → 8", `data-wave="rest" data-state="not started"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, releaseDir(t))
			s.o.PushRecord = pushed(tc.started)
			s.refreshPull(context.Background())
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			page := get(t, srv.URL+"/")
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
		})
	}
}
