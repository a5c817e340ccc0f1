package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/spf13/cobra"
)

// demoNixConfig lets nix run as root without a daemon, a sandbox or a
// binary cache, which is all the demo fleet needs.
const demoNixConfig = "experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ="

// demoHosts are the seed fleet's machines, each on a test host of its own.
var demoHosts = []struct {
	name     string
	platform platform.Platform
	tags     []string
}{
	{"devmac", platform.Darwin, []string{"mac", "dev"}},
	{"devnix", platform.NixOS, []string{"vm", "linux", "dev"}},
	{"ephem", platform.NixOS, []string{"vm", "linux"}},
}

func init() {
	register(func() *cobra.Command {
		var keep, noInstall bool
		cmd := &cobra.Command{
			Use:   "demo",
			Short: "Deploy a small fleet to three simulated hosts on this machine",
			Long: `Demo shows nixherd's main job without touching a real machine. It starts
three test hosts named devmac, devnix and ephem on this computer (each a
private mount and pid namespace with its own OpenSSH server on a loopback
address and its own /nix store), writes a fleet whose configurations are
real Nix derivations that need no nixpkgs and no network, deploys it to the
three hosts in parallel and prints nixherd status. Then it changes one
machine's configuration and shows what nixherd makes of the change: status
(out of sync), diff, deploy, generations, rollback, status again. It removes
everything at the end, also on Ctrl-C.

It must run as root on Linux (it creates namespaces). On Debian it installs
nix-bin and openssh-server with apt-get when they are missing.`,
			Example: `  sudo go run ./cmd/nixherd demo
  sudo nixherd demo --keep    # leave the hosts running until Ctrl-C`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runDemo(cmd, keep, !noInstall)
			},
		}
		cmd.Flags().BoolVar(&keep, "keep", false, "keep the hosts running at the end until Ctrl-C, to try other commands on them")
		cmd.Flags().BoolVar(&noInstall, "no-install", false, "do not apt-get install missing tools; fail instead")
		return cmd
	})
}

func runDemo(cmd *cobra.Command, keep, install bool) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if os.Geteuid() != 0 {
		return exitCode(1, errors.New("demo starts test hosts in Linux namespaces: run it as root (sudo)"))
	}
	if err := demoTools(errw, install); err != nil {
		return exitCode(1, err)
	}
	if os.Getenv("NIX_CONFIG") == "" {
		os.Setenv("NIX_CONFIG", demoNixConfig)
	}
	// ^C and SIGTERM end the demo through the deferred cleanup below.
	ctx := cmd.Context()

	step(out, "starting three test hosts")
	names := make([]string, len(demoHosts))
	for i, h := range demoHosts {
		names[i] = h.name
	}
	cluster, err := testhost.New(testhost.Options{Names: names})
	if err != nil {
		return exitCode(1, err)
	}
	defer func() {
		step(out, "stopping the test hosts and removing their files")
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(errw, "nixherd: demo cleanup:", err)
		}
	}()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  HOST\tADDRESS\tSTORE (its /nix)")
	for _, h := range cluster.Hosts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Name, h.Target(), filepath.Join(h.Dir, "nix"))
	}
	tw.Flush()

	dir, err := os.MkdirTemp("", "nixherd-demo-")
	if err != nil {
		return exitCode(1, err)
	}
	defer os.RemoveAll(dir)
	fleet := filepath.Join(dir, "fleet")
	if err := writeDemoFleet(cluster, fleet, nil); err != nil {
		return exitCode(1, err)
	}
	step(out, "the fleet (flake.nix without nixpkgs, deploy.nix) is in "+fleet)

	// Each step shows a nixherd command as typed; the demo goes on when one
	// reports something (status: out of sync), and fails when one fails.
	failed := false
	run := func(args ...string) {
		if ctx.Err() != nil {
			return
		}
		step(out, "nixherd "+strings.Join(args, " "))
		err := runSubcommand(ctx, out, errw, append(args, "--flake", fleet, "-F", cluster.SSHConfig)...)
		var ee *exitError
		if err != nil && !(errors.As(err, &ee) && ee.code == exitReported && args[0] == "status") {
			failed = true
			reportSubcommand(errw, err)
		}
	}
	run("deploy", "--all")
	run("status")

	// A change to one machine, so that diff, generations and rollback have
	// something to show: devnix's configuration gets a bigger payload.
	change := map[string]testhost.FixtureMachine{"devnix": {Generation: "2", PayloadBytes: 3 << 20}}
	if ctx.Err() == nil {
		step(out, "a change to the fleet: devnix's configuration becomes generation 2 of the fixture (3 MiB of payload instead of 1)")
		if err := writeDemoFleet(cluster, fleet, change); err != nil {
			return exitCode(1, err)
		}
	}
	run("status")
	run("diff", "devnix")
	run("deploy", "devnix")
	run("generations", "devnix")
	run("rollback", "devnix")
	run("status")
	if ctx.Err() != nil {
		return exitCode(130, errors.New("interrupted"))
	}
	if keep {
		step(out, "the hosts keep running until Ctrl-C; try, in another shell:")
		fmt.Fprintf(out, "  ssh -F %s devnix readlink /run/current-system\n", cluster.SSHConfig)
		fmt.Fprintf(out, "  nixherd status --flake %s -F %s\n", fleet, cluster.SSHConfig)
		fmt.Fprintf(out, "  nixherd diff devnix --flake %s -F %s            # devnix runs generation 1 again\n", fleet, cluster.SSHConfig)
		fmt.Fprintf(out, "  nixherd rollback devnix --to 2 --flake %s -F %s # forward to generation 2\n", fleet, cluster.SSHConfig)
		fmt.Fprintf(out, "  nixherd deploy @vm --action test --flake %s -F %s\n", fleet, cluster.SSHConfig)
		<-ctx.Done()
	}
	if failed {
		return exitCode(1, nil)
	}
	return nil
}

