package apply

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
)

// lockScript takes the host's deploy lock and holds it until its stdin
// closes: when nixherd finishes, or dies and its ssh connection with it.
// mkdir is atomic on every Unix, so the lock works on NixOS and macOS alike.
// A lock whose holder is gone (its pid is dead, or the host rebooted since)
// is stale and taken over.
//
// Root's lock lives in /run (/var/run on macOS, which has no /run): both are
// emptied at boot, so a reboot never leaves a lock behind. Another user's
// lock lives where only that user may write: $XDG_RUNTIME_DIR/nixherd, else
// ~/.local/state/nixherd; never in a shared /tmp, where anyone could make
// the directory first (and so block the user's deploys) or, on macOS,
// point it elsewhere with a symlink. The directory must be the user's own
// real directory; it is made private (0700) before the lock is taken in it.
const lockScript = `if [ "$(id -u)" = 0 ]; then
  if [ -d /run ]; then d=/run/nixherd; else d=/var/run/nixherd; fi
  mkdir -p "$d" && chmod 700 "$d" || exit 1
else
  d="${XDG_RUNTIME_DIR:-${HOME:?}/.local/state}/nixherd"
  mkdir -p "${d%/*}" || exit 1
  mkdir -m 700 "$d" 2>/dev/null
  if [ -L "$d" ] || [ ! -d "$d" ] || [ ! -O "$d" ]; then
    echo "$d is not a directory of $(id -un) alone (a symbolic link, not a directory, or another user's); remove it" >&2
    exit 76
  fi
  chmod 700 "$d" || exit 1
fi
l="$d/deploy.lock"
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || sysctl -n kern.boottime 2>/dev/null)
if ! mkdir "$l" 2>/dev/null; then
  pid=$(cat "$l/pid" 2>/dev/null); b=$(cat "$l/boot" 2>/dev/null)
  if [ -n "$pid" ] && { [ "$b" != "$boot" ] || ! kill -0 "$pid" 2>/dev/null; }; then
    mv "$l" "$l.stale.$$" 2>/dev/null && rm -rf "$l.stale.$$"
  fi
  if ! mkdir "$l" 2>/dev/null; then
    echo "held by $(cat "$l/owner" 2>/dev/null || echo 'a deploy that is starting')" >&2
    exit 75
  fi
fi
trap 'rm -rf "$l"' EXIT
trap 'exit 1' HUP INT TERM PIPE
echo $$ > "$l/pid"; echo "$boot" > "$l/boot"; printf '%s\n' "$1" > "$l/owner"
echo locked
if [ -n "${2:-}" ]; then
  # A script to run under the lock in the same round trip (LockThen); it
  # reads its input from stdin up to an empty line.
  sh -c "$2" nixherd-then "${3:-}"
  echo nixherd-then-end
fi
cat >/dev/null`

// lockBusy is lockScript's exit status when another deploy holds the lock;
// lockDirUnsafe when the user's lock directory is not the user's alone.
const (
	lockBusy      = 75
	lockDirUnsafe = 76
)

// ErrLocked is returned (wrapped) when another deploy holds a host's lock.
var ErrLocked = errors.New("another deploy to this host is in progress")

