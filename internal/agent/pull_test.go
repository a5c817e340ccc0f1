package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/atomicfile"
	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/pulltest"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// The tests in this file run the real nixherd binary as an agent inside test
// hosts (their own /nix, /run and network), against a real binary cache
// served over HTTP and manifests published by internal/publish with the
// real nix. Each fault ends with the host on a known generation, the
// failure in /status and /metrics, and nothing half applied.

const agentPort = 9851

// nixherd is the binary the agents run, built once for the test run.
var nixherd string

func TestMain(m *testing.M) {
	// Offline single-user Nix, unless the caller (scripts/test.sh) set it:
	// parallel tests cannot set it each.
	if os.Getenv("NIX_CONFIG") == "" {
		os.Setenv("NIX_CONFIG", testenv.OfflineNixConfig)
	}
	dir, err := os.MkdirTemp("", "nixherd-agent-test-")
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

// kit is a fleet of one NixOS machine per test host, a binary cache and a
// web server for the manifests, each host reaching both at its gateway.
type kit struct {
	t        *testing.T
	c        *testhost.Cluster
	dir      string
	fleet    string
	machines map[string]*testhost.FixtureMachine
	cacheKey pulltest.Key
	key      release.SecretKey
	cache    *pulltest.Cache
	www      *pulltest.Server
	// urls of the cache and the web server, per host (its gateway).
	cacheURL, wwwURL map[string]string
	agents           map[string]string // host → the agent's pid inside the host
	// pulled hosts are declared pulled in deploy.nix, with their agent.
	pulled map[string]bool
	// extra is Nix text for a host's machine in deploy.nix.
	extra map[string]string
}

func newKit(t *testing.T, opts testhost.Options) *kit {
	c := hosttest.Start(t, opts)
	k := &kit{t: t, c: c, dir: t.TempDir(), machines: map[string]*testhost.FixtureMachine{},
		cacheURL: map[string]string{}, wwwURL: map[string]string{}, agents: map[string]string{}, pulled: map[string]bool{}, extra: map[string]string{}}
	k.fleet = filepath.Join(k.dir, "fleet")
	var err error
	if k.cacheKey, err = pulltest.NewKey(k.dir, "cache-1"); err != nil {
		t.Fatal(err)
	}
	mk, err := pulltest.NewKey(k.dir, "manifest-1")
	if err != nil {
		t.Fatal(err)
	}
	if k.key, err = release.ReadSecretKey(mk.SecretFile); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(k.dir, "www"), 0o755)
	for i, h := range c.Hosts {
		k.machines[h.Name] = &testhost.FixtureMachine{Name: h.Name, Platform: platform.NixOS, Generation: "1"}
		if i == 0 {
			if k.cache, err = pulltest.NewCache(h.Gateway()+":0", filepath.Join(k.dir, "cache")); err != nil {
				t.Fatal(err)
			}
			if k.www, err = pulltest.Serve(h.Gateway()+":0", filepath.Join(k.dir, "www")); err != nil {
				t.Fatal(err)
			}
			k.cacheURL[h.Name], k.wwwURL[h.Name] = k.cache.URL, k.www.URL
		} else {
			if k.cacheURL[h.Name], err = k.cache.Listen(h.Gateway() + ":0"); err != nil {
				t.Fatal(err)
			}
			if k.wwwURL[h.Name], err = k.www.Listen(h.Gateway() + ":0"); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(nixherd)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.Dir, "nixherd"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range c.Hosts {
				log, _ := os.ReadFile(filepath.Join(h.Dir, "agent.log"))
				t.Logf("%s: agent log:\n%s", h.Name, tail(string(log), 30))
			}
		}
		for name := range k.agents {
			k.stopAgent(c.Host(name))
		}
		k.cache.Close()
		k.www.Close()
	})
	k.write()
	return k
}

func (k *kit) write() {
	k.t.Helper()
	var ms []testhost.FixtureMachine
	var b strings.Builder
	b.WriteString("{ machines = {\n")
	for _, h := range k.c.Hosts {
		m := k.machines[h.Name]
		ms = append(ms, *m)
		pull := ""
		if k.pulled[h.Name] {
			pull = fmt.Sprintf("pull = { agent = \"http://%s:%d\"; };", h.Addr, agentPort)
		}
		fmt.Fprintf(&b, "  %s = { target = %q; %s %s };\n", h.Name, h.Target(), pull, k.extra[h.Name])
	}
	b.WriteString("}; }\n")
	if err := testhost.WriteFixture(k.fleet, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": b.String()}}); err != nil {
		k.t.Fatal(err)
	}
}