// writeDemoFleet writes the fixture fleet and its deploy.nix for the
// cluster's hosts. Each machine is generation 1 with 1 MiB of payload (so
// the copy shows) unless changed gives it another generation and payload.
func writeDemoFleet(c *testhost.Cluster, dir string, changed map[string]testhost.FixtureMachine) error {
	var ms []testhost.FixtureMachine
	var dms []testhost.DeployMachine
	for _, h := range demoHosts {
		m := testhost.FixtureMachine{Name: h.name, Platform: h.platform, Generation: "1", PayloadBytes: 1 << 20}
		if c, ok := changed[h.name]; ok {
			m.Generation, m.PayloadBytes = c.Generation, c.PayloadBytes
		}
		ms = append(ms, m)
		dms = append(dms, testhost.DeployMachine{Name: h.name, Host: h.name, Platform: string(h.platform), Tags: h.tags})
	}
	deployNix, err := c.CommandDeployNix(dms...)
	if err != nil {
		return err
	}
	return testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": deployNix}})
}

// demoTools makes sure nix and sshd are there, installing Debian's
// packages when allowed.
func demoTools(errw io.Writer, install bool) error {
	var pkgs []string
	if _, err := exec.LookPath("nix"); err != nil {
		pkgs = append(pkgs, "nix-bin")
	}
	if !haveProgram("sshd") {
		pkgs = append(pkgs, "openssh-server")
	}
	if len(pkgs) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil || !install {
		return fmt.Errorf("demo needs %v; install them (Debian: apt-get install %v)", pkgs, pkgs)
	}
	fmt.Fprintf(errw, "==> installing %v with apt-get\n", pkgs)
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq"}, pkgs...)} {
		c := exec.Command("apt-get", args...)
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		c.Stdout, c.Stderr = errw, errw
		if err := c.Run(); err != nil {
			return fmt.Errorf("apt-get %v: %w", args, err)
		}
	}
	return nil
}

func haveProgram(name string) bool {
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// runSubcommand runs another nixherd command in this process, as if typed.
func runSubcommand(ctx context.Context, out, errw io.Writer, args ...string) error {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errw)
	return root.ExecuteContext(ctx)
}

func reportSubcommand(errw io.Writer, err error) {
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return // the command printed its reason
	}
	fmt.Fprintln(errw, "nixherd:", err)
}

func step(w io.Writer, msg string) { fmt.Fprintln(w, "==> "+msg) }
