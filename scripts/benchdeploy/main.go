// Command benchdeploy measures `nixherd deploy` on simulated hosts (see
// internal/testhost) and prints one `bench: name=value` line per figure.
// scripts/bench-deploy.sh builds nixherd and runs it; it must run as root.
//
// Every figure is a ratio against a baseline measured in the same run, or a
// count, so that it means the same on a slow or a fast machine:
//
//	fanout                   deploy of a changed closure to N hosts ÷ to 1 host
//	overhead                 nixherd deploy to N hosts ÷ the same work by hand:
//	                         nix build, then per host in parallel nix copy and
//	                         ssh nix-env --set && switch-to-configuration
//	overhead_no_rollback     the same with nixherd deploy --no-rollback (no
//	                         watchdog, test activation, confirmation)
//	noop_s                   seconds for a redeploy of N hosts with nothing changed
//	noop_vs_ssh_true         that ÷ one `ssh HOST true` per host, all at once
//	evals                    nix processes that evaluated the fleet during one
//	                         deploy of N hosts (counted by wrappers around nix)
//	ssh_handshakes_per_host  SSH logins the hosts' sshd logged for one deploy
//
// overhead, noop_s and their baselines are medians of three interleaved runs.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testhost"
)

func main() {
	nixherd := flag.String("nixherd", "", "the nixherd binary to measure")
	n := flag.Int("hosts", 16, "number of hosts")
	payload := flag.Int("payload", 4<<20, "bytes of changed payload in each closure")
	flag.Parse()
	if err := run(*nixherd, *n, *payload); err != nil {
		fmt.Fprintln(os.Stderr, "benchdeploy:", err)
		os.Exit(1)
	}
}

type bench struct {
	nixherd string
	c       *testhost.Cluster
	dir     string // the fleet
	names   []string
	payload int
	nixLog  string // where the nix wrappers log their argv
	env     []string
	// phases are the per-phase seconds of the last deploy's machines.
	phases []map[string]float64
}

func run(nixherd string, n, payload int) error {
	if nixherd == "" {
		return fmt.Errorf("-nixherd is required")
	}
	work, err := os.MkdirTemp("", "nixherd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{nixherd: nixherd, dir: filepath.Join(work, "fleet"), payload: payload, nixLog: filepath.Join(work, "nix.log")}
	for i := 1; i <= n; i++ {
		b.names = append(b.names, fmt.Sprintf("h%02d", i))
	}
	if b.env, err = nixWrappers(filepath.Join(work, "bin"), b.nixLog); err != nil {
		return err
	}
	if b.c, err = testhost.New(testhost.Options{Names: b.names}); err != nil {
		return err
	}
	defer b.c.Close()

	// Every host gets generation 0 first, so later runs copy only what a
	// configuration change brings (the toplevel and its payload).
	if _, err := b.deploy("0", b.names...); err != nil {
		return err
	}

	one, err := b.deploy("1", b.names[0])
	if err != nil {
		return err
	}
	logins := b.logins()
	evalsBefore := b.evals()
	all, err := b.deploy("2", b.names...)
	if err != nil {
		return err
	}
	evals := b.evals() - evalsBefore
	handshakes := float64(b.logins()-logins) / float64(n)

	// The ratios of short runs on a busy 2-core machine wander: each figure
	// is the median of three rounds, the by-hand baseline and nixherd
	// interleaved, each round a new generation of every machine.
	var raws, nhs, plains []time.Duration
	var guardedPhases, plainPhases string
	last := ""
	for i := range 3 {
		d, err := b.byHand(fmt.Sprintf("3.%d", i))
		if err != nil {
			return err
		}
		raws = append(raws, d)
		if d, err = b.deploy(fmt.Sprintf("4.%d", i), b.names...); err != nil {
			return err
		}
		nhs = append(nhs, d)
		guardedPhases = medians(b.phases)
		last = fmt.Sprintf("5.%d", i)
		if d, err = b.deploy(last, append([]string{"--no-rollback"}, b.names...)...); err != nil {
			return err
		}
		plains = append(plains, d)
		plainPhases = medians(b.phases)
	}
	raw, nh, nhPlain := median(raws), median(nhs), median(plains)

	// The no-op and its baseline are short: the median of three of each,
	// interleaved, so one slow moment of the machine weighs on neither.
	var noops, trues []time.Duration
	var noopPhases string
	for range 3 {
		d, err := b.deploy(last, b.names...)
		if err != nil {
			return err
		}
		noops = append(noops, d)
		noopPhases = medians(b.phases)
		if d, err = b.sshTrue(); err != nil {
			return err
		}
		trues = append(trues, d)
	}
	noop, sshTrue := median(noops), median(trues)
	planOnly, err := b.deploy(last, append([]string{"--action=build"}, b.names...)...)
	if err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "# %d hosts, %d KiB changed per closure: 1 host %.2fs, %d hosts %.2fs; by hand %.2fs, nixherd %.2fs, with --no-rollback %.2fs; no-op %.2fs (evaluation and build alone %.2fs); ssh true to every host %.2fs\n",
		n, payload>>10, one.Seconds(), n, all.Seconds(), raw.Seconds(), nh.Seconds(), nhPlain.Seconds(), noop.Seconds(), planOnly.Seconds(), sshTrue.Seconds())
	fmt.Fprintf(os.Stderr, "# phases of one host, median of %d (guarded): %s\n", n, guardedPhases)
	fmt.Fprintf(os.Stderr, "# phases of one host, median of %d (--no-rollback): %s\n", n, plainPhases)
	fmt.Fprintf(os.Stderr, "# phases of one host, median of %d (no-op): %s\n", n, noopPhases)
	fmt.Printf("bench: fanout=%.2f\n", all.Seconds()/one.Seconds())
	fmt.Printf("bench: overhead=%.2f\n", nh.Seconds()/raw.Seconds())
	fmt.Printf("bench: overhead_no_rollback=%.2f\n", nhPlain.Seconds()/raw.Seconds())
	fmt.Printf("bench: noop_s=%.2f\n", noop.Seconds())
	fmt.Printf("bench: noop_vs_ssh_true=%.2f\n", noop.Seconds()/sshTrue.Seconds())
	fmt.Printf("bench: evals=%d\n", evals)
	fmt.Printf("bench: ssh_handshakes_per_host=%.2f\n", handshakes)
	return nil
}

