// Package hosts reads deploy.nix, the file at the root of a fleet that says
// where each machine is deployed: its SSH target (or "local"), its tags, where
// its closure is built, extra ssh options and the health checks to run after
// a switch.
//
// deploy.nix is plain data, so it is read with `nix-instantiate --eval
// --strict --json` without nixpkgs and without evaluating the flake. Schema
// errors point at the offending attribute as file:line:col, using the
// positions Nix records for attributes.
package hosts

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/nixlang"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

// FileName is the name of the deploy file at the fleet's root.
const FileName = "deploy.nix"

// Where a machine's closure is built.
const (
	BuildLocal  = "local"
	BuildTarget = "target"
)

// HealthCheck is one check to run after activation. Exactly one of HTTP, TCP
// and Command is set. internal/health runs them; this package only reads them.
type HealthCheck struct {
	// HTTP is a URL that must answer with Status.
	HTTP   string `json:"http,omitempty"`
	Status int    `json:"status,omitempty"`
	// TCP is a host:port that must accept a connection.
	TCP string `json:"tcp,omitempty"`
	// Command is a shell command run on the host that must exit 0.
	Command string `json:"command,omitempty"`
	// Timeout in seconds; 0 means the checker's default.
	Timeout int              `json:"timeout,omitempty"`
	Pos     nixlang.Position `json:"-"`
}

// Kind is "http", "tcp" or "command".
func (h HealthCheck) Kind() string {
	switch {
	case h.HTTP != "":
		return "http"
	case h.TCP != "":
		return "tcp"
	default:
		return "command"
	}
}

// Machine is one entry of deploy.nix with the defaults applied.
type Machine struct {
	Name string `json:"name"`
	// Target is "local" or "user@host[:port]" as written.
	Target string `json:"target"`
	// Address is the parsed Target; zero when Local.
	Address remote.Address `json:"-"`
	Tags    []string       `json:"tags"`
	// BuildOn is BuildLocal or BuildTarget.
	BuildOn    string   `json:"buildOn"`
	SSHOptions []string `json:"sshOptions,omitempty"`
	// Platform is "" when deploy.nix does not say: the flake output that
	// has the configuration tells.
	Platform platform.Platform `json:"platform,omitempty"`
	// Configuration is the name under nixosConfigurations,
	// darwinConfigurations or homeConfigurations; defaults to Name.
	Configuration string        `json:"configuration"`
	HealthChecks  []HealthCheck `json:"healthChecks,omitempty"`
	// Pull, when set, says the machine is deployed in pull mode: its agent
	// applies the published release (nixherd publish, nixherd agent).
	Pull *Pull `json:"pull,omitempty"`
	// Pos is where deploy.nix names the machine, FieldPos where it sets
	// each of its attributes.
	Pos      nixlang.Position            `json:"-"`
	FieldPos map[string]nixlang.Position `json:"-"`
	// UnsafeSSHOptions are the entries of SSHOptions (its own and the
	// defaults') that weaken host key checking, run programs on the
	// deploying machine or hand the host something of it
	// (remote.UnsafeOptions). They are used only when the user allows it
	// (RefuseUnsafeSSHOptions).
	UnsafeSSHOptions []UnsafeSSHOption `json:"-"`
}

// UnsafeSSHOption is an unsafe ssh option and where deploy.nix sets it.
type UnsafeSSHOption struct {
	remote.UnsafeOption
	// Attr is the attribute: "defaults.sshOptions", "machines.NAME.sshOptions".
	Attr string
	Pos  nixlang.Position
}

func (u UnsafeSSHOption) String() string {
	return fmt.Sprintf("%s: %s: %s %s", u.Pos, u.Attr, u.Arg, u.Reason)
}

// UnsafeSSHOptions lists the unsafe ssh options the machines carry, once
// each (the defaults' apply to every machine), in file order.
func UnsafeSSHOptions(machines []Machine) []UnsafeSSHOption {
	var all []UnsafeSSHOption
	seen := map[string]bool{}
	for _, m := range machines {
		for _, u := range m.UnsafeSSHOptions {
			if key := u.String(); !seen[key] {
				seen[key] = true
				all = append(all, u)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].Pos, all[j].Pos
		return a.File < b.File || a.File == b.File && (a.Line < b.Line || a.Line == b.Line && a.Col < b.Col)
	})
	return all
}

// UnsafeSSHOptionsError lists the unsafe ssh options of the machines a
// command was about to reach.
type UnsafeSSHOptionsError struct {
	Options []UnsafeSSHOption
}

func (e *UnsafeSSHOptionsError) Error() string {
	lines := make([]string, len(e.Options))
	for i, u := range e.Options {
		lines[i] = u.String()
	}
	return strings.Join(lines, "\n") + "\nrefusing these ssh options from deploy.nix: a fleet's files may not weaken how this machine checks host keys, run programs on it or hand hosts its agent, credentials or network"
}

// RefuseUnsafeSSHOptions returns an *UnsafeSSHOptionsError naming every
// unsafe ssh option the machines carry, or nil when they carry none.
func RefuseUnsafeSSHOptions(machines []Machine) error {
	if all := UnsafeSSHOptions(machines); len(all) > 0 {
		return &UnsafeSSHOptionsError{Options: all}
	}
	return nil
}

// Pull is how a pulled machine is reached: where its agent serves /status
// and /metrics ("" when it cannot be reached from here).
type Pull struct {
	Agent string `json:"agent,omitempty"`
}

// Local reports whether the machine is the one nixherd runs on.
func (m Machine) Local() bool { return m.Target == "local" }