// destination is where a host's manifests are published.
func (k *kit) destination(h *testhost.Host) release.Destination {
	return release.DestinationOf(filepath.Join(k.dir, "www", h.Name) + "/")
}

// publish publishes the host's machine with the given generation and
// returns the release number and its path.
func (k *kit) publish(h *testhost.Host, generation string) (int64, string) {
	k.t.Helper()
	k.machines[h.Name].Generation = generation
	k.write()
	inv, err := hosts.Load(context.Background(), k.fleet)
	if err != nil {
		k.t.Fatal(err)
	}
	ms, err := inv.Select([]string{h.Name}, false)
	if err != nil {
		k.t.Fatal(err)
	}
	r, err := publish.Publish(context.Background(), ms, publish.Options{Flake: k.fleet, Cache: k.cache.Store,
		CacheKey: k.cacheKey.SecretFile, Key: k.key, Destination: k.destination(h)})
	if err != nil {
		k.t.Fatal(err)
	}
	return r.Release, r.Machines[0].Path
}

// serve writes a manifest for the host as its web server serves it.
func (k *kit) serve(h *testhost.Host, data []byte) {
	k.t.Helper()
	if err := atomicfile.Write(k.destination(h).Path, data, 0o644); err != nil {
		k.t.Fatal(err)
	}
}

// startAgent runs `nixherd agent` inside the host, in a session of its own.
func (k *kit) startAgent(h *testhost.Host, extra ...string) {
	k.t.Helper()
	args := []string{"/run/testhost/nixherd", "agent", "--machine", h.Name,
		"--manifest", k.wwwURL[h.Name] + "/" + h.Name + "/manifest.json", "--public-key", k.key.Public().String(),
		"--cache", k.cacheURL[h.Name], "--cache-public-key", k.cacheKey.Public,
		"--listen", fmt.Sprintf("%s:%d", h.Addr, agentPort), "--interval", "1s", "--jitter", "300ms", "--confirm-timeout", "10s"}
	args = append(args, extra...)
	if h.Systemd() {
		// As on NixOS: a service of its own, which stopping kills whole.
		k.run(h, append([]string{"systemd-run", "--unit=nixherd-agent", "--collect", "--quiet",
			"--property=StandardOutput=append:/run/testhost/agent.log", "--property=StandardError=append:/run/testhost/agent.log"}, args...)...)
		k.agents[h.Name] = "nixherd-agent.service"
	} else {
		// A session of its own, which killing its process group kills whole.
		cmd := h.Command(context.Background(), "sh", "-c", `setsid "$@" >>/run/testhost/agent.log 2>&1 </dev/null & echo $!`, "sh")
		cmd.Args = append(cmd.Args, args...)
		out, err := cmd.Output()
		if err != nil {
			k.t.Fatalf("starting the agent on %s: %v", h.Name, err)
		}
		k.agents[h.Name] = strings.TrimSpace(string(out))
	}
	k.eventually(h, "its /status answers", func(st agent.Status) bool { return true })
}

// stopAgent kills the agent and everything it started beside the
// watchdog (a running nix-store too), as a crash or SIGKILL would.
func (k *kit) stopAgent(h *testhost.Host) {
	id := k.agents[h.Name]
	if id == "" {
		return
	}
	delete(k.agents, h.Name)
	if h.Systemd() {
		h.Command(context.Background(), "systemctl", "kill", "--signal=SIGKILL", id).Run()
		testenv.Eventually(k.t, 10*time.Second, h.Name+": the agent's unit is gone", func() bool {
			return h.Command(context.Background(), "systemctl", "is-active", "--quiet", id).Run() != nil
		})
		return
	}
	h.Command(context.Background(), "kill", "-KILL", "--", "-"+id).Run()
	testenv.Eventually(k.t, 10*time.Second, h.Name+": the agent dies", func() bool {
		return h.Command(context.Background(), "kill", "-0", id).Run() != nil
	})
}

// run runs a command inside the host.
func (k *kit) run(h *testhost.Host, args ...string) {
	k.t.Helper()
	if out, err := h.Command(context.Background(), args[0], args[1:]...).CombinedOutput(); err != nil {
		k.t.Fatalf("%s: %s: %v: %s", h.Name, strings.Join(args, " "), err, out)
	}
}

