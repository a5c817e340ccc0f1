// Package testhost runs simulated machines on this computer so that
// nixherd's deploy, status and rollback code can be tested against real
// OpenSSH servers and real, separate Nix stores instead of mocks.
//
// Each host is a shell running as process 1 of its own PID, mount and UTS
// namespaces (unshare --pid --mount --uts --kill-child). Inside, the host's
// own directory is bind-mounted over /nix, /etc/nix, /root and /home, its own
// copies over /etc/hosts (and, with a deploy user, /etc/passwd, group, shadow
// and sudoers), a tmpfs over /run, and the shell supervises an sshd that
// listens on the host's own address: a loopback address 127.77.x.y by
// default, or an address on a veth pair into a network namespace of its own
// (NetNS) when a test must cut the host's network. Debian's nix lives in
// /usr/bin, so it keeps working over the empty private /nix; the host's store
// and database appear on first use.
//
// Clients reach the hosts with the system ssh through a generated ssh_config
// (Cluster.SSHConfig) that names the per-run client key and a known_hosts file
// holding every host key, so StrictHostKeyChecking stays on.
//
// Stopping a host kills the namespace's process 1, and with it the kernel
// kills every process of the host; the private mounts vanish with the mount
// namespace. If the caller dies instead, unshare dies with it (Pdeathsig) and
// --kill-child does the same. Hosts must be started as root.
//
// WriteFixture writes a fleet flake without inputs whose NixOS, nix-darwin
// and home-manager configurations are real derivations built by /bin/sh that
// honour the activation contracts and record each activation on the host.
package testhost

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/atomicfile"
)

// Options says how many hosts to start and how.
type Options struct {
	// Names of the hosts, one per host. When empty, N hosts named
	// host1…hostN are started.
	Names []string
	N     int
	// NetNS puts every host in a network namespace of its own, reached over
	// a veth pair, so that Host.Cut and Host.Restore can take its network
	// away. Otherwise hosts listen on loopback addresses.
	NetNS bool
	// Port is the sshd port of every host (default 22, or 10022 when a
	// server on this machine listens on all addresses' port 22).
	Port int
	// Dir is where the run's files go (keys, known_hosts, ssh_config, one
	// directory per host). Default: a new private temporary directory,
	// removed by Close.
	Dir string
	// LogLevel of the hosts' sshd (default VERBOSE, which logs every
	// accepted key so that handshakes can be counted).
	LogLevel string
	// DeployUser, when set, adds a non-root account of that name to every
	// host — in the host's private /etc/passwd, /etc/shadow and /home, never
	// the real machine's — that logs in with the client key and may run
	// anything with sudo. The hosts then also run a nix-daemon, through
	// which a non-root user reaches the store, as on a real multi-user
	// Nix installation. Needs sudo installed on this machine.
	DeployUser string
	// DeployPassword is the password sudo asks DeployUser for; empty means
	// passwordless sudo (NOPASSWD).
	DeployPassword string
	// TrustedDeployUser adds DeployUser to the hosts' nix trusted-users, so
	// it may copy unsigned store paths. Without it such copies fail with
	// "lacks a signature by a trusted key", as on a real host.
	TrustedDeployUser bool
	// SessionWrapper makes a broken or hostile host: shell code that the
	// hosts' sshd runs for every session instead of the client's command
	// (ForceCommand), which it finds in $SSH_ORIGINAL_COMMAND and runs
	// only if it wants to (exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"). It
	// may print floods or escape sequences first, or answer by itself.
	SessionWrapper string
	// Systemd boots real systemd as every host's process 1, as on NixOS:
	// sshd runs as sshd.service, the system bus answers, systemd-run and
	// systemctl work. The host's root is an overlay over this machine's,
	// so nothing it writes reaches this machine (see systemd.go). Needs
	// Debian's systemd and dbus and a cgroup2 hierarchy. Without it, a
	// shell supervises sshd.
	Systemd bool
}

