package testhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is one simulated machine.
type Host struct {
	// Name is the host's name in the cluster's ssh_config.
	Name string
	// Addr is the IP address its sshd listens on.
	Addr string
	// Port is its sshd port.
	Port int
	// Dir is the host's directory on the real file system. Inside the host
	// it is also visible as /run/testhost; Dir/nix is the host's /nix.
	Dir string

	cluster *Cluster
	hostKey string // "ssh-ed25519 AAAA…"
	lease   *lease
	netns   *netns // nil for loopback hosts
	systemd bool   // systemd is its process 1 (Options.Systemd)
	cgroup  string // a systemd host's cgroup directory, removed by stop
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	pid1    int           // the host's process 1 (the supervising shell), seen from outside
	pidNS   string        // its pid namespace, "pid:[…]"
	mntNS   string        // its mount namespace, "mnt:[…]"
	// pidNSFile holds the pid namespace open so that its number cannot be
	// given to a new namespace before stop has checked it is empty.
	pidNSFile *os.File
}

// initScript runs as process 1 of the host's namespaces. $1 is the host's
// directory, $2 its name (its hostname, in a UTS namespace of its own). It
// builds the host's private view of the file system, then supervises sshd
// like a service manager would: sshd is restarted when it exits, unless
// /run/testhost/sshd-disabled exists (a configuration that "closes the ssh
// port"); /run/testhost/sshd.pid names the running listener and
// /run/testhost/ready marks a test host (the fixture refuses to activate
// anywhere else).
const initScript = `set -eu
dir=$1
hostname "$2"
mount -t tmpfs -o mode=0755 testhost-run /run
mkdir -p /run/sshd /run/testhost
mount --bind "$dir" /run/testhost
mount --bind "$dir/nix" /nix
mount --bind "$dir/etc-nix" /etc/nix
mount --bind "$dir/root" /root
mount --bind "$dir/home" /home
# The host's own copies of /etc files (hosts; passwd, shadow, sudoers with
# a deploy user): the real machine's stay untouched.
for f in "$dir"/etc/*; do
	[ -f "$f" ] && mount --bind "$f" "/etc/${f##*/}"
done
if [ -e /run/testhost/nix-daemon ]; then
	(while :; do nix-daemon >> /run/testhost/nix-daemon.log 2>&1; sleep 0.2; done) &
fi
# Where fixture activations record themselves; open to every user, since
# home-manager activates as its user.
mkdir -p /nix/var/nixherd-fixture
chmod 1777 /nix/var/nixherd-fixture
touch /nix/var/nixherd-fixture/activations.log
chmod 0666 /nix/var/nixherd-fixture/activations.log
: > /run/testhost/ready
set +e
while :; do
	if [ -e /run/testhost/sshd-disabled ]; then sleep 0.1; continue; fi
	"$SSHD" -D -f /run/testhost/sshd_config -E /run/testhost/sshd.log &
	echo $! > /run/testhost/sshd.pid
	wait $!
	rm -f /run/testhost/sshd.pid
	sleep 0.1
done
`

// nixConf is the host's /etc/nix/nix.conf: root uses the store directly
// (other users through the nix-daemon a deploy-user host runs), without a
// sandbox, build users or a binary cache, as this machine's Nix runs.
const nixConf = `# nixherd test host
experimental-features = nix-command flakes
sandbox = false
build-users-group =
substituters =
`