func get(h *testhost.Host, path string) ([]byte, error) {
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s:%d%s", h.Addr, agentPort, path))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func agentStatus(h *testhost.Host) (agent.Status, error) {
	var st agent.Status
	b, err := get(h, "/status")
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	return st, err
}

// metric reads one sample of the agent's /metrics ("name{labels}"); -1
// when it is absent.
func metric(t *testing.T, h *testhost.Host, series string) float64 {
	t.Helper()
	b, err := get(h, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// eventually polls the host's /status until ok holds (deadline 60s) and
// returns that status.
func (k *kit) eventually(h *testhost.Host, what string, ok func(agent.Status) bool) agent.Status {
	k.t.Helper()
	var st agent.Status
	testenv.Eventually(k.t, 60*time.Second, h.Name+": "+what, func() bool {
		var err error
		st, err = agentStatus(h)
		return err == nil && ok(st)
	})
	return st
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// onGeneration checks the host runs and boots path, with no deployment
// left half done: no in-flight record, every watchdog run finished.
func onGeneration(t *testing.T, h *testhost.Host, path string) {
	t.Helper()
	if p := h.Profile(target.SystemProfile); p != path {
		t.Errorf("%s: the system profile is %s, want %s", h.Name, p, path)
	}
	if cur := h.CurrentSystem(); cur != path {
		t.Errorf("%s: /run/current-system is %s, want %s", h.Name, cur, path)
	}
	if b := h.BootDefault(); b != path {
		t.Errorf("%s: boots %s, want %s", h.Name, b, path)
	}
	if _, err := os.Stat(h.Path("/nix/var/nixherd/agent/inflight.json")); !os.IsNotExist(err) {
		t.Errorf("%s: an in-flight record is left", h.Name)
	}
	states, _ := filepath.Glob(h.Path("/nix/var/nixherd/watchdog") + "/*/state")
	for _, s := range states {
		b, _ := os.ReadFile(s)
		if st := strings.TrimSpace(string(b)); st != "committed" && st != "rolled-back" && st != "failed" {
			t.Errorf("%s: a watchdog run is %s (%s)", h.Name, st, s)
		}
	}
}

// failedAfter holds once a poll after since failed at stage (for release
// rel, unless 0).
func failedAfter(since time.Time, stage agent.Stage, rel int64) func(agent.Status) bool {
	return func(st agent.Status) bool {
		f := st.LastFailure
		return f != nil && f.Time.After(since) && f.Stage == stage && (rel == 0 || f.Release == rel)
	}
}

func inSyncAt(rel int64) func(agent.Status) bool {
	return func(st agent.Status) bool { return st.InSync && st.AppliedRelease == rel }
}

// oneHost starts a kit of one host whose agent runs release 1, and returns
// the host and release 1's path.
func oneHost(t *testing.T, name string, systemd bool) (*kit, *testhost.Host, string) {
	k := newKit(t, testhost.Options{Names: []string{name}, NetNS: true, Systemd: systemd})
	h := k.c.Host(name)
	r1, path1 := k.publish(h, "1")
	k.startAgent(h)
	k.eventually(h, "it runs release 1", inSyncAt(r1))
	return k, h, path1
}

// activating publishes release 2, whose activation waits for proceed, and
// returns once the watchdog is activating it.
func (k *kit) activating(h *testhost.Host) (int64, string) {
	k.t.Helper()
	k.machines[h.Name].ActivateScript = holdActivation
	r2, path2 := k.publish(h, "2")
	watchdogState(k.t, h, "activating")
	return r2, path2
}

// TestAgentConvergesAndRefusesBadManifests: an agent brings its host to
// each published release (activated with test, confirmed, then the boot
// default); a tampered manifest, one signed by another key and a replayed
// older one each fail at verify and leave the host where it was.
func TestAgentConvergesAndRefusesBadManifests(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k := newKit(t, testhost.Options{Names: []string{"pa1"}, NetNS: true, Systemd: systemd})
		h := k.c.Host("pa1")
		r1, path1 := k.publish(h, "1")
		k.startAgent(h)
		st := k.eventually(h, "it runs release 1", inSyncAt(r1))
		onGeneration(t, h, path1)
		if st.Desired != path1 || st.Running != path1 || len(st.History) != 1 || st.History[0].Outcome != "switched" || st.Generation == nil || st.Generation.Number != 1 {
			t.Errorf("status %+v", st)
		}
		acts, _ := h.Activations()
		if len(acts) != 2 || acts[0].Action != "test" || acts[1].Action != "boot" {
			t.Errorf("activations %+v, want test then boot", acts)
		}
		if systemd {
			// The agent is a service; the watchdog ran in a unit of its own
			// and the activation in a scope, as on NixOS.
			out, _ := h.Command(context.Background(), "journalctl", "-D", "/run/log/journal", "--no-pager", "-o", "cat").CombinedOutput()
			for _, unit := range []string{"nixherd-agent.service", "nixherd-watchdog-", "nixherd-activation-"} {
				if !strings.Contains(string(out), unit) {
					t.Errorf("the journal does not mention %s:\n%s", unit, tail(string(out), 20))
				}
			}
		}

		r2, path2 := k.publish(h, "2")
		k.eventually(h, "it runs release 2", inSyncAt(r2))
		onGeneration(t, h, path2)
		if got := metric(t, h, "nixherd_agent_release_applied"); got != 2 {
			t.Errorf("nixherd_agent_release_applied %v", got)
		}

		other, err := pulltest.NewKey(t.TempDir(), "manifest-1")
		if err != nil {
			t.Fatal(err)
		}
		otherKey, err := release.ReadSecretKey(other.SecretFile)
		if err != nil {
			t.Fatal(err)
		}
		forged := &release.Manifest{Release: 9, Time: time.Now(), Machines: map[string]release.Machine{
			h.Name: {Path: "/nix/store/00000000000000000000000000000000-nixos-system-pa1-forged", Platform: platform.NixOS}}}
		signed := func(key release.SecretKey) []byte {
			b, err := release.Sign(forged, key)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		archived, err := os.ReadFile(filepath.Join(k.destination(h).Archive, "1.json"))
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range []struct {
			name, error string
			data        []byte
		}{
			{"tampered", "signature does not verify", func() []byte {
				var env map[string]any
				json.Unmarshal(signed(k.key), &env)
				p, _ := json.Marshal(env["payload"])
				// The payload is base64: change it, keep it decodable.
				payload := strings.Trim(string(p), `"`)
				env["payload"] = strings.Replace(payload, payload[8:12], "AAAA", 1)
				b, _ := json.Marshal(env)
				return b
			}()},
			{"signed by another key", "signature does not verify", signed(otherKey)},
			{"replayed release 1", "release 1: refusing an older release than the one applied", archived},
		} {
			t.Run(tc.name, func(t *testing.T) {
				since := time.Now()
				k.serve(h, tc.data)
				st := k.eventually(h, "it refused the manifest", failedAfter(since, agent.StageVerify, 0))
				if !strings.Contains(st.LastFailure.Error, tc.error) || !st.Failing || st.AppliedRelease != r2 {
					t.Errorf("status %+v, failure %+v", st, st.LastFailure)
				}
				onGeneration(t, h, path2)
				if n := metric(t, h, `nixherd_agent_failures_total{stage="verify"}`); n < float64(i+1) {
					t.Errorf(`nixherd_agent_failures_total{stage="verify"} = %v`, n)
				}
				if metric(t, h, `nixherd_agent_last_failure_info{stage="verify"}`) != 1 {
					t.Error("the last failure's stage is not verify in /metrics")
				}
			})
		}
	})
}

// TestAgentCacheFaults: a release naming a path the cache lacks, a path
// with no signature, one with a bad signature and an unreachable cache each
// fail at realise with the host untouched; once the cache is back, the
// agent gets there.
func TestAgentCacheFaults(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k, h, path1 := oneHost(t, "pc1", systemd)

		// Releases are signed here by hand: the manifest is genuine, only the
		// cache is at fault.
		rel := int64(1)
		sign := func(path string) {
			t.Helper()
			rel++
			data, err := release.Sign(&release.Manifest{Release: rel, Time: time.Now(),
				Machines: map[string]release.Machine{h.Name: {Path: path, Platform: platform.NixOS}}}, k.key)
			if err != nil {
				t.Fatal(err)
			}
			k.serve(h, data)
		}
		// build builds a new generation of the machine locally (not pushed).
		build := func(generation string) string {
			t.Helper()
			k.machines[h.Name].Generation = generation
			k.write()
			out, err := exec.Command("nix", "--extra-experimental-features", "nix-command flakes", "build", "--no-link", "--json",
				k.fleet+"#nixosConfigurations."+h.Name+".config.system.build.toplevel").Output()
			if err != nil {
				t.Fatal(err)
			}
			var built []struct{ Outputs map[string]string }
			json.Unmarshal(out, &built)
			return built[0].Outputs["out"]
		}
		copyTo := func(path, store string) {
			t.Helper()
			if out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--to", store, path).CombinedOutput(); err != nil {
				t.Fatalf("nix copy: %v: %s", err, out)
			}
		}
		narinfo := func(path string) string {
			return filepath.Join(k.cache.Dir, strings.SplitN(strings.TrimPrefix(path, "/nix/store/"), "-", 2)[0]+".narinfo")
		}
		fails := func(what string, check func(error string) bool) {
			t.Helper()
			since := time.Now()
			st := k.eventually(h, what+" fails at realise", failedAfter(since, agent.StageRealise, rel))
			if !check(st.LastFailure.Error) {
				t.Errorf("%s: failure %+v", what, st.LastFailure)
			}
			onGeneration(t, h, path1)
			if n := len(st.History); n == 0 || st.History[n-1].Stage != agent.StageRealise {
				t.Errorf("%s: history %+v", what, st.History)
			}
		}

		t.Run("path the cache lacks", func(t *testing.T) {
			sign("/nix/store/00000000000000000000000000000000-nixos-system-pc1-fixture")
			fails("a path the cache lacks", func(e string) bool {
				return strings.Contains(e, "error: build of '/nix/store/00000000000000000000000000000000-nixos-system-pc1-fixture' failed")
			})
		})
		t.Run("missing signature", func(t *testing.T) {
			p := build("unsigned")
			copyTo(p, k.cache.Store) // no secret-key: the narinfo has no Sig
			if b, _ := os.ReadFile(narinfo(p)); strings.Contains(string(b), "Sig:") {
				t.Fatal("the narinfo is signed")
			}
			sign(p)
			fails("an unsigned path", func(e string) bool {
				return strings.Contains(e, "is not signed by any of the keys in 'trusted-public-keys'")
			})
			if h.HasStorePath(p) {
				t.Error("the unsigned path reached the host's store")
			}
		})
		t.Run("bad signature", func(t *testing.T) {
			p := build("badsig")
			copyTo(p, k.cache.Store+"?secret-key="+k.cacheKey.SecretFile)
			b, _ := os.ReadFile(narinfo(p))
			// A signature by the trusted key's name over something else.
			re := regexp.MustCompile(`Sig: cache-1:(\S+)`)
			bad := re.ReplaceAllStringFunc(string(b), func(s string) string {
				return s[:len(s)-6] + strings.Map(func(r rune) rune {
					if r == 'A' {
						return 'B'
					}
					return 'A'
				}, s[len(s)-6:len(s)-2]) + s[len(s)-2:]
			})
			if bad == string(b) {
				t.Fatal("no signature to spoil")
			}
			os.WriteFile(narinfo(p), []byte(bad), 0o644)
			sign(p)
			fails("a path with a bad signature", func(e string) bool {
				return strings.Contains(e, "is not signed by any of the keys in 'trusted-public-keys'")
			})
			if h.HasStorePath(p) {
				t.Error("the badly signed path reached the host's store")
			}
		})
		t.Run("cache unreachable, then back", func(t *testing.T) {
			rg, p := k.publish(h, "3") // pushed and signed, then the cache goes away
			rel = rg
			addr := strings.TrimPrefix(k.cacheURL[h.Name], "http://")
			k.cache.Close()
			fails("an unreachable cache", func(e string) bool { return strings.Contains(e, "Couldn't connect to server") })
			if n := metric(t, h, `nixherd_agent_failures_total{stage="realise"}`); n < 4 {
				t.Errorf(`nixherd_agent_failures_total{stage="realise"} = %v`, n)
			}
			back, err := pulltest.NewCache(addr, k.cache.Dir)
			if err != nil {
				t.Fatal(err)
			}
			k.cache = back
			k.eventually(h, "it runs the release once the cache is back", inSyncAt(rg))
			onGeneration(t, h, p)
		})
	})
}

