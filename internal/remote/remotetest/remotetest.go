// Package remotetest is a simulated NixOS host behind a remote.Runner, for
// fast tests of the logic above the transport: how the pipeline turns what
// a host answers into outcomes (switched, failed, refused, rolled back, not
// started). It answers the commands nixherd sends (the deploy lock, the
// guard, reading and setting the system profile, switch-to-configuration)
// from a little state in memory. It is a fake for pure logic only: what a
// real host does is tested against internal/testhost's hosts, with real
// sshd, nix and shell.
package remotetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/remote"
)

// Host is a simulated NixOS machine.
type Host struct {
	HostName string

	mu sync.Mutex
	// Systems are the store paths that are NixOS systems (the guard passes).
	Systems map[string]bool
	// Generations are the system profile's generations, number i+1 at i.
	Generations []string
	// Current is the profile's generation number (0: no profile).
	Current int
	// Running is /run/current-system.
	Running string
	// LockedBy, when set, is another deploy holding the host's lock.
	LockedBy string
	// ActivationExit, by store path, is switch-to-configuration's exit code.
	ActivationExit map[string]int
	// BeforeActivation, when set, runs as an activation starts (a test
	// cancels its context there, say).
	BeforeActivation func(path string)
	// Log lists the commands run, one line each.
	Log   []string
	locks int
}

// NewHost returns a host that has never been deployed to.
func NewHost(name string) *Host {
	return &Host{HostName: name, Systems: map[string]bool{}, ActivationExit: map[string]int{}}
}

var _ remote.Runner = (*Host)(nil)

func (h *Host) Name() string         { return h.HostName }
func (h *Host) IsRoot() bool         { return true }
func (h *Host) Store() string        { return "" } // nothing to copy
func (h *Host) NixSSHOpts() []string { return nil }
func (h *Host) Close() error         { return nil }

// Locks counts the deploy locks taken on the host.
func (h *Host) Locks() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.locks
}

const profile = "/nix/var/nix/profiles/system"

// Run answers a command as a NixOS host would.
func (h *Host) Run(ctx context.Context, c remote.Command) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, &remote.ExitError{Host: h.HostName, Args: c.Args, Code: -1, Stderr: err.Error()}
	}
	args := c.Args
	h.mu.Lock()
	h.Log = append(h.Log, strings.Join(args, " "))
	h.mu.Unlock()
	fail := func(code int, msg string) ([]byte, error) {
		return nil, &remote.ExitError{Host: h.HostName, Args: args, Code: code, Stderr: msg}
	}
	if len(args) >= 3 && args[0] == "sh" && args[1] == "-c" {
		script, params := args[2], args[4:]
		switch {
		case strings.Contains(script, "deploy.lock"):
			return h.lock(c, fail)
		case strings.Contains(script, `readlink -f "$1"`): // target.Current
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.Current == 0 {
				return nil, nil
			}
			return []byte(fmt.Sprintf("system-%d-link\n%s\n", h.Current, h.Generations[h.Current-1])), nil
		case strings.Contains(script, "-*-link"): // target.Generations
			h.mu.Lock()
			defer h.mu.Unlock()
			var b strings.Builder
			if h.Current > 0 {
				fmt.Fprintf(&b, "current system-%d-link\n", h.Current)
			} else {
				b.WriteString("current \n")
			}
			for i, g := range h.Generations {
				fmt.Fprintf(&b, "%d %d %s\n", i+1, 1700000000+i, g)
			}
			return []byte(b.String()), nil
		case strings.Contains(script, "systemd-run"): // no systemd here
			return fail(1, "")
		case strings.Contains(script, "current-system"):
			h.mu.Lock()
			defer h.mu.Unlock()
			return []byte(h.Running + "\n"), nil
		}
		return fail(127, fmt.Sprintf("remotetest: unknown script %q %q", script, params))
	}
	switch {
	case args[0] == "test" && len(args) == 3 && strings.HasSuffix(args[2], "/nixos-version"):
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.Systems[strings.TrimSuffix(args[2], "/nixos-version")] {
			return nil, nil
		}
		return fail(1, "")
	case args[0] == "nix-env" && len(args) == 5 && args[2] == profile && args[3] == "--set":
		h.mu.Lock()
		defer h.mu.Unlock()
		h.Generations = append(h.Generations, args[4])
		h.Current = len(h.Generations)
		return nil, nil
	case args[0] == "nix-env" && len(args) == 5 && args[2] == profile && args[3] == "--switch-generation":
		n, _ := strconv.Atoi(args[4])
		h.mu.Lock()
		defer h.mu.Unlock()
		if n < 1 || n > len(h.Generations) {
			return fail(1, fmt.Sprintf("error: generation %d does not exist", n))
		}
		h.Current = n
		return nil, nil
	case path.Base(args[0]) == "switch-to-configuration" && len(args) == 2:
		system := path.Dir(path.Dir(args[0]))
		if h.BeforeActivation != nil {
			h.BeforeActivation(system)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if code := h.ActivationExit[system]; code != 0 {
			return fail(code, "activation failed")
		}
		if args[1] == "switch" || args[1] == "test" {
			h.Running = system
		}
		return nil, nil
	}
	return fail(127, fmt.Sprintf("remotetest: unknown command %q", args))
}

// lock answers the deploy lock script: "locked", then hold it until stdin
// closes; or refuse as a host held by another deploy does.
func (h *Host) lock(c remote.Command, fail func(int, string) ([]byte, error)) ([]byte, error) {
	h.mu.Lock()
	holder := h.LockedBy
	if holder == "" {
		h.locks++
	}
	h.mu.Unlock()
	if holder != "" {
		return fail(75, "held by "+holder)
	}
	io.WriteString(c.Stdout, "locked\n")
	if c.Stdin != nil {
		io.Copy(io.Discard, bufio.NewReader(c.Stdin))
	}
	return nil, nil
}
