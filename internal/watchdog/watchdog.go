// Package watchdog is nixherd's magic rollback: a new system generation is
// kept only if the deployer can still reach the machine after activating it.
//
// The work on the machine is done by a POSIX shell script (watchdog.sh) that
// runs detached from the SSH session that starts it: under systemd-run where
// systemd runs, otherwise in a session of its own (setsid). It records the
// generation to return to by store path, activates the new one with
// `switch-to-configuration test` (so the boot default is unchanged), writes
// the activation's exit code and output to files, and waits. The deployer
// runs the health checks and then confirms over a new SSH connection, proving
// that a fresh login still works; only then does the script set the profile
// and make the new generation the boot default. Without a confirmation in
// time, or after an abort, the script re-activates the previous generation
// and restarts sshd; under systemd it first clears the failed state and
// start limits the new generation left (a crash-looping sshd.service hits
// its limit within a second, and systemd would refuse to start it again). The activation itself has a deadline too, kept by the
// script on the machine so that it holds without the deployer: it runs in a
// process group (and under systemd a scope) of its own, and when it has not
// finished in time (or the deployer aborts meanwhile) all of it is stopped
// and the machine rolls back. Under systemd, what an activation leaves
// running in its scope when it ends is stopped too, as systemd stops a
// transient service's leftovers (nixos-rebuild's way to run it).
//
// Limits: the machine must be able to run the previous generation's
// activation again (that one has no deadline: it is the way back); and a
// host that stays unreachable is reported as such, its outcome read on the
// next contact (Status).
package watchdog

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

//go:embed watchdog.sh
var script string

// Kind says how a generation is activated.
type Kind string

const (
	NixOS  Kind = "nixos"  // <path>/bin/switch-to-configuration test|boot|switch
	Darwin Kind = "darwin" // <path>/activate
)

// SystemProfile is where NixOS and nix-darwin keep system generations.
const SystemProfile = "/nix/var/nix/profiles/system"

// StateRoot holds one directory per guarded activation on the machine. It is
// under /nix/var so that it outlives a reboot and exists on NixOS and macOS.
const StateRoot = "/nix/var/nixherd/watchdog"

// DefaultConfirmTimeout is how long the machine waits for the confirmation.
const DefaultConfirmTimeout = 30 * time.Second

// DefaultActivationTimeout is how long the new generation's activation may
// run before the machine stops it and rolls back.
const DefaultActivationTimeout = 10 * time.Minute

// States the script moves through, as written to its state file.
const (
	Activating  = "activating"
	Activated   = "activated"
	Committed   = "committed"
	RolledBack  = "rolled-back"
	Failed      = "failed"
	rollingBack = "rolling-back"
	committing  = "committing"
)

// Absent is the state of a watchdog whose directory does not exist: its
// launch was interrupted before it started, so nothing was activated.
const Absent = "absent"

// Final reports whether the script has finished in state s.
func Final(s string) bool { return s == Committed || s == RolledBack || s == Failed || s == Absent }

// Host runs a shell script as root on the machine (through sudo when the
// deploy user is not root); args become $1, $2, ….
type Host interface {
	RunScript(ctx context.Context, script string, args ...string) ([]byte, error)
}

// Params describe one guarded activation.
type Params struct {
	Kind           Kind
	Profile        string // default SystemProfile
	New            string // store path of the new generation, already on the machine
	ConfirmTimeout time.Duration
	// ActivationTimeout bounds the new generation's activation (default
	// DefaultActivationTimeout; whole seconds, rounded up).
	ActivationTimeout time.Duration
	// ID names the run on the machine (its state directory and systemd
	// unit); default: derived from the current time.
	ID string
	// StateRoot overrides where the state directories go (tests only).
	StateRoot string
}

// Watch is a started watchdog.
type Watch struct {
	ID  string
	Dir string
}