// holdActivation makes the machine's next generation wait during its
// activation until the test creates /run/testhost/proceed on the host.
const holdActivation = `while [ ! -e /run/testhost/proceed ]; do sleep 0.1; done`

// watchdogState waits until a watchdog run on the host is in state want.
func watchdogState(t *testing.T, h *testhost.Host, want string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, h.Name+": a watchdog run reaches "+want, func() bool {
		states, _ := filepath.Glob(h.Path("/nix/var/nixherd/watchdog") + "/*/state")
		for _, s := range states {
			if b, _ := os.ReadFile(s); strings.TrimSpace(string(b)) == want {
				return true
			}
		}
		return false
	})
}

func proceed(t *testing.T, h *testhost.Host) {
	t.Helper()
	if out, err := h.Command(context.Background(), "touch", "/run/testhost/proceed").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestAgentKilledMidRealise: an agent killed while it substitutes leaves
// the host as it was; started again, it starts over and gets there.
func TestAgentKilledMidRealise(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k, h, path1 := oneHost(t, "pk1", systemd)

		k.cache.HoldNARs()
		nars := k.cache.NARs.Load()
		r2, path2 := k.publish(h, "2")
		testenv.Eventually(t, 60*time.Second, "the agent starts downloading", func() bool { return k.cache.NARs.Load() != nars })
		if b, _ := os.ReadFile(h.Path("/nix/var/nixherd/agent/inflight.json")); !strings.Contains(string(b), `"stage": "realise"`) {
			t.Fatalf("in-flight record during the realise: %s", b)
		}
		k.stopAgent(h)
		k.cache.ReleaseNARs()
		if p := h.Profile(target.SystemProfile); p != path1 || h.CurrentSystem() != path1 || h.HasStorePath(path2) {
			t.Fatalf("after the kill: profile %s, running %s, has the new path %v", p, h.CurrentSystem(), h.HasStorePath(path2))
		}
		if states, _ := filepath.Glob(h.Path("/nix/var/nixherd/watchdog") + "/*/state"); len(states) != 1 {
			t.Fatalf("watchdog runs %v: the killed realise must not have started one", states)
		}

		k.startAgent(h)
		st := k.eventually(h, "it runs release 2", inSyncAt(r2))
		onGeneration(t, h, path2)
		var stopped bool
		for _, d := range st.History {
			stopped = stopped || (d.Release == r2 && d.Stage == agent.StageRealise && strings.Contains(d.Error, "stopped during the realise"))
		}
		if !stopped || st.History[len(st.History)-1].Outcome != "switched" {
			t.Errorf("history %+v", st.History)
		}
	})
}