// Cluster is a set of running test hosts sharing one client key.
type Cluster struct {
	// Dir holds the run's files.
	Dir string
	// Hosts in the order of Options.Names.
	Hosts []*Host
	// IdentityFile is the private key that every host accepts for root.
	IdentityFile string
	// KnownHosts lists every host's key under its address.
	KnownHosts string
	// SSHConfig is an ssh_config file for `ssh -F`: it sets IdentityFile,
	// UserKnownHostsFile, StrictHostKeyChecking=yes and BatchMode, and
	// declares each host name as an alias of its address (and the port).
	SSHConfig string

	removeDir bool
	closeOnce sync.Once
	closeErr  error
}

// New starts the hosts. The caller must Close the cluster on every exit
// path. On error nothing is left running.
func New(opts Options) (c *Cluster, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("test hosts need root (mount and network namespaces)")
	}
	names := opts.Names
	if len(names) == 0 {
		for i := 1; i <= opts.N; i++ {
			names = append(names, fmt.Sprintf("host%d", i))
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no hosts requested")
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !validName(n) {
			return nil, fmt.Errorf("host name %q: use letters, digits, '-' and '_'", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("host name %q given twice", n)
		}
		seen[n] = true
	}
	if opts.Port == 0 {
		// Port 22 unless something (a real sshd) listens on *:22, which
		// would keep every loopback address from binding it.
		opts.Port = 22
		if !opts.NetNS && !portFree(wildcardProbe, 22) {
			opts.Port = 10022
		}
	}
	if opts.DeployUser != "" {
		if !validName(opts.DeployUser) || opts.DeployUser == "root" {
			return nil, fmt.Errorf("deploy user %q: a login name other than root", opts.DeployUser)
		}
		if _, err := os.Stat("/etc/sudoers"); err != nil {
			return nil, errors.New("a deploy user needs sudo installed on this machine (apt-get install sudo)")
		}
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "VERBOSE"
	}
	for _, tool := range []string{"unshare", "nsenter", "ssh", "ssh-keygen", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("test hosts need %s: %w", tool, err)
		}
	}
	if opts.NetNS {
		if _, err := lookSbin("ip"); err != nil {
			return nil, fmt.Errorf("network-namespace hosts need ip (iproute2): %w", err)
		}
	}
	if _, err := lookSbin("sshd"); err != nil {
		return nil, fmt.Errorf("test hosts need sshd (openssh-server): %w", err)
	}
	if opts.Systemd {
		if err := needSystemd(); err != nil {
			return nil, err
		}
	}

	// The hosts' private directories are mounted over these, so they must
	// exist here. /nix is missing on a fresh machine until Nix first runs as
	// root, which makes it the same way.
	for _, dir := range []string{"/nix", "/etc/nix", "/home"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("mount point for the test hosts: %w", err)
		}
	}

	cl := &Cluster{Dir: opts.Dir}
	c = cl
	if c.Dir == "" {
		removeStaleDirs()
		removeStaleCgroups()
		// A systemd host's overlay upper directory is kept off /tmp, as
		// the recipe has it: /tmp is what a wrongly booted systemd wipes.
		base := ""
		if opts.Systemd {
			base = systemdTempDir
		}
		d, err := os.MkdirTemp(base, tempPrefix)
		if err != nil {
			return nil, err
		}
		c.Dir, c.removeDir = d, true
		// Atomically: a concurrent New must never read it half-written
		// and take the directory for a dead one's.
		ns, _ := os.Readlink("/proc/self/ns/pid")
		if err := atomicfile.Write(filepath.Join(d, ownerNSFile), []byte(ns), 0o600); err != nil {
			os.RemoveAll(d)
			return nil, err
		}
		if err := atomicfile.Write(filepath.Join(d, ownerFile), []byte(processID(os.Getpid())), 0o600); err != nil {
			os.RemoveAll(d)
			return nil, err
		}
	} else if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cl.Close() // c is already nil here: `return nil, err` set it
		}
	}()
	if err := os.Chmod(c.Dir, 0o700); err != nil {
		return nil, err
	}
	c.IdentityFile = filepath.Join(c.Dir, "id_ed25519")
	if err := keygen(c.IdentityFile, "nixherd-testhost-client"); err != nil {
		return nil, err
	}
	clientPub, err := os.ReadFile(c.IdentityFile + ".pub")
	if err != nil {
		return nil, err
	}

	// Start the hosts concurrently: each waits for its sshd to listen.
	c.Hosts = make([]*Host, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Hosts[i], errs[i] = startHost(c, name, opts, clientPub)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := c.writeClientFiles(); err != nil {
		return nil, err
	}
	return c, nil
}

