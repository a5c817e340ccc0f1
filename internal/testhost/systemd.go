package testhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A systemd host (Options.Systemd) runs Debian's real systemd as process 1
// of its namespaces, so that what NixOS hosts do with systemd — transient
// units and scopes (systemd-run), systemctl restart sshd.service, the
// system bus — is tested against the real thing. It follows the recipe in
// the team's contracts (§9), whose hazard is that systemd booted on this
// machine's own root starts every enabled unit and wipes the real /tmp. So
// systemd is exec'ed only once all of this is in place (the init script
// checks the file systems and the probe right before the exec):
//   - the root is an overlay (lower: this machine's /, upper: the host's
//     directory), so that every write lands in the host's upper directory;
//     /run, /tmp and /dev/shm are tmpfs of their own, /nix, /etc/nix, /root
//     and /home the host's directories as on the other hosts;
//   - it boots testhost.target, a target with DefaultDependencies=no that
//     wants only sshd.service (named as on NixOS), dbus.socket and, with a
//     deploy user, nix-daemon.service; every unit that any target of this
//     machine wants is masked (journald and the bus excepted), every
//     generator too, so nothing this machine has enabled starts;
//   - Debian's ssh units are kept out: the /etc/systemd/system/sshd.service
//     alias is removed inside the overlay, ssh.service and ssh.socket masked;
//   - own cgroups: the host is started in a cgroup of its own in this
//     machine's cgroup2 hierarchy, in a cgroup namespace of its own, with a
//     fresh cgroup2 mount; /sys is a fresh read-only sysfs;
//   - own /dev: a tmpfs with null, zero, full, random, urandom and tty bound
//     from this machine, a new devpts instance and /dev/null over
//     /dev/console, so that nothing reaches this machine's console or kmsg;
//   - a volatile journal (journalctl -D /run/log/journal inside);
//   - a probe written into the overlay's /tmp and /var/tmp before the boot
//     must not appear in this machine's.
//
// Stopping such a host SIGKILLs its process 1, which ends every process of
// its pid namespace, and removes its cgroup.

