// Package flakelock reads a flake.lock file and compares what it locked
// against the inputs a flake.nix declares.
//
// nix writes flake.lock itself (nixherd never edits it: `nixherd update`
// asks nix to). What nixherd needs from it is small: for each input of the
// root flake, the node it points to (or the follows path it was redirected
// to), the reference it was locked from ("original") and the revision it was
// locked at ("locked"). Comparing "original" with the URL in flake.nix is how
// a stale lock is found without evaluating anything: nix records the
// reference exactly as the flake asked for it, in attribute form.
package flakelock

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Lock is a parsed flake.lock.
type Lock struct {
	Version int
	Root    string
	Nodes   map[string]*Node
}

// Node is one locked flake or non-flake input.
type Node struct {
	// Inputs maps an input name to the node it is locked to. A follows
	// redirection is kept as its path instead.
	Inputs map[string]Ref
	// Original is the reference as the flake wrote it, in attribute form
	// ({"type":"github","owner":…}); Locked adds rev, narHash and so on.
	Original map[string]any
	Locked   map[string]any
	// Flake is false for inputs declared with `flake = false`.
	Flake bool
}

// Ref is where an input of a node points: either a node name or, for an
// input that follows another one, the path of input names it follows.
type Ref struct {
	Node    string
	Follows []string
}

// IsFollows reports whether the input is a follows redirection.
func (r Ref) IsFollows() bool { return r.Follows != nil }

// UnmarshalJSON accepts both shapes nix writes: "node" or ["a", "b"].
func (r *Ref) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		r.Node = s
		return nil
	}
	var path []string
	if err := json.Unmarshal(b, &path); err != nil {
		return fmt.Errorf("input is neither a node name nor a follows path: %s", b)
	}
	if path == nil {
		path = []string{}
	}
	r.Follows = path
	return nil
}

type lockFile struct {
	Version int                 `json:"version"`
	Root    string              `json:"root"`
	Nodes   map[string]nodeJSON `json:"nodes"`
}

type nodeJSON struct {
	Inputs   map[string]Ref `json:"inputs"`
	Original map[string]any `json:"original"`
	Locked   map[string]any `json:"locked"`
	Flake    *bool          `json:"flake"`
}

// Read parses the flake.lock at path.
func Read(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Parse parses the contents of a flake.lock.
func Parse(data []byte) (*Lock, error) {
	var f lockFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a flake.lock: %w", err)
	}
	if f.Root == "" {
		f.Root = "root"
	}
	l := &Lock{Version: f.Version, Root: f.Root, Nodes: map[string]*Node{}}
	for name, n := range f.Nodes {
		l.Nodes[name] = &Node{Inputs: n.Inputs, Original: n.Original, Locked: n.Locked, Flake: n.Flake == nil || *n.Flake}
	}
	if l.Nodes[l.Root] == nil {
		return nil, fmt.Errorf("not a flake.lock: no root node %q", l.Root)
	}
	return l, nil
}

// RootInputs returns the root flake's inputs, sorted by name.
func (l *Lock) RootInputs() []string {
	var names []string
	for name := range l.Nodes[l.Root].Inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Input returns the node a root input is locked to, following follows
// paths; ok is false when the input is not in the lock at all.
func (l *Lock) Input(name string) (ref Ref, node *Node, ok bool) {
	ref, ok = l.Nodes[l.Root].Inputs[name]
	if !ok {
		return Ref{}, nil, false
	}
	return ref, l.resolve(ref, 0), true
}

// resolve follows a Ref to its node; follows paths start at the root.
func (l *Lock) resolve(ref Ref, depth int) *Node {
	if !ref.IsFollows() {
		return l.Nodes[ref.Node]
	}
	if depth > 32 {
		return nil
	}
	node := l.Nodes[l.Root]
	for _, step := range ref.Follows {
		next, ok := node.Inputs[step]
		if !ok {
			return nil
		}
		node = l.resolve(next, depth+1)
		if node == nil {
			return nil
		}
	}
	return node
}

// Rev is a short description of what a node is locked at, for messages:
// the revision when there is one, else the narHash.
func (n *Node) Rev() string {
	if n == nil {
		return ""
	}
	for _, k := range []string{"rev", "narHash"} {
		if s, ok := n.Locked[k].(string); ok && s != "" {
			if k == "rev" && len(s) > 12 {
				s = s[:12]
			}
			return s
		}
	}
	return ""
}

// String renders a follows path the way flake.nix writes it.
func (r Ref) String() string {
	if r.IsFollows() {
		return strings.Join(r.Follows, "/")
	}
	return r.Node
}
