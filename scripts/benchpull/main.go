// Command benchpull measures pull mode on simulated hosts (see
// internal/testhost): `nixherd publish` and `nixherd agent` against the
// same fleet pushed with `nixherd deploy`, and prints one `bench:
// name=value` line per figure. scripts/bench-pull.sh builds nixherd and runs
// it; it must run as root.
//
// Every figure is a ratio against a baseline measured in the same run, or a
// time given with its baseline:
//
//	publish_fanout           publishing a new release of N hosts of one
//	                         configuration ÷ of 1 host (goal ≤ 1.1: the
//	                         publisher's work must not grow with the fleet)
//	publish_fanout_distinct  the same with N distinct configurations (N
//	                         closures to build and push, one manifest)
//	pull_converge_s          seconds from the start of `nixherd publish`
//	                         until every agent runs the new release
//	push_deploy_s            seconds for `nixherd deploy` of the same fleet
//	                         to the same hosts (agents stopped)
//	pull_vs_push             pull_converge_s ÷ push_deploy_s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/pulltest"
	"github.com/nixherd/nixherd/internal/testhost"
)

const agentPort = 9851

func main() {
	nixherd := flag.String("nixherd", "", "the nixherd binary to measure")
	n := flag.Int("hosts", 32, "number of hosts")
	payload := flag.Int("payload", 1<<20, "bytes of changed payload in each closure")
	interval := flag.Duration("interval", 2*time.Second, "the agents' poll interval (a tenth more of jitter)")
	flag.Parse()
	if err := run(*nixherd, *n, *payload, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "benchpull:", err)
		os.Exit(1)
	}
}

type bench struct {
	nixherd  string
	c        *testhost.Cluster
	work     string
	names    []string
	payload  int
	cacheKey pulltest.Key
	key      pulltest.Key
	cache    *pulltest.Cache
	www      *pulltest.Server
	agents   map[string]string
}