// launcher creates the state directory, stores the watchdog script in it and
// starts it detached from this session, then waits until it runs.
const launcher = `set -eu
dir=$1 id=$2 text=$3
shift 3
mkdir -p "${dir%/*}"
# One guarded activation at a time: a rerun right after an interrupt must
# not race the rollback of the run it interrupted.
for other in "${dir%/*}"/*/; do
	[ -f "$other/pid" ] || continue
	case $(cat "$other/state" 2>/dev/null) in committed | rolled-back | failed) continue ;; esac
	if kill -0 "$(cat "$other/pid")" 2>/dev/null; then
		echo "another nixherd watchdog is still at work on this machine (${other%/}); try again when it has finished" >&2
		exit 1
	fi
done
mkdir -m 0700 "$dir"
printf '%s' "$text" >"$dir/watchdog.sh"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
	# A transient unit starts with systemd's default PATH, which on NixOS
	# holds neither coreutils nor nix-env: hand it this session's.
	systemd-run --unit="nixherd-watchdog-$id" --collect --quiet --service-type=exec \
		--setenv=PATH="$PATH" /bin/sh "$dir/watchdog.sh" "$dir" "$@"
elif command -v setsid >/dev/null 2>&1; then
	setsid /bin/sh "$dir/watchdog.sh" "$dir" "$@" </dev/null >/dev/null 2>&1 &
else
	nohup perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV' \
		/bin/sh "$dir/watchdog.sh" "$dir" "$@" </dev/null >/dev/null 2>&1 &
fi
i=0
while [ ! -s "$dir/pid" ]; do
	i=$((i + 1))
	if [ $i -gt 500 ]; then echo "the watchdog did not start; see $dir" >&2; exit 1; fi
	sleep 0.02 2>/dev/null || sleep 1
done
`

// Start launches the watchdog, which activates p.New at once. On error the
// returned Watch, when not nil, names where the watchdog would run: an
// interrupted launch may have started it.
func Start(ctx context.Context, h Host, p Params) (*Watch, error) {
	if p.Kind != NixOS && p.Kind != Darwin {
		return nil, fmt.Errorf("watchdog: unknown kind %q", p.Kind)
	}
	if !strings.HasPrefix(p.New, "/nix/store/") {
		return nil, fmt.Errorf("watchdog: %q is not a store path", p.New)
	}
	if p.Profile == "" {
		p.Profile = SystemProfile
	}
	if p.ConfirmTimeout <= 0 {
		p.ConfirmTimeout = DefaultConfirmTimeout
	}
	if p.ActivationTimeout <= 0 {
		p.ActivationTimeout = DefaultActivationTimeout
	}
	if p.ID == "" {
		p.ID = time.Now().UTC().Format("20060102T150405.000000000")
		p.ID = strings.ReplaceAll(p.ID, ".", "-")
	}
	if p.StateRoot == "" {
		p.StateRoot = StateRoot
	}
	w := &Watch{ID: p.ID, Dir: p.StateRoot + "/" + p.ID}
	if _, err := h.RunScript(ctx, launcher, w.Dir, w.ID, script,
		string(p.Kind), p.Profile, p.New, seconds(p.ConfirmTimeout), seconds(p.ActivationTimeout)); err != nil {
		// w still names where the watchdog runs if the launcher got that far.
		return w, fmt.Errorf("starting the watchdog: %w", err)
	}
	return w, nil
}

// seconds is d in whole seconds, rounded up, for the script.
func seconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// Status is what the watchdog's files say.
type Status struct {
	State        string
	Prev         string // the generation a rollback returns to
	ActivationRC int    // -1 while unknown
	Decision     string // confirm, abort, timeout, failed or ""
	Reason       string // why it rolled back or failed
}

const statusScript = `cd "$1" 2>/dev/null || { echo state=absent; exit 0; }
for f in state prev activation.rc reason; do
	printf '%s=' "$f"
	if [ -f "$f" ]; then tr '\n' ' ' <"$f"; fi
	echo
done
printf 'decision=%s\n' "$(readlink decision 2>/dev/null)"
`

// Status reads the watchdog's files.
func (w *Watch) Status(ctx context.Context, h Host) (Status, error) {
	out, err := h.RunScript(ctx, statusScript, w.Dir)
	if err != nil {
		return Status{}, err
	}
	return parseStatus(string(out)), nil
}

// waitScript waits on the machine, looking every 50 ms, while the state is
// one of the words of $2 (at most $3 looks), then prints the status: one
// round trip that returns as soon as the state changes, where polling from
// the deployer would add half its interval to every step of the watchdog.
const waitScript = `cd "$1" 2>/dev/null || { echo state=absent; exit 0; }
i=0
while [ $i -lt "$3" ]; do
	s=$(cat state 2>/dev/null) || s=
	case " $2 " in *" ${s:-starting} "*) ;; *) break ;; esac
	sleep 0.05 2>/dev/null || sleep 1
	i=$((i + 1))
done
` + statusScript

// waitLooks bounds one waitScript call: 100 looks of 50 ms, 5 s.
const waitLooks = 100

// next waits until the watchdog leaves the states from (space-separated;
// or about 5 s passed) and reads its status.
func (w *Watch) next(ctx context.Context, h Host, from string) (Status, error) {
	out, err := h.RunScript(ctx, waitScript, w.Dir, from, strconv.Itoa(waitLooks))
	if err != nil {
		return Status{}, err
	}
	return parseStatus(string(out)), nil
}