func startHost(c *Cluster, name string, opts Options, clientPub []byte) (h *Host, err error) {
	h = &Host{Name: name, Port: opts.Port, cluster: c, Dir: filepath.Join(c.Dir, "hosts", name), systemd: opts.Systemd}
	defer func() {
		if err != nil {
			err = fmt.Errorf("host %s: %w", name, err)
			h.stop(true)
		}
	}()
	dirs := []string{"nix", "etc-nix", "root", "home", "etc", "tmp"}
	if h.systemd {
		dirs = append(dirs, "root-fs", "upper", "work") // the overlay root
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return h, err
		}
	}
	if err := os.Chmod(filepath.Join(h.Dir, "root"), 0o700); err != nil {
		return h, err
	}
	if err := os.Chmod(filepath.Join(h.Dir, "tmp"), 0o1777); err != nil {
		return h, err
	}
	conf := nixConf
	if opts.DeployUser != "" && opts.TrustedDeployUser {
		conf += "trusted-users = root " + opts.DeployUser + "\n"
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "etc-nix", "nix.conf"), []byte(conf), 0o644); err != nil {
		return h, err
	}
	if err := writeEtc(h.Dir, name, opts); err != nil {
		return h, err
	}
	if err := keygen(filepath.Join(h.Dir, "ssh_host_ed25519_key"), "nixherd-testhost-"+name); err != nil {
		return h, err
	}
	pub, err := os.ReadFile(filepath.Join(h.Dir, "ssh_host_ed25519_key.pub"))
	if err != nil {
		return h, err
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		return h, fmt.Errorf("unreadable host key %q", pub)
	}
	h.hostKey = f[0] + " " + f[1]
	// World-readable: sshd reads it as the user logging in, also the
	// deploy user.
	if err := os.WriteFile(filepath.Join(h.Dir, "authorized_keys"), clientPub, 0o644); err != nil {
		return h, err
	}

	// An address nobody else uses, held for the host's lifetime.
	if opts.NetNS {
		h.lease, err = leaseFree("netns", maxNetNS, func(i int) bool { return netnsFree(i) })
		if err != nil {
			return h, err
		}
		h.netns, err = newNetns(h.lease.index)
		if err != nil {
			return h, err
		}
		h.Addr = h.netns.hostAddr
	} else {
		h.lease, err = leaseFree("lo", maxLoopback, func(i int) bool { return portFree(loopbackAddr(i), h.Port) })
		if err != nil {
			return h, err
		}
		h.Addr = loopbackAddr(h.lease.index)
	}

	sshdConfig := h.sshdConfig(opts.LogLevel)
	if opts.SessionWrapper != "" {
		if err := os.WriteFile(filepath.Join(h.Dir, "session-wrapper"), []byte("#!/bin/sh\n"+opts.SessionWrapper+"\n"), 0o755); err != nil {
			return h, err
		}
		sshdConfig += "ForceCommand /run/testhost/session-wrapper\n"
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "sshd_config"), []byte(sshdConfig), 0o644); err != nil {
		return h, err
	}
	// Where sshd listens, in a file of its own so that a fixture generation
	// can move it (FixtureMachine.SSHPort) and the previous one move it back.
	listen := fmt.Sprintf("ListenAddress %s:%d\n", h.Addr, h.Port)
	for _, f := range []string{"sshd-listen.default", "sshd-listen.conf"} {
		if err := os.WriteFile(filepath.Join(h.Dir, f), []byte(listen), 0o644); err != nil {
			return h, err
		}
	}
	sshd, err := lookSbin("sshd")
	if err != nil {
		return h, err
	}

	args := []string{"unshare", "--mount", "--propagation", "private", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc",
		"/bin/sh", "-c", initScript, "testhost-init", h.Dir, h.Name}
	var cgroup *os.File
	if h.systemd {
		args = h.systemdArgs()
		if h.cgroup, err = newCgroup(name); err != nil {
			return h, err
		}
		if cgroup, err = os.Open(h.cgroup); err != nil {
			return h, err
		}
		defer cgroup.Close()
	}
	if h.netns != nil {
		// nsenter without --fork execs unshare: the recorded pid stays unshare's.
		args = append([]string{"nsenter", "--net=" + h.netns.path()}, args...)
	}
	log, err := os.OpenFile(filepath.Join(h.Dir, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return h, err
	}
	defer log.Close()
	h.cmd = exec.Command(args[0], args[1:]...)
	h.cmd.Env = append(os.Environ(), "SSHD="+sshd, "NIX_DAEMON="+nixDaemon())
	h.cmd.Stdout, h.cmd.Stderr = log, log
	h.cmd.Dir = "/"
	// Own process group: a terminal's ^C goes to the caller, who stops the
	// hosts in order. Pdeathsig: if the caller dies, unshare dies, and
	// --kill-child takes the whole host with it.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cgroup != nil {
		// Born in the host's cgroup (clone3 CLONE_INTO_CGROUP): the cgroup
		// namespace unshare makes is rooted there, and nothing of the host
		// ever runs in this machine's own cgroups.
		h.cmd.SysProcAttr.UseCgroupFD, h.cmd.SysProcAttr.CgroupFD = true, int(cgroup.Fd())
	}
	if err := h.cmd.Start(); err != nil {
		return h, err
	}
	h.exited = make(chan struct{})
	go func() { h.cmd.Wait(); close(h.exited) }()

	if err := h.waitReady(15 * time.Second); err != nil {
		return h, err
	}
	if h.systemd {
		return h, h.waitSystemRunning(15 * time.Second)
	}
	return h, nil
}

