# nixherd watchdog: activates a new system generation on this machine and
# keeps it only if the deployer confirms it in time.
#
# It runs detached from the SSH session that started it (systemd-run, or
# setsid), so a dropped connection, a killed sshd or a dead deployer cannot
# stop it halfway. Everything it learns goes into files in $dir, where the
# deployer reads the outcome, over a new connection if the old one died:
#   prev            store path of the generation to return to
#   state           starting | activating | activated | committing |
#                   committed | rolling-back | rolled-back | failed
#   activation.rc   exit code of the activation (124: it did not finish in
#                   time and was stopped)
#   activation.log  its output
#   activation.pgid the activation's process group, for stopping it
#   decision        symlink, created once, atomically, by whoever decides
#                   first: -> confirm or -> abort (the deployer), -> timeout
#                   (this script)
#   reason          why the machine was rolled back or the run failed
#
# Usage: watchdog.sh DIR KIND PROFILE NEW CONFIRM_TIMEOUT_SECONDS [ACTIVATION_TIMEOUT_SECONDS]
#   KIND is nixos (switch-to-configuration) or darwin (activate).
#   An activation of the new generation still running after
#   ACTIVATION_TIMEOUT_SECONDS (default 600) is stopped, all of it, and the
#   machine returns to the previous generation.
# An executable /nix/var/nixherd/hooks/restart-sshd replaces the usual way
# of restarting sshd after a rollback (systemctl, launchctl).
set -u
dir=$1 kind=$2 profile=$3 new=$4 timeout=$5 atimeout=${6:-600}
hooks=${dir%/*/*}/hooks # /nix/var/nixherd/hooks

exec </dev/null >>"$dir/watchdog.log" 2>&1
# The SSH session's hangup and the deployer's ^C are not ours to obey.
trap '' HUP INT PIPE
echo $$ >"$dir/pid"

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }
set_state() {
	printf '%s\n' "$1" >"$dir/state.tmp" && mv -f "$dir/state.tmp" "$dir/state"
	log "state $1"
}
finish() {
	rm -f "$gcroot"
	prune
	set_state "$1"
	exit 0
}

# Keep the records of the last 20 runs; older finished ones go. Run ids are
# UTC timestamps, so names sort by age.
prune() {
	n=0
	for old in $(ls -1d "${dir%/*}"/*/ 2>/dev/null | sort -r); do
		n=$((n + 1))
		[ $n -gt 20 ] || continue
		case $(cat "$old/state" 2>/dev/null) in
		committed | rolled-back | failed) rm -rf "$old" ;;
		esac
	done
}

# Keep the new closure alive while it is only activated, not yet in a
# profile: a garbage collection now must not take it away.
gcroot=/nix/var/nix/gcroots/nixherd-${dir##*/}
mkdir -p /nix/var/nix/gcroots && ln -sfn "$new" "$gcroot"

activate() { # activate STOREPATH MODE
	case $kind in
	nixos) "$1/bin/switch-to-configuration" "$2" ;;
	darwin) "$1/activate" ;;
	*) echo "unknown kind $kind"; return 1 ;;
	esac
}

