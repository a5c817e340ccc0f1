// Package closure compares two Nix closures at the level of packages: what a
// machine runs now against what a deploy would put there. It answers the
// question a reviewer asks before pressing yes: which packages are added,
// removed or change version, and how much bigger the system gets.
//
// Store path names are split into a package name and a version the way nvd
// and `nix store diff-closures` do: at the first "-" followed by a digit.
// Paths without a version (configuration files, wrappers) only count towards
// the size, never as changes, since their hash changes on every rebuild.
package closure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/shell"
)

// Path is one store path of a closure and the size of its contents.
type Path struct {
	Path    string
	NarSize int64
}

// Closure is the set of store paths a system needs, keyed by store path.
type Closure map[string]Path

// Size is the total size of the closure's paths (what `nix path-info -S`
// reports as closure size for its top path).
func (c Closure) Size() int64 {
	var n int64
	for _, p := range c {
		if n > math.MaxInt64-p.NarSize {
			return math.MaxInt64 // sizes from a host that lies
		}
		n += p.NarSize
	}
	return n
}

// outputs are the output names Nix appends to a store path name; they are
// not part of the version ("hello-2.12-man" is hello 2.12).
var outputs = map[string]bool{
	"bin": true, "dev": true, "doc": true, "info": true, "lib": true,
	"man": true, "out": true, "debug": true, "devdoc": true, "static": true,
}

// ParseName splits a store path (or a bare name) into package name and
// version. A name with no "-" followed by a digit has no version.
func ParseName(storePath string) (pname, version string) {
	name := path.Base(storePath)
	if len(name) > 33 && name[32] == '-' {
		name = name[33:] // drop the hash
	}
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && name[i+1] >= '0' && name[i+1] <= '9' {
			pname, version = name[:i], name[i+1:]
			if j := strings.LastIndexByte(version, '-'); j >= 0 && outputs[version[j+1:]] {
				version = version[:j]
			}
			return pname, version
		}
	}
	return name, ""
}

// ParsePathInfo reads the output of `nix path-info -r --json`: an array of
// objects on Nix before 2.19, an object keyed by store path since.
func ParsePathInfo(data []byte) (Closure, error) {
	type info struct {
		Path    string `json:"path"`
		NarSize int64  `json:"narSize"`
	}
	c := Closure{}
	data = bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(data, []byte("[")):
		var list []info
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("nix path-info output: %w", err)
		}
		for _, i := range list {
			c[i.Path] = Path{Path: i.Path, NarSize: i.NarSize}
		}
		return sized(c)
	case bytes.HasPrefix(data, []byte("{")):
		var m map[string]*info
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("nix path-info output: %w", err)
		}
		for p, i := range m {
			if i == nil { // a path the store does not have
				continue
			}
			c[p] = Path{Path: p, NarSize: i.NarSize}
		}
		return sized(c)
	default:
		return nil, fmt.Errorf("nix path-info output is not JSON: %.80q", data)
	}
}

// sized refuses a closure with a negative size, which only a broken or
// lying host reports.
func sized(c Closure) (Closure, error) {
	for _, p := range c {
		if p.NarSize < 0 {
			return nil, fmt.Errorf("nix path-info output: %.120q has a negative size", p.Path)
		}
	}
	return c, nil
}

// Runner runs a shell command on a machine and returns its standard output;
// a failing command's error carries its standard error. The deploy pipeline
// passes a host's SSH connection, or Local for this machine.
type Runner interface {
	Run(ctx context.Context, command string) (stdout []byte, err error)
}

// Local runs commands on this machine.
type Local struct{}

func (Local) Run(ctx context.Context, command string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", command, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Query reads the closure of storePath on the machine runner reaches. A
// storePath that does not exist there (a host never deployed to) is an empty
// closure, so the diff shows everything as added.
func Query(ctx context.Context, r Runner, storePath string) (Closure, error) {
	q := shell.Quote(storePath)
	out, err := r.Run(ctx, "if [ -e "+q+" ]; then nix --extra-experimental-features nix-command path-info -r --json "+q+"; else echo '[]'; fi")
	if err != nil {
		return nil, fmt.Errorf("reading the closure of %s: %w", storePath, err)
	}
	return ParsePathInfo(out)
}

// Package is a package name with the versions of it a closure holds (a
// system can hold two versions of one library).
type Package struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
}