// TestAgentKilledMidActivation: an agent killed while the watchdog
// activates the new system is started again, follows that watchdog run
// (it does not start another) and confirms it.
func TestAgentKilledMidActivation(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k, h, path1 := oneHost(t, "pk2", systemd)

		r2, path2 := k.activating(h)
		k.stopAgent(h)
		if p := h.Profile(target.SystemProfile); p != path1 || h.BootDefault() != path1 {
			t.Fatalf("mid-activation: profile %s, boot default %s; want %s", p, h.BootDefault(), path1)
		}
		proceed(t, h)
		k.startAgent(h)
		st := k.eventually(h, "it runs release 2", inSyncAt(r2))
		onGeneration(t, h, path2)
		last := st.History[len(st.History)-1]
		if !last.Resumed || last.Outcome != "switched" || last.Release != r2 {
			t.Errorf("last deployment %+v", last)
		}
		if states, _ := filepath.Glob(h.Path("/nix/var/nixherd/watchdog") + "/*/state"); len(states) != 2 {
			t.Errorf("watchdog runs %v, want one per release", states)
		}
	})
}

// TestAgentRollsBackWhenTheNetworkIsLost: a host whose network goes after
// the activation cannot fetch the manifest to confirm: the watchdog puts
// the old system back, and the rollback shows in /status and /metrics.
func TestAgentRollsBackWhenTheNetworkIsLost(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k, h, path1 := oneHost(t, "pn1", systemd)

		r2, path2 := k.activating(h)
		if err := h.Cut(); err != nil {
			t.Fatal(err)
		}
		proceed(t, h)
		watchdogState(t, h, "rolled-back")
		if err := h.Restore(); err != nil {
			t.Fatal(err)
		}
		st := k.eventually(h, "it reports the rollback", func(st agent.Status) bool {
			return st.Rollbacks == 1 && st.LastFailure != nil && st.LastFailure.Release == r2
		})
		onGeneration(t, h, path1)
		if f := st.LastFailure; f.Stage != agent.StageConfirm || !strings.Contains(f.Error, "the release manifest is out of reach") {
			t.Errorf("last failure %+v", f)
		}
		if st.InSync || st.Rejected != path2 || st.AppliedRelease != 1 {
			t.Errorf("status %+v", st)
		}
		if metric(t, h, "nixherd_agent_rollbacks_total") != 1 || metric(t, h, `nixherd_agent_failures_total{stage="confirm"}`) != 1 ||
			metric(t, h, `nixherd_agent_deployments_total{outcome="ROLLED BACK"}`) != 1 || metric(t, h, "nixherd_agent_in_sync") != 0 {
			b, _ := get(h, "/metrics")
			t.Errorf("metrics:\n%s", b)
		}
		acts, _ := h.Activations()
		if n := len(acts); n < 2 || acts[n-2].Path != path2 || acts[n-2].Action != "test" || acts[n-1].Path != path1 || acts[n-1].Action != "switch" {
			t.Errorf("activations %+v: want the new system tested, then the old one switched back", acts)
		}
		// The path that rolled back is not tried again by the next polls.
		polls := metric(t, h, "nixherd_agent_manifest_fetches_total")
		k.eventually(h, "it polled twice more", func(agent.Status) bool {
			return metric(t, h, "nixherd_agent_manifest_fetches_total") >= polls+2
		})
		if acts2, _ := h.Activations(); len(acts2) != len(acts) {
			t.Errorf("the rejected system was activated again: %+v", acts2[len(acts):])
		}
	})
}