func run(nixherd string, n, payload int, interval time.Duration) error {
	if nixherd == "" {
		return fmt.Errorf("-nixherd is required")
	}
	work, err := os.MkdirTemp("", "nixherd-benchpull-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{nixherd: nixherd, work: work, payload: payload, agents: map[string]string{}}
	for i := 1; i <= n; i++ {
		b.names = append(b.names, fmt.Sprintf("p%02d", i))
	}
	if b.cacheKey, err = pulltest.NewKey(work, "cache-1"); err != nil {
		return err
	}
	if b.key, err = pulltest.NewKey(work, "release-1"); err != nil {
		return err
	}
	if b.cache, err = pulltest.NewCache("127.0.0.1:0", filepath.Join(work, "cache")); err != nil {
		return err
	}
	defer b.cache.Close()
	if b.www, err = pulltest.Serve("127.0.0.1:0", filepath.Join(work, "www")); err != nil {
		return err
	}
	defer b.www.Close()
	if b.c, err = testhost.New(testhost.Options{Names: b.names}); err != nil {
		return err
	}
	defer b.c.Close()
	defer b.stopAgents()
	bin, err := os.ReadFile(nixherd)
	if err != nil {
		return err
	}
	for _, h := range b.c.Hosts {
		if err := os.WriteFile(filepath.Join(h.Dir, "nixherd"), bin, 0o755); err != nil {
			return err
		}
	}

	// Every host runs generation 0 first, so later releases bring only
	// what a configuration change brings (the toplevel and its payload).
	if _, err := b.publish("shared", "0", "fleet", b.names...); err != nil {
		return err
	}
	if err := b.startAgents(interval); err != nil {
		return err
	}
	if err := b.converged(1, 5*time.Minute); err != nil {
		return err
	}

	// The publisher alone, to a destination no agent reads: best of three.
	var one, all, oneDistinct, allDistinct []time.Duration
	for i := range 3 {
		for _, m := range []struct {
			fleet string
			dst   *[]time.Duration
			hosts []string
		}{{"shared", &one, b.names[:1]}, {"shared", &all, b.names}, {"distinct", &oneDistinct, b.names[:1]}, {"distinct", &allDistinct, b.names}} {
			d, err := b.publish(m.fleet, fmt.Sprintf("bench-%d-%d", i, len(m.hosts)), "bench-"+m.fleet, m.hosts...)
			if err != nil {
				return err
			}
			*m.dst = append(*m.dst, d)
		}
	}

	// Pull: from the start of the publish until every agent runs it.
	start := time.Now()
	if _, err := b.publish("shared", "1", "fleet", b.names...); err != nil {
		return err
	}
	published := time.Since(start)
	if err := b.converged(2, 5*time.Minute); err != nil {
		return err
	}
	pull := time.Since(start)

	// Push: the same fleet, a new generation, to the same hosts.
	b.stopAgents()
	if err := b.writeFleet("shared", "2"); err != nil {
		return err
	}
	start = time.Now()
	cmd := exec.Command(nixherd, "deploy", "--flake", filepath.Join(work, "shared"), "--all", "--json", "--parallel", fmt.Sprint(n), "-F", b.c.SSHConfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nixherd deploy: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	push := time.Since(start)

	fmt.Fprintf(os.Stderr, "# %d hosts, %d KiB changed per closure, agents poll every %s (+%s jitter): publish 1 host %.2fs, %d hosts %.2fs; %d distinct configurations: 1 %.2fs, %d %.2fs; pull: published in %.2fs, all running it after %.2fs; push deploy %.2fs\n",
		n, payload>>10, interval, interval/10, best(one).Seconds(), n, best(all).Seconds(), n, best(oneDistinct).Seconds(), n, best(allDistinct).Seconds(),
		published.Seconds(), pull.Seconds(), push.Seconds())
	fmt.Printf("bench: publish_fanout=%.2f\n", best(all).Seconds()/best(one).Seconds())
	fmt.Printf("bench: publish_fanout_distinct=%.2f\n", best(allDistinct).Seconds()/best(oneDistinct).Seconds())
	fmt.Printf("bench: pull_converge_s=%.2f\n", pull.Seconds())
	fmt.Printf("bench: push_deploy_s=%.2f\n", push.Seconds())
	fmt.Printf("bench: pull_vs_push=%.2f\n", pull.Seconds()/push.Seconds())
	return nil
}

func best(ds []time.Duration) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[0]
}

// writeFleet writes generation gen of the fleet: "shared" gives every host
// the one configuration "web"; "distinct" gives each its own.
func (b *bench) writeFleet(kind, gen string) error {
	var ms []testhost.FixtureMachine
	var d strings.Builder
	d.WriteString("{ machines = {\n")
	if kind == "shared" {
		ms = append(ms, testhost.FixtureMachine{Name: "web", Platform: platform.NixOS, Generation: gen, PayloadBytes: b.payload})
	}
	for _, h := range b.c.Hosts {
		conf := "web"
		if kind == "distinct" {
			conf = h.Name
			ms = append(ms, testhost.FixtureMachine{Name: h.Name, Platform: platform.NixOS, Generation: gen, PayloadBytes: b.payload})
		}
		fmt.Fprintf(&d, "  %s = { target = %q; configuration = %q; pull = { agent = \"http://%s:%d\"; }; };\n", h.Name, h.Target(), conf, h.Addr, agentPort)
	}
	d.WriteString("}; }\n")
	return testhost.WriteFixture(filepath.Join(b.work, kind), testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": d.String()}})
}

// publish writes generation gen and times `nixherd publish` of the hosts
// to www/DEST.
func (b *bench) publish(kind, gen, dest string, hosts ...string) (time.Duration, error) {
	if err := b.writeFleet(kind, gen); err != nil {
		return 0, err
	}
	cmd := exec.Command(b.nixherd, "publish", "--flake", filepath.Join(b.work, kind), "--json",
		"--cache", b.cache.Store, "--cache-key", b.cacheKey.SecretFile, "--key", b.key.SecretFile,
		"--to", filepath.Join(b.www.Dir, dest)+"/", strings.Join(hosts, ","))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("nixherd publish: %v\n%s", err, stderr.String())
	}
	return d, nil
}

func (b *bench) startAgents(interval time.Duration) error {
	for _, h := range b.c.Hosts {
		cmd := h.Command(context.Background(), "sh", "-c", `setsid "$@" >>/run/testhost/agent.log 2>&1 </dev/null & echo $!`, "sh",
			"/run/testhost/nixherd", "agent", "--machine", h.Name, "--manifest", b.www.URL+"/fleet/manifest.json",
			"--public-key", b.key.Public, "--cache", b.cache.URL, "--cache-public-key", b.cacheKey.Public,
			"--listen", fmt.Sprintf("%s:%d", h.Addr, agentPort), "--interval", interval.String())
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("starting the agent on %s: %v", h.Name, err)
		}
		b.agents[h.Name] = strings.TrimSpace(string(out))
	}
	return nil
}

func (b *bench) stopAgents() {
	for name, pid := range b.agents {
		b.c.Host(name).Command(context.Background(), "kill", "-KILL", "--", "-"+pid).Run()
		delete(b.agents, name)
	}
}

// converged waits until every agent runs release rel.
func (b *bench) converged(rel int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := http.Client{Timeout: 2 * time.Second}
	pending := append([]string{}, b.names...)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("not in sync on release %d within %s: %s", rel, within, strings.Join(pending, " "))
		}
		var mu sync.Mutex
		var still []string
		var wg sync.WaitGroup
		for _, name := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := b.c.Host(name)
				var st struct {
					InSync         bool  `json:"inSync"`
					AppliedRelease int64 `json:"appliedRelease"`
				}
				resp, err := client.Get(fmt.Sprintf("http://%s:%d/status", h.Addr, agentPort))
				if err == nil {
					err = json.NewDecoder(resp.Body).Decode(&st)
					resp.Body.Close()
				}
				if err != nil || !st.InSync || st.AppliedRelease < rel {
					mu.Lock()
					still = append(still, name)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		pending = still
		if len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}