func (h *Host) sshdConfig(logLevel string) string {
	return fmt.Sprintf(`# nixherd test host %[1]s (%[2]s:%[3]d)
Include /run/testhost/sshd-listen.conf
HostKey /run/testhost/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile /run/testhost/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
# The host's own temporary directory: /tmp is shared with this machine, and
# programs that sweep stale files there by pid would misjudge pids across
# pid namespaces.
SetEnv TMPDIR=%[5]s
MaxSessions 64
MaxStartups 64:30:128
LogLevel %[4]s
Subsystem sftp /usr/lib/openssh/sftp-server
`, h.Name, h.Addr, h.Port, logLevel, hostTmp)
}

// waitReady waits until the host's sshd accepts TCP connections and notes the
// host's process 1 and namespaces.
func (h *Host) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-h.exited:
			return fmt.Errorf("exited while starting: %s", h.logs())
		default:
		}
		if h.pid1 == 0 {
			h.findPid1()
		}
		if h.pid1 != 0 {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)), time.Second)
			if err == nil {
				conn.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd did not listen on %s:%d within %v: %s", h.Addr, h.Port, timeout, h.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *Host) findPid1() {
	pid := h.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return
	}
	child, _ := strconv.Atoi(f[0])
	pidNS, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", child))
	mntNS, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", child))
	if err1 != nil || err2 != nil {
		return
	}
	nsFile, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", child))
	if err != nil {
		return
	}
	h.pid1, h.pidNS, h.mntNS, h.pidNSFile = child, pidNS, mntNS, nsFile
}