// systemdInitScript prepares the overlay root and execs systemd. $1 is the
// host's directory, $2 its name; SSHD and NIX_DAEMON name the programs.
const systemdInitScript = `set -eu
dir=$1 name=$2
root=$dir/root-fs
hostname "$name"
mount -t overlay testhost-root -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$root"

# Kernel file systems of its own, read-only where they reach this machine.
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid testhost-dev "$root/dev"
for n in null zero full random urandom tty; do
	: >"$root/dev/$n"
	mount --bind "/dev/$n" "$root/dev/$n"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev testhost-shm "$root/dev/shm"
: >"$root/dev/console"
mount --bind /dev/null "$root/dev/console"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev testhost-run "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev testhost-tmp "$root/tmp"

# The host's own directories and files, as on the other test hosts.
mkdir -p "$root/run/testhost" "$root/run/sshd"
mount --bind "$dir" "$root/run/testhost"
mount --bind "$dir/nix" "$root/nix"
mount --bind "$dir/etc-nix" "$root/etc/nix"
mount --bind "$dir/root" "$root/root"
mount --bind "$dir/home" "$root/home"
for f in "$dir"/etc/*; do
	[ -f "$f" ] && mount --bind "$f" "$root/etc/${f##*/}"
done
printf '%s\n' "$name" >"$root/etc/hostname"
tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
mkdir -p "$root/nix/var/nixherd-fixture"
chmod 1777 "$root/nix/var/nixherd-fixture"
touch "$root/nix/var/nixherd-fixture/activations.log"
chmod 0666 "$root/nix/var/nixherd-fixture/activations.log"

# The units: the host's own in /run, which wins over /lib; /etc wins over
# /run, so what /etc defines for these names goes (inside the overlay).
units=$root/run/systemd/system
mkdir -p "$units" "$root/run/systemd/system-generators" "$root/run/systemd/journald.conf.d"
wants="sshd.service dbus.socket"
cat >"$units/sshd.service" <<EOF
[Unit]
Description=SSH Daemon (nixherd test host $name)
DefaultDependencies=no

[Service]
ExecStart=$SSHD -D -f /run/testhost/sshd_config -E /run/testhost/sshd.log -o PidFile=/run/testhost/sshd.pid
ExecStopPost=/bin/rm -f /run/testhost/sshd.pid
KillMode=process
Restart=always
EOF
if [ -e "$dir/nix-daemon" ]; then
	wants="$wants nix-daemon.service"
	cat >"$units/nix-daemon.service" <<EOF
[Unit]
Description=Nix Daemon (nixherd test host $name)
DefaultDependencies=no

[Service]
ExecStart=$NIX_DAEMON
StandardOutput=append:/run/testhost/nix-daemon.log
StandardError=inherit
Restart=always
EOF
fi
cat >"$units/testhost.target" <<EOF
[Unit]
Description=nixherd test host $name
DefaultDependencies=no
Wants=$wants
EOF
ln -s testhost.target "$units/default.target"
for u in sshd.service nix-daemon.service testhost.target default.target; do
	rm -f "$root/etc/systemd/system/$u"
done
# Nothing this machine enables starts: mask every unit a target wants here
# (transient units pull in sysinit.target and basic.target, and with them
# the machine's timers, sockets and mounts), and every generator (fstab,
# getty, sysv scripts, …). Kept: the journal and the system bus.
keep=" dbus.socket dbus.service systemd-journald.service systemd-journald.socket systemd-journald-dev-log.socket "
for w in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/* \
	/lib/systemd/system/*.wants/* /lib/systemd/system/*.requires/* \
	/usr/lib/systemd/system/*.wants/* /usr/lib/systemd/system/*.requires/* \
	ssh.service ssh.socket; do
	u=${w##*/}
	case $u in '*') continue ;; esac
	case $keep in *" $u "*) continue ;; esac
	[ -e "$units/$u" ] || [ -L "$units/$u" ] || ln -s /dev/null "$units/$u"
done
for g in /lib/systemd/system-generators/* /usr/lib/systemd/system-generators/*; do
	[ -e "$g" ] && ln -sfn /dev/null "$root/run/systemd/system-generators/${g##*/}"
done
printf '[Journal]\nStorage=volatile\n' >"$root/run/systemd/journald.conf.d/testhost.conf"

# The probe: what the host writes to /tmp and /var/tmp must not reach this
# machine's.
probe=nixherd-testhost-probe-$name-$$
for d in /tmp /var/tmp; do
	echo probe >"$root$d/$probe"
	if [ -e "$d/$probe" ]; then
		rm -f "$root$d/$probe"
		echo "testhost: the host's $d is this machine's; not booting systemd" >&2
		exit 1
	fi
	rm -f "$root$d/$probe"
done

mkdir "$root/.testhost-old-root"
cd "$root"
pivot_root . .testhost-old-root
cd /
umount -l /.testhost-old-root
rmdir /.testhost-old-root

# Last checks before the exec: systemd must see only the host.
for want in /:overlay /run:tmpfs /tmp:tmpfs /dev:tmpfs /sys/fs/cgroup:cgroup2fs; do
	got=$(stat -f -c %T "${want%%:*}")
	case $got in "${want#*:}"*) ;; *)
		echo "testhost: ${want%%:*} is $got, not ${want#*:}; not booting systemd" >&2
		exit 1 ;;
	esac
done
: >/run/testhost/ready
exec env -i container=nspawn PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	/lib/systemd/systemd --system --unit=testhost.target
`

// systemdTools are what a systemd host needs on this machine.
var systemdTools = []string{"/lib/systemd/systemd", "systemctl", "systemd-run", "dbus-daemon", "journalctl", "pivot_root", "stat"}

func needSystemd() error {
	for _, tool := range systemdTools {
		if strings.HasPrefix(tool, "/") {
			if _, err := os.Stat(tool); err != nil {
				return fmt.Errorf("systemd test hosts need %s (apt-get install systemd): %w", tool, err)
			}
			continue
		}
		if _, err := lookSbin(tool); err != nil {
			return fmt.Errorf("systemd test hosts need %s (apt-get install systemd dbus): %w", tool, err)
		}
	}
	if _, err := cgroup2Root(); err != nil {
		return err
	}
	return nil
}

// cgroup2Root is where this machine's cgroup2 hierarchy is mounted:
// /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout.
func cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
		before, after, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, fsFields := strings.Fields(before), strings.Fields(after)
		if len(fields) >= 5 && len(fsFields) >= 1 && fsFields[0] == "cgroup2" && fields[3] == "/" {
			return fields[4], nil
		}
	}
	return "", errors.New("systemd test hosts need a cgroup2 hierarchy (none is mounted)")
}

// cgroupPrefix starts the name of every host's cgroup, followed by
// OWNERNS-PID-STARTTIME of the process that made it, a random part and the
// host's name.
const cgroupPrefix = "nixherd-testhost-"

// newCgroup makes the host's cgroup directory.
func newCgroup(host string) (string, error) {
	root, err := cgroup2Root()
	if err != nil {
		return "", err
	}
	ns, err := pidNSInode()
	if err != nil {
		return "", err
	}
	owner := strings.ReplaceAll(processID(os.Getpid()), " ", "-")
	r := make([]byte, 4)
	rand.Read(r)
	dir := filepath.Join(root, fmt.Sprintf("%s%s-%s-%s-%s", cgroupPrefix, ns, owner, hex.EncodeToString(r), host))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("cgroup for the host: %w", err)
	}
	return dir, nil
}