// TestStatusShowsPulledAndPushedMachines: nixherd status reads a pulled
// machine from its agent and a pushed one over ssh, in one report.
func TestStatusShowsPulledAndPushedMachines(t *testing.T) {
	k := newKit(t, testhost.Options{Names: []string{"ps1", "ps2"}, NetNS: true})
	pulled, pushed := k.c.Host("ps1"), k.c.Host("ps2")
	k.pulled[pulled.Name] = true
	r1, path1 := k.publish(pulled, "1")
	k.startAgent(pulled)
	k.eventually(pulled, "it runs release 1", inSyncAt(r1))

	inv, err := hosts.Load(context.Background(), k.fleet)
	if err != nil {
		t.Fatal(err)
	}
	ssh := k.c.SSHArgs()
	s, err := deploy.Run(context.Background(), inv.Machines[1:], deploy.Options{Flake: k.fleet, Reach: fanout.Options{SSHOptions: ssh}})
	if err != nil || !s.OK {
		t.Fatalf("deploying %s: %v %+v", pushed.Name, err, s)
	}
	n, err := nix.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := status.Query(context.Background(), inv.Machines, status.Options{Flake: k.fleet, Nix: n, SSHOptions: ssh})
	if err != nil {
		t.Fatal(err)
	}
	r := status.NewReport(ms)
	if !r.InSync || r.Unreachable() {
		t.Errorf("report %+v", r)
	}
	p, q := ms[0], ms[1]
	if p.Mode != status.ModePull || p.Agent == nil || p.Agent.AppliedRelease != r1 || p.Running != path1 || !p.InSync || p.State() != "pull: in sync" {
		t.Errorf("pulled machine %+v", p)
	}
	if q.Mode != status.ModePush || q.Agent != nil || !q.InSync || q.State() != "in sync" {
		t.Errorf("pushed machine %+v", q)
	}

	// A flake change not published yet: the pulled machine says so.
	k.machines[pulled.Name].Generation = "2"
	k.write()
	ms, err = status.Query(context.Background(), inv.Machines[:1], status.Options{Flake: k.fleet, Nix: n})
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].InSync || ms[0].State() != "pull: not published" {
		t.Errorf("after a flake change: %+v (%s)", ms[0], ms[0].State())
	}
}

