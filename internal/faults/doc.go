// Package faults holds nixherd's fault-injection tests: real `nixherd
// deploy` runs against test hosts (real sshd, private Nix stores) while
// something goes wrong — the new configuration kills sshd, the host's
// network is cut, the activation or a health check fails, the deployer is
// interrupted or killed. Each test asserts which generation every host ends
// on: the magic-rollback guarantee of internal/watchdog, end to end. The
// same harness answers deploy --ask on a real pseudo-terminal.
//
// Every test runs on both kinds of test host, side by side as subtests named
// after the kind: "sshd" (a shell supervises sshd) and "systemd" (real
// systemd as process 1, as on NixOS, where the watchdog runs as a transient
// service and the activation in a transient scope). TestSystemdWatchdog
// covers what only systemd hosts have: the scope, sshd.service restarted,
// stopped, moved or crash-looping under the new generation.
//
// scripts/fault-suite.sh runs them repeatedly to catch flaky timing and
// counts the passes of each kind.
package faults