func parseStatus(out string) Status {
	s := Status{ActivationRC: -1}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "state":
			s.State = v
		case "prev":
			s.Prev = v
		case "activation.rc":
			if n, err := strconv.Atoi(v); err == nil {
				s.ActivationRC = n
			}
		case "reason":
			s.Reason = v
		case "decision":
			s.Decision = v
		}
	}
	return s
}

// decideScript records a decision unless one exists (ln -s is atomic and
// fails on an existing link) and prints the decision that stands.
const decideScript = `cd "$1" || exit 3
if [ -n "$3" ] && [ ! -e decision ]; then printf '%s\n' "$3" >abort-reason; fi
ln -s "$2" decision 2>/dev/null || true
readlink decision
`

// Confirm tells the watchdog to keep the new generation. It returns the
// decision that stands: "confirm", or "timeout"/"failed"/"abort" when the
// watchdog had already decided otherwise.
func (w *Watch) Confirm(ctx context.Context, h Host) (string, error) {
	return w.decide(ctx, h, "confirm", "")
}

// confirmScript records the confirmation (decideScript) and, in the same
// session, waits on the machine until the watchdog has finished (at most
// $3 looks of 50 ms), then prints its status: the commit is seen without
// another round trip.
const confirmScript = `cd "$1" || exit 3
ln -s confirm decision 2>/dev/null || true
i=0
while [ $i -lt "$3" ]; do
	case $(cat state 2>/dev/null) in committed | rolled-back | failed) break ;; esac
	sleep 0.05 2>/dev/null || sleep 1
	i=$((i + 1))
done
` + statusScript

// ConfirmAndWait is Confirm that also waits for the watchdog to finish,
// for up to about 5 s, and returns its status then (not final when it took
// longer: read on with Await).
func (w *Watch) ConfirmAndWait(ctx context.Context, h Host) (Status, error) {
	out, err := h.RunScript(ctx, confirmScript, w.Dir, "confirm", strconv.Itoa(waitLooks))
	if err != nil {
		return Status{}, err
	}
	return parseStatus(string(out)), nil
}

// Abort tells the watchdog to roll back now, giving reason.
func (w *Watch) Abort(ctx context.Context, h Host, reason string) (string, error) {
	if reason == "" {
		reason = "aborted by the deployer"
	}
	return w.decide(ctx, h, "abort", reason)
}

func (w *Watch) decide(ctx context.Context, h Host, d, reason string) (string, error) {
	out, err := h.RunScript(ctx, decideScript, w.Dir, d, reason)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// ActivationLog returns the last lines of the activation's output.
func (w *Watch) ActivationLog(ctx context.Context, h Host) string {
	out, _ := h.RunScript(ctx, `tail -n 20 "$1/activation.log" 2>/dev/null`, w.Dir)
	return strings.TrimSpace(string(out))
}

// ErrUnreachable means the machine could not be asked for too long; the
// watchdog on it still decides by itself.
var ErrUnreachable = errors.New("host unreachable")

// Await follows the watchdog until until(state) holds or the state is
// final: each read waits on the machine for the state to change, so a step
// is seen as soon as it happens. Failed reads are retried every poll: a
// connection may drop during activation. It gives up with ErrUnreachable
// when no read succeeded for patience.
func (w *Watch) Await(ctx context.Context, h Host, until func(Status) bool, poll, patience time.Duration) (Status, error) {
	return w.AwaitFrom(ctx, h, "", until, poll, patience)
}

// AwaitFrom is Await when the watchdog is known to be in one of the states
// from (space-separated): the first read already waits on the machine for
// it to leave them, which saves a round trip.
func (w *Watch) AwaitFrom(ctx context.Context, h Host, from string, until func(Status) bool, poll, patience time.Duration) (Status, error) {
	var last Status
	var lastErr error
	reached := time.Now()
	seen := false
	for {
		var st Status
		var err error
		if seen || from != "" {
			if seen {
				from = last.State
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second+waitLooks*50*time.Millisecond)
			st, err = w.next(pctx, h, from)
			cancel()
		} else {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err = w.Status(pctx, h)
			cancel()
		}
		if err == nil {
			seen = true
			last, reached = st, time.Now()
			if until(st) || Final(st.State) {
				return st, nil
			}
			continue // the next read waits on the machine
		}
		lastErr = err
		if time.Since(reached) > patience {
			return last, fmt.Errorf("%w for %s: %v", ErrUnreachable, patience.Round(time.Second), lastErr)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(poll):
		}
	}
}