// TestPrometheusScrapesAgents: a real Prometheus scrapes three agents and
// its query API sees all three in sync on release 1.
func TestPrometheusScrapesAgents(t *testing.T) {
	prom := testenv.NeedTool(t, "prometheus")
	k := newKit(t, testhost.Options{Names: []string{"pm1", "pm2", "pm3"}, NetNS: true})
	var targets []string
	for _, h := range k.c.Hosts {
		k.publish(h, "1")
		k.startAgent(h)
		targets = append(targets, fmt.Sprintf("%q", fmt.Sprintf("%s:%d", h.Addr, agentPort)))
	}
	for _, h := range k.c.Hosts {
		k.eventually(h, "it runs release 1", inSyncAt(1))
	}

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(config, []byte(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nixherd-agent
    static_configs:
      - targets: [`+strings.Join(targets, ", ")+`]
`), 0o644)
	addr := freeAddr(t)
	cmd := exec.Command(prom, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", log.String())
		}
	}()

	query := func(q string) (string, error) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return "", err
		}
		if r.Status != "success" || len(r.Data.Result) != 1 {
			return "", fmt.Errorf("%+v", r)
		}
		return fmt.Sprint(r.Data.Result[0].Value[1]), nil
	}
	for _, q := range []string{
		`count(nixherd_agent_in_sync == 1)`,
		`count(nixherd_agent_release_applied == 1)`,
		`sum(nixherd_agent_deployments_total{outcome="switched"})`,
		`count(up{job="nixherd-agent"} == 1)`,
	} {
		testenv.Eventually(t, 60*time.Second, "prometheus: "+q+" = 3", func() bool {
			v, err := query(q)
			return err == nil && v == "3"
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAgentRollsBackOnAFailedHealthCheck: the health checks deploy.nix
// gives a machine travel in the manifest and run on the host after the
// activation; a failing one rolls the machine back (stage health).
func TestAgentRollsBackOnAFailedHealthCheck(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k := newKit(t, testhost.Options{Names: []string{"ph1"}, NetNS: true, Systemd: systemd})
		h := k.c.Host("ph1")
		k.extra[h.Name] = `healthChecks = [ { command = "test -e /run/testhost/healthy"; timeout = 1; } ];`
		touch := func() {
			if out, err := h.Command(context.Background(), "touch", "/run/testhost/healthy").CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		}
		touch()
		r1, path1 := k.publish(h, "1")
		k.startAgent(h, "--health-deadline", "2s")
		k.eventually(h, "it runs release 1", inSyncAt(r1))

		os.Remove(h.Path("/run/testhost/healthy"))
		r2, path2 := k.publish(h, "2")
		st := k.eventually(h, "it rolled release 2 back", func(st agent.Status) bool { return st.Rollbacks == 1 })
		onGeneration(t, h, path1)
		if f := st.LastFailure; f == nil || f.Stage != agent.StageHealth || f.Release != r2 || !strings.Contains(f.Error, "command test -e /run/testhost/healthy") {
			t.Errorf("last failure %+v", f)
		}
		if st.Rejected != path2 || metric(t, h, `nixherd_agent_failures_total{stage="health"}`) != 1 {
			t.Errorf("status %+v", st)
		}

		touch()
		r3, path3 := k.publish(h, "3")
		k.eventually(h, "it runs release 3", inSyncAt(r3))
		onGeneration(t, h, path3)
	})
}

// TestAgentPollsOnSIGHUP: `nixherd agent --once` beside a running agent
// sends it SIGHUP, and it polls at once instead of at its next interval.
func TestAgentPollsOnSIGHUP(t *testing.T) {
	onEachKind(t, func(t *testing.T, systemd bool) {
		k := newKit(t, testhost.Options{Names: []string{"pu1"}, NetNS: true, Systemd: systemd})
		h := k.c.Host("pu1")
		r1, _ := k.publish(h, "1")
		k.startAgent(h, "--interval", "1h")
		k.eventually(h, "it runs release 1", inSyncAt(r1))
		r2, path2 := k.publish(h, "2")
		out, err := h.Command(context.Background(), "/run/testhost/nixherd", "agent", "--once").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "asked the running agent") {
			t.Fatalf("nixherd agent --once: %v: %s", err, out)
		}
		k.eventually(h, "it runs release 2 long before its next interval", inSyncAt(r2))
		onGeneration(t, h, path2)

		// A changed kernel since boot shows as needs-reboot.
		script := `mkdir -p /run/booted-system && ln -sfn /nix/store/00000000000000000000000000000000-linux-6.6 /run/booted-system/kernel`
		if out, err := h.Command(context.Background(), "sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		h.Command(context.Background(), "/run/testhost/nixherd", "agent", "--once").Run()
		k.eventually(h, "it says it needs a reboot", func(st agent.Status) bool { return st.NeedsReboot })
		if metric(t, h, "nixherd_agent_needs_reboot") != 1 {
			t.Error("nixherd_agent_needs_reboot is not 1")
		}
	})
}

// onEachKind runs test once per kind of test host, as parallel subtests
// named after the kind: "sshd" (a shell supervises sshd; the agent runs in
// a session of its own) and "systemd" (real systemd as process 1, as on
// NixOS; the agent runs as a service and the watchdog in units of its own).
func onEachKind(t *testing.T, test func(t *testing.T, systemd bool)) {
	for _, kind := range []string{"sshd", "systemd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			test(t, kind == "systemd")
		})
	}
}