// HasTag reports whether the machine carries tag (with or without "@").
func (m Machine) HasTag(tag string) bool {
	tag = strings.TrimPrefix(tag, "@")
	for _, t := range m.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Inventory is a parsed deploy.nix.
type Inventory struct {
	File     string
	Machines []Machine // sorted by name
	// Rollout is how a staged rollout proceeds (deploy.nix's rollout), nil
	// when deploy.nix declares none.
	Rollout *Rollout
}

// Rollout is deploy.nix's plan for staged rollouts: the waves, in order,
// and how many machines may be mid-deploy at once.
type Rollout struct {
	Waves []Wave
	// MaxInFlight bounds the machines deployed at once: a count, or with
	// Percent a percentage of the machines selected (0: no bound).
	MaxInFlight int
	Percent     bool
	// Deadline is how long a wave's machines may take to run the release
	// healthy before the rollout halts (0: the default).
	Deadline time.Duration
	Pos      nixlang.Position
}

// Wave is one stage of a rollout: the machines its selectors name (those
// no earlier wave took), and how long they must stay healthy before the
// next wave starts.
type Wave struct {
	Name      string
	Selectors []string
	Soak      time.Duration
}

// InFlight is how many of n selected machines may be mid-deploy at once.
func (r *Rollout) InFlight(n int) int {
	switch {
	case r == nil || r.MaxInFlight <= 0:
		return n
	case r.Percent:
		return max(1, n*r.MaxInFlight/100)
	}
	return r.MaxInFlight
}

// Machine returns the machine called name.
func (inv *Inventory) Machine(name string) (Machine, bool) {
	for _, m := range inv.Machines {
		if m.Name == name {
			return m, true
		}
	}
	return Machine{}, false
}

// Names lists the machine names in order.
func (inv *Inventory) Names() []string {
	names := make([]string, len(inv.Machines))
	for i, m := range inv.Machines {
		names[i] = m.Name
	}
	return names
}

// Selection is the machines a command was asked to act on: its selectors,
// or all of them.
type Selection struct {
	Selectors []string
	All       bool
}

// Errors of a selection the caller words for its own interface.
var (
	// ErrNothingSelected is a selection with no selectors and not All.
	ErrNothingSelected = errors.New("no machines selected")
	// ErrAllAndSelectors is a selection of all machines and of some.
	ErrAllAndSelectors = errors.New("all machines and machine selectors cannot be combined")
)

// Select resolves selectors (SelectFor).
func (inv *Inventory) Select(selectors []string, all bool) ([]Machine, error) {
	return inv.SelectFor(Selection{Selectors: selectors, All: all})
}

// SelectFor resolves a selection to machines, in inventory order. Each
// selector is a comma-separated list of names, globs ("dev*") and tags
// ("@vm"); the result is the union. A selector that matches nothing is an
// error: a typo must not silently deploy fewer machines than meant.
func (inv *Inventory) SelectFor(sel Selection) ([]Machine, error) {
	selectors, all := sel.Selectors, sel.All
	if all {
		if len(selectors) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrAllAndSelectors, strings.Join(selectors, " "))
		}
		if len(inv.Machines) == 0 {
			return nil, fmt.Errorf("%s declares no machines", inv.File)
		}
		return inv.Machines, nil
	}
	var terms []string
	for _, s := range selectors {
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				terms = append(terms, t)
			}
		}
	}
	if len(terms) == 0 {
		return nil, ErrNothingSelected
	}
	chosen := map[string]bool{}
	for _, t := range terms {
		n, err := inv.match(t, chosen)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, inv.noMatch(t)
		}
	}
	var out []Machine
	for _, m := range inv.Machines {
		if chosen[m.Name] {
			out = append(out, m)
		}
	}
	return out, nil
}

func (inv *Inventory) match(term string, chosen map[string]bool) (int, error) {
	n := 0
	for _, m := range inv.Machines {
		var ok bool
		switch {
		case strings.HasPrefix(term, "@"):
			ok = m.HasTag(term)
		case strings.ContainsAny(term, "*?["):
			var err error
			ok, err = filepath.Match(term, m.Name)
			if err != nil {
				return 0, fmt.Errorf("selector %q: %w", term, err)
			}
		default:
			ok = m.Name == term
		}
		if ok {
			chosen[m.Name] = true
			n++
		}
	}
	return n, nil
}

func (inv *Inventory) noMatch(term string) error {
	if strings.HasPrefix(term, "@") {
		tags := map[string]bool{}
		for _, m := range inv.Machines {
			for _, t := range m.Tags {
				tags["@"+t] = true
			}
		}
		known := make([]string, 0, len(tags))
		for t := range tags {
			known = append(known, t)
		}
		sort.Strings(known)
		return fmt.Errorf("no machine in %s has tag %s (tags: %s)", inv.File, term, orNone(known))
	}
	return fmt.Errorf("no machine in %s matches %q (machines: %s)", inv.File, term, orNone(inv.Names()))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ByTarget groups machines (by index) that live on the same host: a system
// and a home-manager user on one machine, or two machines given one target.
// Work on one host goes one machine at a time, over one connection: a second
// nix-env racing the first on a fresh store fails to create its gcroots, and
// the host's deploy lock admits one change at a time, so a deploy takes it
// once for all the machines it has there.
func ByTarget(machines []Machine) [][]int {
	index := map[string]int{}
	var groups [][]int
	for i, m := range machines {
		key := m.Target + "\x00" + strings.Join(m.SSHOptions, "\x00")
		g, ok := index[key]
		if !ok {
			g = len(groups)
			index[key] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}