func pidNSInode() (string, error) {
	l, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimPrefix(l, "pid:["), "]"), nil
}

// removeCgroup kills whatever is left in the cgroup and removes it with the
// cgroups systemd made inside, deepest first.
func removeCgroup(dir string, timeout time.Duration) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644)
	deadline := time.Now().Add(timeout)
	for {
		var dirs []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // children before parents
		var last error
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				last = err
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("removing the host's cgroup: %w", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeStaleCgroups removes the cgroups of hosts whose process died
// without stopping them (a test binary killed by its timeout). Their hosts
// died with it (Pdeathsig); what is left, if anything, is killed.
func removeStaleCgroups() {
	root, err := cgroup2Root()
	if err != nil {
		return
	}
	ownNS, err := pidNSInode()
	if err != nil {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(root, cgroupPrefix+"*"))
	for _, d := range dirs {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(d), cgroupPrefix), "-", 4)
		if len(f) != 4 || f[0] != ownNS {
			continue // another pid namespace's: its pids mean nothing here
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		if processID(pid) != f[1]+" "+f[2] {
			removeCgroup(d, 5*time.Second)
		}
	}
}

// Systemd reports whether the host runs systemd as its process 1.
func (h *Host) Systemd() bool { return h.systemd }

// Cgroup is the directory of a systemd host's cgroup on this machine (the
// root of the cgroup tree its systemd manages), "" for other hosts.
func (h *Host) Cgroup() string { return h.cgroup }

// Systemctl runs systemctl inside the host (never this machine's) and
// returns its standard output; the error carries standard error and the
// exit status (systemctl is-active exits 3 for an inactive unit).
func (h *Host) Systemctl(ctx context.Context, args ...string) (string, error) {
	if !h.systemd {
		return "", fmt.Errorf("host %s does not run systemd", h.Name)
	}
	if h.pid1 == 0 {
		return "", fmt.Errorf("host %s is not running", h.Name)
	}
	cmd := h.Command(ctx, "systemctl", append([]string{"--no-pager"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("systemctl %s on %s: %w: %s", strings.Join(args, " "), h.Name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Units lists the names of the host's loaded units that match the glob
// pattern (e.g. "nixherd-*"), whatever their state.
func (h *Host) Units(ctx context.Context, pattern string) ([]string, error) {
	out, err := h.Systemctl(ctx, "list-units", "--all", "--plain", "--no-legend", pattern)
	if err != nil {
		return nil, err
	}
	var units []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "● ")); len(f) > 0 {
			units = append(units, f[0])
		}
	}
	return units, nil
}

// MainPID is the main process of a unit of the host (its pid inside the
// host), 0 when it has none.
func (h *Host) MainPID(ctx context.Context, unit string) (int, error) {
	out, err := h.Systemctl(ctx, "show", "-p", "MainPID", "--value", unit)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// Journal returns the end of the host's journal.
func (h *Host) Journal(ctx context.Context, lines int) string {
	if !h.systemd || h.pid1 == 0 {
		return ""
	}
	out, _ := h.Command(ctx, "journalctl", "-D", "/run/log/journal", "--no-pager", "-n", strconv.Itoa(lines)).Output()
	return string(out)
}

// waitSystemRunning waits until the host's systemd has finished booting
// and reports a failed boot with its failed units.
func (h *Host) waitSystemRunning(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, _ := h.Systemctl(ctx, "is-system-running", "--wait")
	if state := strings.TrimSpace(out); state != "running" {
		failed, _ := h.Systemctl(context.Background(), "list-units", "--failed", "--plain", "--no-legend")
		return fmt.Errorf("systemd is %q, not running; failed units: %s%s", state, strings.TrimSpace(failed), h.logs())
	}
	return nil
}

// systemdArgs is the command that starts a systemd host (in its cgroup,
// see startHost).
func (h *Host) systemdArgs() []string {
	return []string{"unshare", "--mount", "--propagation", "private", "--uts", "--ipc", "--pid", "--cgroup",
		"--fork", "--kill-child", "/bin/sh", "-c", systemdInitScript, "testhost-init", h.Dir, h.Name}
}

// nixDaemon is the nix-daemon program for a deploy user's systemd host.
func nixDaemon() string {
	if p, err := exec.LookPath("nix-daemon"); err == nil {
		return p
	}
	return "/usr/bin/nix-daemon"
}