// Close stops every host, removes network namespaces and, when New created
// it, the run's directory. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		for _, h := range c.Hosts {
			if h != nil {
				errs = append(errs, h.stop(true))
			}
		}
		if c.removeDir {
			errs = append(errs, os.RemoveAll(c.Dir))
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Host returns the host with the given name, or nil.
func (c *Cluster) Host(name string) *Host {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// SSHArgs are the ssh options that reach the hosts: `-F <SSHConfig>`.
func (c *Cluster) SSHArgs() []string { return []string{"-F", c.SSHConfig} }

// SSHOpts is the value for NIX_SSHOPTS, so that `nix copy --to ssh://…`
// uses the same key and known_hosts.
func (c *Cluster) SSHOpts() string { return "-F " + c.SSHConfig }

// Env is the environment `nix copy` needs to reach the hosts: NIX_SSHOPTS.
// (nixherd itself takes the ssh_config from deploy.nix in library tests,
// see DeployNix, or from `nixherd deploy -F`.)
func (c *Cluster) Env() []string {
	return []string{"NIX_SSHOPTS=" + c.SSHOpts()}
}

// DeployMachine places a fleet machine on a test host in a generated
// deploy.nix.
type DeployMachine struct {
	// Name is the machine (the flake's configuration name).
	Name string
	// Host is the test host's name in the cluster.
	Host string
	// Platform is "nixos", "darwin" or "home" ("" lets nixherd find it).
	Platform string
	Tags     []string
	// BuildOn is "local" or "target" ("" for nixherd's default).
	BuildOn string
	// User logs in to the host (default root), e.g. Options.DeployUser.
	User string
	// Extra is Nix text added inside the machine's attribute set, e.g.
	// `healthChecks = [ { tcp = "…"; } ];`.
	Extra string
}

// DeployNix returns a deploy.nix (the format internal/hosts reads) that
// targets the cluster's hosts as root and gives every machine the cluster's
// ssh_config, so nixherd verifies the hosts' keys with the generated
// known_hosts: for tests that load it with hosts.Load and deploy it with
// internal/deploy. The nixherd commands refuse an ssh config file named in
// deploy.nix (it could turn host key checking off); give them
// CommandDeployNix and -F SSHConfig on their command line.
func (c *Cluster) DeployNix(ms ...DeployMachine) (string, error) { return c.deployNix(true, ms) }

// CommandDeployNix is DeployNix without ssh options: the deploy.nix of a
// fleet that the nixherd commands reach with -F SSHConfig.
func (c *Cluster) CommandDeployNix(ms ...DeployMachine) (string, error) {
	return c.deployNix(false, ms)
}

func (c *Cluster) deployNix(sshConfig bool, ms []DeployMachine) (string, error) {
	var b strings.Builder
	b.WriteString("# Generated by nixherd's testhost: the fleet's machines on test hosts.\n{\n")
	if sshConfig {
		fmt.Fprintf(&b, "  defaults.sshOptions = [ \"-F\" %s ];\n", nixString(c.SSHConfig))
	}
	b.WriteString("  machines = {\n")
	for _, m := range ms {
		h := c.Host(m.Host)
		if h == nil {
			return "", fmt.Errorf("deploy.nix: machine %s: no test host %q", m.Name, m.Host)
		}
		user := m.User
		if user == "" {
			user = "root"
		}
		fmt.Fprintf(&b, "    %s = {\n      target = %s;\n", nixString(m.Name), nixString(h.TargetAs(user)))
		if m.Platform != "" {
			fmt.Fprintf(&b, "      platform = %s;\n", nixString(m.Platform))
		}
		if len(m.Tags) > 0 {
			b.WriteString("      tags = [")
			for _, t := range m.Tags {
				b.WriteString(" " + nixString(t))
			}
			b.WriteString(" ];\n")
		}
		if m.BuildOn != "" {
			fmt.Fprintf(&b, "      buildOn = %s;\n", nixString(m.BuildOn))
		}
		if m.Extra != "" {
			fmt.Fprintf(&b, "      %s\n", strings.TrimSpace(m.Extra))
		}
		b.WriteString("    };\n")
	}
	b.WriteString("  };\n}\n")
	return b.String(), nil
}

const (
	tempPrefix     = "nixherd-testhost-"
	systemdTempDir = "/var/tmp" // where systemd clusters' directories go
	ownerFile      = "owner"    // "PID STARTTIME" of the process that made it
	ownerNSFile    = "owner-ns" // that process's pid namespace
)

// processID identifies a running process across pid reuse: its pid and
// start time.
func processID(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Fields after the command name, which is in parentheses; the start
	// time is field 22 of the line, 20 after the name.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 20 {
		return ""
	}
	return fmt.Sprintf("%d %s", pid, f[19])
}

// removeStaleDirs removes the directories of clusters whose process died
// without closing them (a test binary killed by its timeout): their hosts
// died with it (Pdeathsig), only files are left.
func removeStaleDirs() {
	ownNS, _ := os.Readlink("/proc/self/ns/pid")
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	more, _ := filepath.Glob(filepath.Join(systemdTempDir, tempPrefix+"*"))
	for _, d := range append(dirs, more...) {
		owner, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or being created
		}
		if ns, err := os.ReadFile(filepath.Join(d, ownerNSFile)); err == nil && string(ns) != ownNS {
			continue // written in another pid namespace: its pid means nothing here
		}
		f := strings.Fields(string(owner))
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || processID(pid) != string(owner) {
			os.RemoveAll(d)
		}
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// lookSbin finds a program that may live in /usr/sbin or /sbin, which are not
// on every root PATH.
func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func keygen(path, comment string) error {
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen %s: %v: %s", path, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// writeClientFiles writes known_hosts and ssh_config for all hosts.
func (c *Cluster) writeClientFiles() error {
	var kh, cfg strings.Builder
	for _, h := range c.Hosts {
		fmt.Fprintf(&kh, "%s %s\n", h.knownHostsName(), h.hostKey)
	}
	c.KnownHosts = filepath.Join(c.Dir, "known_hosts")
	if err := atomicfile.Write(c.KnownHosts, []byte(kh.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(&cfg, "# Generated by nixherd's testhost for the test hosts in %s.\n", c.Dir)
	for _, h := range c.Hosts {
		// The address is an alias too, so that the port applies to
		// ssh://root@ADDR store URLs, which cannot carry one on old Nix.
		fmt.Fprintf(&cfg, "Host %s %s\n  HostName %s\n  Port %d\n  User root\n", h.Name, h.Addr, h.Addr, h.Port)
	}
	fmt.Fprintf(&cfg, "Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n  LogLevel ERROR\n",
		c.IdentityFile, c.KnownHosts)
	c.SSHConfig = filepath.Join(c.Dir, "ssh_config")
	return atomicfile.Write(c.SSHConfig, []byte(cfg.String()), 0o644)
}
