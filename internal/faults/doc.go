// Package faults holds nixherd's fault-injection tests: real `nixherd
// deploy` runs against test hosts (real sshd, private Nix stores) while
// something goes wrong — the new configuration kills sshd, the host's
// network is cut, the activation or a health check fails, the deployer is
// interrupted or killed. Each test asserts which generation every host ends
// on: the magic-rollback guarantee of internal/watchdog, end to end. The
// same harness answers deploy --ask on a real pseudo-terminal.
//
// scripts/fault-suite.sh runs them repeatedly to catch flaky timing.
package faults