// writeFleet writes generation gen of every machine.
func (b *bench) writeFleet(gen string) error {
	var ms []testhost.FixtureMachine
	var dms []testhost.DeployMachine
	for _, name := range b.names {
		ms = append(ms, testhost.FixtureMachine{Name: name, Platform: platform.NixOS, Generation: gen, PayloadBytes: b.payload})
		dms = append(dms, testhost.DeployMachine{Name: name, Host: name, Platform: "nixos"})
	}
	dn, err := b.c.CommandDeployNix(dms...)
	if err != nil {
		return err
	}
	return testhost.WriteFixture(b.dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": dn}})
}

// deploy writes generation gen and times `nixherd deploy` of the machines;
// arguments starting with "-" are passed as flags.
func (b *bench) deploy(gen string, args ...string) (time.Duration, error) {
	if err := b.writeFleet(gen); err != nil {
		return 0, err
	}
	var flags, machines []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			machines = append(machines, a)
		}
	}
	args = append(append([]string{"deploy", "--flake", b.dir, "-F", b.c.SSHConfig, "--json", "--parallel", fmt.Sprint(len(b.names))}, flags...), strings.Join(machines, ","))
	cmd := exec.Command(b.nixherd, args...)
	cmd.Env = append(os.Environ(), b.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("nixherd deploy (generation %s): %v\n%s%s", gen, err, stdout.String(), stderr.String())
	}
	var sum struct {
		OK       bool `json:"ok"`
		Machines []struct {
			Machine, Outcome, Path string
			Phases                 map[string]float64
		} `json:"machines"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil || !sum.OK || len(sum.Machines) != len(machines) {
		return 0, fmt.Errorf("nixherd deploy (generation %s) did not deploy every host: %v\n%s", gen, err, stdout.String())
	}
	b.phases = b.phases[:0]
	for _, h := range sum.Machines {
		b.phases = append(b.phases, h.Phases)
		if got := b.c.Host(h.Machine).CurrentSystem(); got != h.Path {
			return 0, fmt.Errorf("%s runs %s after the deploy, want %s", h.Machine, got, h.Path)
		}
	}
	return d, nil
}

// byHand does what nixherd deploy does with the raw commands a person would
// run: one nix build of every toplevel, then for every host in parallel nix
// copy and one ssh that sets the profile and switches.
func (b *bench) byHand(gen string) (time.Duration, error) {
	if err := b.writeFleet(gen); err != nil {
		return 0, err
	}
	start := time.Now()
	args := []string{"build", "--json", "--no-link"}
	for _, name := range b.names {
		args = append(args, fmt.Sprintf("path:%s#nixosConfigurations.%s.config.system.build.toplevel", b.dir, name))
	}
	out, err := exec.Command("nix", args...).Output()
	if err != nil {
		return 0, fmt.Errorf("nix build: %v", err)
	}
	var built []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &built); err != nil || len(built) != len(b.names) {
		return 0, fmt.Errorf("nix build output: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(b.names))
	for i, name := range b.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, path := b.c.Host(name), built[i].Outputs["out"]
			cp := exec.Command("nix", "copy", "--no-check-sigs", "--to", h.StoreURL(), path)
			cp.Env = append(os.Environ(), b.c.Env()...)
			if out, err := cp.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("nix copy to %s: %v: %s", name, err, out)
				return
			}
			sw := exec.Command("ssh", "-F", b.c.SSHConfig, h.Target(),
				"nix-env -p /nix/var/nix/profiles/system --set "+path+" && "+path+"/bin/switch-to-configuration switch")
			if out, err := sw.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("switch on %s: %v: %s", name, err, out)
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return d, nil
}

// medians writes the median time of each phase over the machines, in the
// order the pipeline goes through them.
func medians(ms []map[string]float64) string {
	order := []string{"connect", "lock", "copy", "realise", "guard", "profile", "activate", "health", "confirm", "rollback"}
	var out []string
	for _, p := range order {
		var xs []float64
		for _, m := range ms {
			if v, ok := m[p]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) == 0 {
			continue
		}
		sort.Float64s(xs)
		out = append(out, fmt.Sprintf("%s %.3fs", p, xs[len(xs)/2]))
	}
	return strings.Join(out, ", ")
}

// median is the middle of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// sshTrue times one `ssh HOST true` per host, all at once: a new login to
// every host, the least any push tool must do to learn anything.
func (b *bench) sshTrue() (time.Duration, error) {
	start := time.Now()
	errs := make([]error, len(b.names))
	var wg sync.WaitGroup
	for i, name := range b.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := exec.Command("ssh", "-F", b.c.SSHConfig, b.c.Host(name).Target(), "true").CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("ssh %s true: %v: %s", name, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func (b *bench) logins() int {
	total := 0
	for _, h := range b.c.Hosts {
		total += h.Logins()
	}
	return total
}

// evals counts the logged nix processes that evaluated the fleet: nix eval,
// nix-instantiate and nix build of a flake attribute that name the fleet.
// (Reading deploy.nix is not an evaluation of the fleet's flake.)
func (b *bench) evals() int {
	data, _ := os.ReadFile(b.nixLog)
	count := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "deploy.nix") {
			continue
		}
		evaluates := f[0] == "nix-instantiate" || f[0] == "nix" && (contains(f, "eval") || contains(f, "build") && strings.Contains(line, "#"))
		if evaluates && strings.Contains(line, b.dir) {
			count++
		}
	}
	return count
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// nixWrappers puts logging wrappers for the nix programs first on PATH:
// each appends its name and arguments to log and execs the real program.
func nixWrappers(dir, log string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, prog := range []string{"nix", "nix-store", "nix-env", "nix-instantiate", "nix-build", "nix-copy-closure"} {
		real, err := exec.LookPath(prog)
		if err != nil {
			continue
		}
		// One line per call, even when an argument (nix eval --expr) has
		// newlines; a single short append, so concurrent calls do not mix.
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"%s $(printf '%%s ' \"$@\" | tr '\\n' ' ')\" >> %s\nexec %s \"$@\"\n", prog, log, real)
		if err := os.WriteFile(filepath.Join(dir, prog), []byte(script), 0o755); err != nil {
			return nil, err
		}
	}
	return []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")}, nil
}