// Change is a package whose set of versions differs between the closures.
type Change struct {
	Name string   `json:"name"`
	Old  []string `json:"old"`
	New  []string `json:"new"`
}

// Diff is what changes when a machine goes from Old to New.
type Diff struct {
	Added, Removed     []Package
	Changed            []Change
	OldPaths, NewPaths int
	OldSize, NewSize   int64
}

// SizeDelta is the change in closure size, in bytes.
func (d Diff) SizeDelta() int64 { return d.NewSize - d.OldSize }

// Empty reports whether no package is added, removed or changed.
func (d Diff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// Compare computes the package-level diff between two closures.
func Compare(old, new Closure) Diff {
	d := Diff{OldPaths: len(old), NewPaths: len(new), OldSize: old.Size(), NewSize: new.Size()}
	ov, nv := versions(old), versions(new)
	for name, vs := range nv {
		ovs, ok := ov[name]
		switch {
		case !ok:
			if len(vs) > 0 {
				d.Added = append(d.Added, Package{name, vs})
			}
		case !equal(ovs, vs):
			d.Changed = append(d.Changed, Change{name, ovs, vs})
		}
	}
	for name, vs := range ov {
		if _, ok := nv[name]; !ok && len(vs) > 0 {
			d.Removed = append(d.Removed, Package{name, vs})
		}
	}
	sort.Slice(d.Added, func(i, j int) bool { return d.Added[i].Name < d.Added[j].Name })
	sort.Slice(d.Removed, func(i, j int) bool { return d.Removed[i].Name < d.Removed[j].Name })
	sort.Slice(d.Changed, func(i, j int) bool { return d.Changed[i].Name < d.Changed[j].Name })
	return d
}

// versions maps package names to their sorted, distinct versions; names
// without a version map to an empty list.
func versions(c Closure) map[string][]string {
	seen := map[string]map[string]bool{}
	for p := range c {
		name, v := ParseName(p)
		if seen[name] == nil {
			seen[name] = map[string]bool{}
		}
		if v != "" {
			seen[name][v] = true
		}
	}
	m := make(map[string][]string, len(seen))
	for name, set := range seen {
		vs := make([]string, 0, len(set))
		for v := range set {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		m[name] = vs
	}
	return m
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String renders the diff the way it is shown before a deploy.
func (d Diff) String() string {
	var b strings.Builder
	if len(d.Changed) > 0 {
		b.WriteString("Version changes:\n")
		for _, c := range d.Changed {
			fmt.Fprintf(&b, "  [C] %s  %s -> %s\n", c.Name, list(c.Old), list(c.New))
		}
	}
	if len(d.Added) > 0 {
		b.WriteString("Added packages:\n")
		for _, p := range d.Added {
			fmt.Fprintf(&b, "  [A] %s  %s\n", p.Name, list(p.Versions))
		}
	}
	if len(d.Removed) > 0 {
		b.WriteString("Removed packages:\n")
		for _, p := range d.Removed {
			fmt.Fprintf(&b, "  [R] %s  %s\n", p.Name, list(p.Versions))
		}
	}
	if d.Empty() {
		b.WriteString("No package changes.\n")
	}
	fmt.Fprintf(&b, "Closure size: %d paths (%s) -> %d paths (%s), %s\n",
		d.OldPaths, HumanSize(d.OldSize), d.NewPaths, HumanSize(d.NewSize), signedSize(d.SizeDelta()))
	return b.String()
}

func list(vs []string) string {
	if len(vs) == 0 {
		return "(no version)"
	}
	return strings.Join(vs, ", ")
}

// HumanSize renders a byte count with a binary unit.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for (f >= unit || f <= -unit) && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i])
}

func signedSize(n int64) string {
	if n >= 0 {
		return "+" + HumanSize(n)
	}
	return "-" + HumanSize(-n)
}