func (h *Host) logs() string {
	var b strings.Builder
	for _, f := range []string{"init.log", "sshd.log"} {
		data, _ := os.ReadFile(filepath.Join(h.Dir, f))
		if s := strings.TrimSpace(string(data)); s != "" {
			fmt.Fprintf(&b, "\n%s:\n%s", f, lastLines(s, 20))
		}
	}
	if j := strings.TrimSpace(h.Journal(context.Background(), 30)); j != "" {
		fmt.Fprintf(&b, "\njournal:\n%s", j)
	}
	if b.Len() == 0 {
		return "(no output)"
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop stops the host before its cluster is closed (to make it
// unreachable); its address stays reserved until Close.
func (h *Host) Stop() error {
	if h.cmd == nil {
		return nil
	}
	return h.stop(false)
}

// stop ends every process of the host, waits until none is left, and
// releases its network namespace and address.
func (h *Host) stop(release bool) error {
	var errs []error
	if h.cmd != nil && h.cmd.Process != nil {
		// SIGKILL to the host's process 1 makes the kernel kill every
		// process in its pid namespace; unshare, its parent, reaps it and
		// exits. Killing unshare too covers a host whose process 1 was not
		// found: --kill-child then forwards the SIGKILL.
		select {
		case <-h.exited: // unshare is gone and the pid may be reused
		default:
			if h.pid1 != 0 {
				syscall.Kill(h.pid1, syscall.SIGKILL)
			}
		}
		if h.pid1 != 0 {
			select {
			case <-h.exited:
			case <-time.After(5 * time.Second):
			}
		}
		h.cmd.Process.Kill()
		<-h.exited
		if h.pidNS != "" {
			if err := waitNamespaceEmpty(h.pidNS, 10*time.Second); err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
			}
		}
		h.cmd = nil
	}
	if err := removeCgroup(h.cgroup, 10*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
	} else {
		h.cgroup = ""
	}
	if h.pidNSFile != nil {
		h.pidNSFile.Close()
		h.pidNSFile = nil
	}
	if !release {
		return errors.Join(errs...)
	}
	if h.netns != nil {
		errs = append(errs, h.netns.remove())
		h.netns = nil
	}
	if h.lease != nil {
		h.lease.release()
		h.lease = nil
	}
	return errors.Join(errs...)
}

// Processes returns the pids (as seen from outside) of the processes that
// run in the host's pid namespace.
func (h *Host) Processes() []int { return processesIn("pid", h.pidNS) }

// Namespaces returns the host's pid and mount namespace identifiers, as in
// /proc/PID/ns ("pid:[…]", "mnt:[…]").
func (h *Host) Namespaces() (pid, mnt string) { return h.pidNS, h.mntNS }

// processesIn lists the processes whose namespace of the given kind is ns.
func processesIn(kind, ns string) []int {
	if ns == "" {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil && l == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ProcessesInNamespace lists the processes whose namespace of the given kind
// ("pid", "mnt", "net") is ns; tests use it to check that nothing is left.
func ProcessesInNamespace(kind, ns string) []int { return processesIn(kind, ns) }

func waitNamespaceEmpty(ns string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := processesIn("pid", ns)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still run in %s", left, ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *Host) knownHostsName() string {
	if h.Port == 22 {
		return h.Addr
	}
	return fmt.Sprintf("[%s]:%d", h.Addr, h.Port)
}

// Target is the host as nixherd's deploy.nix writes it: root@ADDR[:PORT].
func (h *Host) Target() string { return h.TargetAs("root") }

// TargetAs is the host as user@ADDR[:PORT], e.g. for Options.DeployUser.
func (h *Host) TargetAs(user string) string {
	if h.Port == 22 {
		return user + "@" + h.Addr
	}
	return fmt.Sprintf("%s@%s:%d", user, h.Addr, h.Port)
}

// StoreURL is the host's store for `nix copy --to`, with the cluster's
// NIX_SSHOPTS (Cluster.Env), whose ssh_config supplies the port.
func (h *Host) StoreURL() string { return "ssh://root@" + h.Addr }

// SSH returns an ssh command that runs script on the host as root, through
// the cluster's ssh_config (so with host key checking).
func (h *Host) SSH(ctx context.Context, script string) *exec.Cmd {
	return h.SSHAs(ctx, "root", script)
}

// SSHAs is SSH logging in as user (e.g. Options.DeployUser).
func (h *Host) SSHAs(ctx context.Context, user, script string) *exec.Cmd {
	return exec.CommandContext(ctx, "ssh", "-F", h.cluster.SSHConfig, "-l", user, h.Addr, "--", script)
}

// Run runs script on the host over ssh and returns its standard output. The
// error includes standard error.
func (h *Host) Run(ctx context.Context, script string) (string, error) {
	cmd := h.SSH(ctx, script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s %q: %v: %s", h.Name, script, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// hostTmp is the host's TMPDIR, as seen inside the host.
const hostTmp = "/run/testhost/tmp"

// Command returns a command that runs inside the host's namespaces without
// ssh, as a local process of the host would (for `nixherd switch` tests).
// Its environment is this process's with TMPDIR set to the host's own; keep
// that when changing cmd.Env.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	ns := []string{"--target", strconv.Itoa(h.pid1), "--mount", "--pid"}
	if h.netns != nil {
		ns = append(ns, "--net")
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(append(ns, "--"), append([]string{name}, args...)...)...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "TMPDIR="+hostTmp)
	return cmd
}

// SSHDLog returns the host's sshd log.
func (h *Host) SSHDLog() string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "sshd.log"))
	return string(b)
}

// Logins counts the public-key logins the host's sshd accepted (one per SSH
// handshake; multiplexed sessions over a master connection do not count).
func (h *Host) Logins() int { return strings.Count(h.SSHDLog(), "Accepted publickey for ") }