# Under systemd the activation gets a scope of its own: its cgroup holds
# whatever the activation starts, even what leaves its process group, and it
# is not this script's unit, so stopping it does not stop us.
systemd= scope=
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemd=1
	if command -v systemd-run >/dev/null 2>&1; then
		scope=nixherd-activation-${dir##*/}
	fi
fi

# start_activation COMMAND...: runs COMMAND in the background as the leader
# of a session (so a process group) of its own, output to activation.log;
# activation.exit appears with its exit code when it ends.
# The wrapper is a file, not sh -c text: systemd-run may expand $NAME in
# its arguments.
start_activation() {
	cat >"$dir/activation.sh" <<'EOF'
d=$1
shift
echo $$ >"$d/activation.pgid"
"$@" >"$d/activation.log" 2>&1
echo $? >"$d/activation.exit.tmp" && mv -f "$d/activation.exit.tmp" "$d/activation.exit"
EOF
	set -- /bin/sh "$dir/activation.sh" "$dir" "$@"
	if command -v setsid >/dev/null 2>&1; then
		set -- setsid "$@"
	else
		set -- perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV' "$@"
	fi
	# Both exec what follows without forking: $! is the session leader.
	if [ -n "$scope" ]; then
		set -- systemd-run --scope --quiet --collect --unit="$scope" "$@"
	fi
	"$@" </dev/null &
	apid=$!
}

# stop_activation: asks the whole activation to stop, then kills what is
# left a second later.
stop_activation() {
	pg=$(cat "$dir/activation.pgid" 2>/dev/null)
	pg=${pg:-$apid}
	kill -TERM "-$pg" 2>/dev/null
	[ -z "$scope" ] || systemctl kill --signal=SIGTERM "$scope.scope" 2>/dev/null
	sleep 1
	kill -KILL "-$pg" 2>/dev/null
	[ -z "$scope" ] || systemctl kill --signal=SIGKILL "$scope.scope" 2>/dev/null
	wait "$apid" 2>/dev/null
}

# end_scope: once the activation has ended, what it left in its scope (a
# process that outlived it, also one in a session of its own) is stopped
# too, so that neither the next step (confirmation or rollback) nor the
# rest of the machine's life runs beside it, and the scope goes. systemd
# does the same with a transient service's leftovers when its main process
# exits; nixos-rebuild runs switch-to-configuration as such a service.
end_scope() {
	[ -n "$scope" ] || return 0
	systemctl kill --signal=SIGTERM "$scope.scope" 2>/dev/null || return 0
	i=0
	while systemctl is-active --quiet "$scope.scope" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 10 ]; then
			log "processes the activation left behind ignore SIGTERM: killing them"
			systemctl kill --signal=SIGKILL "$scope.scope" 2>/dev/null
			break
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
}

# nap N: the pause before look N of a wait. The first two seconds are
# looked at twenty times a second, so that a quick activation, or a
# confirmation that follows the activation at once, is not left waiting;
# after that five times a second, which costs a long wait next to nothing.
nap() {
	if [ "$1" -le 40 ]; then
		sleep 0.05 2>/dev/null || sleep 1
	else
		sleep 0.2 2>/dev/null || sleep 1
	fi
}

# in_words SECONDS: 600 -> 10m, 90 -> 90s.
in_words() {
	if [ $(($1 % 60)) -eq 0 ]; then echo "$(($1 / 60))m"; else echo "${1}s"; fi
}

restart_sshd() {
	if [ -x "$hooks/restart-sshd" ]; then
		"$hooks/restart-sshd"
	elif [ -n "$systemd" ]; then
		systemctl restart sshd.service 2>/dev/null || systemctl restart ssh.service
	elif [ "$kind" = darwin ] && command -v launchctl >/dev/null 2>&1; then
		launchctl kickstart -k system/com.openssh.sshd
	fi || log "restarting sshd failed"
}

rollback() { # rollback REASON
	printf '%s\n' "$1" >"$dir/reason"
	if [ -z "$prev" ]; then
		log "no previous generation to return to: $1"
		finish failed
	fi
	set_state rolling-back
	log "returning to $prev: $1"
	# The profile may already name the new generation if committing failed
	# half-way; it must name a generation this machine has and boots.
	if [ "$(readlink -f "$profile" 2>/dev/null)" != "$prev" ]; then
		nix-env -p "$profile" --set "$prev" || log "resetting $profile failed"
	fi
	# Units that the new generation made fail, and start limits they hit
	# (a crash-looping sshd hits its limit within a second), must not keep
	# the previous generation from starting them again.
	[ -z "$systemd" ] || systemctl reset-failed 2>/dev/null || log "systemctl reset-failed failed"
	case $kind in
	nixos) activate "$prev" switch ;;
	*) activate "$prev" ;;
	esac
	rc=$?
	[ $rc -eq 0 ] || log "re-activating $prev exited $rc"
	restart_sshd
	finish rolled-back
}