// LockedError says who holds the lock.
type LockedError struct {
	Host   string
	Holder string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: another deploy to this host is in progress (%s); refusing to deploy to it", e.Host, e.Holder)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// HostLock is a held deploy lock.
type HostLock struct {
	stdin *os.File
	done  chan error
}

// lockOwner describes this deploy for whoever finds the lock taken.
func lockOwner() string {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("nixherd on %s@%s, pid %d, since %s", who, host, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
}

// Lock takes the deploy lock of the host r runs on. root selects the
// system-wide lock (/run/nixherd) over the user's own.
func Lock(ctx context.Context, r remote.Runner, root bool) (*HostLock, error) {
	l, _, err := LockThen(ctx, r, root, "", "", "")
	return l, err
}

// maxThenOutput bounds what LockThen's script may print.
const maxThenOutput = 4 << 20

// LockThen takes the deploy lock like Lock and, once it holds it, runs
// script on the host in the same round trip, with arg as its $1 and input
// (lines, without an empty one) on its stdin; it returns what the script
// printed. An empty script runs nothing.
func LockThen(ctx context.Context, r remote.Runner, root bool, script, arg, input string) (*HostLock, string, error) {
	// stdin is an OS pipe, not an io.Pipe: exec would otherwise copy it in
	// a goroutine that Wait waits for, and a refused lock would hang.
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	stdoutR, stdoutW := io.Pipe()
	c := remote.Sh(lockScript, lockOwner(), script, arg)
	c.Root = root
	c.Stdin = stdinR
	c.Stdout = stdoutW
	l := &HostLock{stdin: stdinW, done: make(chan error, 1)}
	go func() {
		_, err := r.Run(ctx, c)
		stdinR.Close()
		stdoutW.CloseWithError(io.EOF)
		l.done <- err
	}()
	if script != "" {
		// The input, ended by an empty line; a goroutine, since a large
		// list fills the pipe before the script reads it.
		go io.WriteString(stdinW, strings.TrimRight(input, "\n")+"\n\n")
	}
	// The answer is one short line; a host that sends anything longer is
	// not holding a lock for us.
	out := bufio.NewReader(io.LimitReader(stdoutR, maxThenOutput))
	line, _ := out.ReadString('\n')
	if strings.TrimSpace(line) == "locked" {
		var then strings.Builder
		for script != "" {
			line, err := out.ReadString('\n')
			if strings.TrimSpace(line) == "nixherd-then-end" {
				break
			}
			then.WriteString(line)
			if err != nil {
				stdinW.Close()
				<-l.done
				return nil, "", fmt.Errorf("%s: the script run under the deploy lock ended early: %w", r.Name(), err)
			}
		}
		// Keep draining stdout so the script never blocks on it.
		go io.Copy(io.Discard, stdoutR)
		return l, then.String(), nil
	}
	stdinW.Close()
	err = <-l.done
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Code == lockBusy {
		return nil, "", &LockedError{Host: r.Name(), Holder: strings.TrimPrefix(remote.Excerpt(ee.Stderr), "held by ")}
	}
	if errors.As(err, &ee) && ee.Code == lockDirUnsafe {
		return nil, "", fmt.Errorf("%s: refusing to take the deploy lock: %s", r.Name(), remote.Excerpt(ee.Stderr))
	}
	if err == nil {
		err = fmt.Errorf("the lock script ended without taking the lock")
	}
	return nil, "", fmt.Errorf("taking the deploy lock: %w", err)
}

// Release gives the lock back and waits until the host removed it.
func (l *HostLock) Release() error {
	l.stdin.Close()
	select {
	case err := <-l.done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the host did not release its deploy lock within 30s")
	}
}

// Locks are the deploy locks one run holds on one host: the system-wide
// lock and the deploy user's own, each taken when a machine of the host
// first needs it and held until Release, after the host's last machine.
// Two activations on one host must not run at once, and a run must not
// refuse its own second machine there.
type Locks struct {
	mu   sync.Mutex
	held map[bool]*HostLock // by root
}

// Hold takes the lock a machine needs (root: the system-wide one) unless
// the run holds it already; progress hears of it when it is taken. For a deploy user that is root, the user's lock
// is the system-wide one.
func (l *Locks) Hold(ctx context.Context, r remote.Runner, root bool, progress func(report.Phase, string)) error {
	root = root || r.IsRoot()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[root] != nil {
		return nil
	}
	if progress != nil {
		progress(report.PhaseLock, "")
	}
	hl, err := Lock(ctx, r, root)
	if err != nil {
		return err
	}
	if l.held == nil {
		l.held = map[bool]*HostLock{}
	}
	l.held[root] = hl
	return nil
}

// HoldThen is Hold that, when it takes the lock now, runs script under it
// in the same round trip (LockThen) and returns its output with ran true;
// when the run held the lock already, nothing runs.
func (l *Locks) HoldThen(ctx context.Context, r remote.Runner, root bool, script, arg, input string) (out string, ran bool, err error) {
	root = root || r.IsRoot()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[root] != nil {
		return "", false, nil
	}
	hl, out, err := LockThen(ctx, r, root, script, arg, input)
	if err != nil {
		return "", false, err
	}
	if l.held == nil {
		l.held = map[bool]*HostLock{}
	}
	l.held[root] = hl
	return out, true, nil
}

// Release gives back every lock held.
func (l *Locks) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for root, hl := range l.held {
		errs = append(errs, hl.Release())
		delete(l.held, root)
	}
	return errors.Join(errs...)
}