commit() {
	set_state committing
	if ! nix-env -p "$profile" --set "$new"; then
		rollback "setting $profile to the new generation failed"
	fi
	if [ "$kind" = nixos ] && ! "$new/bin/switch-to-configuration" boot; then
		rollback "making the new generation the boot default failed"
	fi
	finish committed
}

# The generation to return to, by store path: a relative generation number
# could name something else by the time it is used.
prev=$(readlink -f "$profile" 2>/dev/null || true)
if [ -z "$prev" ] || [ ! -e "$prev" ]; then
	prev=$(readlink -f /run/current-system 2>/dev/null || true)
	[ -n "$prev" ] && [ -e "$prev" ] || prev=
fi
printf '%s\n' "$prev" >"$dir/prev"

if [ ! -e "$new" ]; then
	printf '%s\n' "$new is not in this machine's store" >"$dir/reason"
	finish failed
fi

set_state activating
log "activating $new (deadline ${atimeout}s)"
case $kind in
nixos) start_activation "$new/bin/switch-to-configuration" test ;;
darwin) start_activation "$new/activate" ;;
*) start_activation sh -c "echo unknown kind $kind; exit 1" ;;
esac
# Wait for it, but not past the deadline. The exit file is what says it
# ended: a finished child can linger as a zombie that kill -0 still sees.
adeadline=$(($(date +%s) + atimeout + 1)) # whole seconds: at least the timeout
n=0
while [ ! -e "$dir/activation.exit" ] && kill -0 "$apid" 2>/dev/null; do
	n=$((n + 1))
	if { [ $n -gt 40 ] || [ $((n % 5)) -eq 0 ]; } && [ "$(date +%s)" -ge "$adeadline" ]; then
		log "activation still running after ${atimeout}s: stopping it"
		stop_activation
		printf '124\n' >"$dir/activation.rc"
		ln -s failed "$dir/decision" 2>/dev/null
		# The rollback's activation runs in the foreground, without this
		# deadline: returning to the generation that worked is not cut short.
		rollback "activation did not finish within $(in_words "$atimeout")"
	fi
	# An interrupted deployer need not wait for the deadline either.
	if [ -L "$dir/decision" ] && [ "$(readlink "$dir/decision")" = abort ]; then
		log "aborted during the activation: stopping it"
		stop_activation
		printf '143\n' >"$dir/activation.rc"
		rollback "$(cat "$dir/abort-reason" 2>/dev/null || echo "the deployer asked for it")"
	fi
	nap $n
done
if [ -e "$dir/activation.exit" ]; then
	wait "$apid" 2>/dev/null
	rc=$(cat "$dir/activation.exit")
else
	wait "$apid"
	rc=$?
fi
end_scope
printf '%s\n' "$rc" >"$dir/activation.rc"
log "activation exited $rc"
if [ "$rc" -ne 0 ]; then
	ln -s failed "$dir/decision" 2>/dev/null
	rollback "activation exited $rc"
fi
set_state activated

# Wait for the deployer's decision; take the timeout decision ourselves if
# none comes. ln -s fails when the link exists, so exactly one side decides.
# Whole seconds: wait at least the timeout, at most a second more.
deadline=$(($(date +%s) + timeout + 1))
n=0
while :; do
	n=$((n + 1))
	decision=
	[ ! -L "$dir/decision" ] || decision=$(readlink "$dir/decision")
	if [ -z "$decision" ] && { [ $n -gt 40 ] || [ $((n % 5)) -eq 0 ]; } && [ "$(date +%s)" -ge "$deadline" ]; then
		ln -s timeout "$dir/decision" 2>/dev/null
		decision=$(readlink "$dir/decision")
	fi
	case $decision in
	confirm) commit ;;
	abort) rollback "$(cat "$dir/abort-reason" 2>/dev/null || echo "the deployer asked for it")" ;;
	timeout) rollback "no confirmation within ${timeout}s" ;;
	esac
	nap $n
done
