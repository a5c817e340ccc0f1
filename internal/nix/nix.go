// Package nix drives the nix command line for nixherd: it probes the version,
// evaluates, builds, copies closures and reads path-info, smoothing over the
// differences between Nix 2.8 (Debian's nix-bin) and current Nix.
//
// Every call passes --extra-experimental-features 'nix-command flakes' and
// parses only stdout: Nix writes progress and warnings to stderr, which is
// kept for error messages.
package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Version is a Nix release number.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the output of `nix --version`, e.g. "nix (Nix) 2.8.0"
// or "nix (Nix) 2.24.10".
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("cannot read a Nix version from %q", strings.TrimSpace(s))
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// Nix is the local nix installation.
type Nix struct {
	// Bin is the nix program; nix-store and nix-env are looked up next to it.
	Bin     string
	Version Version
	// Env is added to the environment of every nix process (for NIX_SSHOPTS
	// the copy functions add their own).
	Env []string
	// Flags are the user's nix options (-L, --show-trace, …), given to
	// every nix invocation that evaluates or builds.
	Flags Flags
	// Log, when set, receives nix's stderr as it is written (it is kept
	// for error messages too): what -L, -v and --show-trace ask to see.
	Log io.Writer
}

var features = []string{"--extra-experimental-features", "nix-command flakes"}

// Probe finds nix on PATH and reads its version.
func Probe(ctx context.Context) (*Nix, error) {
	bin, err := exec.LookPath("nix")
	if err != nil {
		return nil, fmt.Errorf("nix is not installed (not on PATH)")
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("nix --version: %w", err)
	}
	v, err := ParseVersion(string(out))
	if err != nil {
		return nil, err
	}
	return &Nix{Bin: bin, Version: v}, nil
}

// Error is a failed nix invocation with the tail of its stderr.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s: %s", strings.Join(e.Args[:min(len(e.Args), 2)], " "), lastLines(msg, 12))
}

func (e *Error) Unwrap() error { return e.Err }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tool returns the path of a sibling program of nix (nix-store, nix-env).
func (n *Nix) tool(name string) string {
	if i := strings.LastIndex(n.Bin, "/"); i >= 0 {
		if p := n.Bin[:i+1] + name; fileExists(p) {
			return p
		}
	}
	return name
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// run executes prog with args and returns stdout.
func (n *Nix) run(ctx context.Context, env []string, prog string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	return n.runLog(ctx, env, &stderr, stderr.String, prog, args...)
}

// runLog runs prog with its stderr going to log; text gives the stderr
// text for the error message once the process ended.
func (n *Nix) runLog(ctx context.Context, env []string, log io.Writer, text func() string, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(append(os.Environ(), n.Env...), env...)
	// nix copy's ssh child may outlive a killed nix (see remote.runCmd).
	cmd.WaitDelay = 2 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, log
	if n.Log != nil {
		cmd.Stderr = io.MultiWriter(log, n.Log)
	}
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &Error{Args: append([]string{prog}, args...), Stderr: text(), Err: err}
	}
	return stdout.Bytes(), nil
}

// nix runs `nix <sub> <features> <the user's flags> args...`.
func (n *Nix) nix(ctx context.Context, env []string, args ...string) ([]byte, error) {
	full := append([]string{args[0]}, features...)
	full = append(full, n.Flags.Args(args[0])...)
	full = append(full, args[1:]...)
	return n.run(ctx, env, n.Bin, full...)
}

// EvalJSON evaluates a Nix expression (impure, so it may call
// builtins.getFlake on a local path) and decodes its JSON value into v.
func (n *Nix) EvalJSON(ctx context.Context, expr string, v any) error {
	out, err := n.nix(ctx, nil, "eval", "--json", "--impure", "--expr", expr)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("nix eval: reading its JSON output: %w", err)
	}
	return nil
}

// Built is one derivation that nix build realised.
type Built struct {
	DrvPath string            `json:"drvPath"`
	Outputs map[string]string `json:"outputs"`
}

// Build realises installables with one `nix build --json --no-link`, so the
// flake is evaluated once for all of them. Nix does not report results in the
// order of the installables: callers match them by DrvPath.
func (n *Nix) Build(ctx context.Context, installables []string) ([]Built, error) {
	if len(installables) == 0 {
		return nil, nil
	}
	// --keep-going: one failing closure must not leave the others unbuilt.
	args := append([]string{"build", "--json", "--no-link", "--keep-going"}, installables...)
	out, err := n.nix(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	var built []Built
	if err := json.Unmarshal(out, &built); err != nil {
		return nil, fmt.Errorf("nix build: reading its JSON output: %w", err)
	}
	return built, nil
}

// DrvInstallable names all outputs of a store derivation as an installable:
// Nix 2.13 and later read a bare .drv path as the file itself and need
// `^*`; older Nix builds the outputs of a bare .drv path and knows no `^`.
func (n *Nix) DrvInstallable(drv string) string {
	if n.Version.AtLeast(2, 13) {
		return drv + "^*"
	}
	return drv
}

// BuildDrvs realises store derivations and returns drvPath → out path.
func (n *Nix) BuildDrvs(ctx context.Context, drvs []string) (map[string]string, error) {
	inst := make([]string, len(drvs))
	for i, d := range drvs {
		inst[i] = n.DrvInstallable(d)
	}
	built, err := n.Build(ctx, inst)
	if err != nil {
		return nil, err
	}
	res := make(map[string]string, len(built))
	for _, b := range built {
		res[b.DrvPath] = b.Outputs["out"]
	}
	for _, d := range drvs {
		if res[d] == "" {
			return nil, fmt.Errorf("nix build did not report an out path for %s", d)
		}
	}
	return res, nil
}

// PathInfo is one store path's metadata.
type PathInfo struct {
	Path       string   `json:"path"`
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
	Valid      bool     `json:"-"`
}

// ParsePathInfo reads `nix path-info --json` output in both shapes: an array
// of objects with a "path" field (before Nix 2.19) or an object keyed by path
// (2.19 and later, where an invalid path maps to null).
func ParsePathInfo(data []byte) ([]PathInfo, error) {
	data = bytes.TrimSpace(data)
	var infos []PathInfo
	if len(data) > 0 && data[0] == '[' {
		var arr []struct {
			PathInfo
			Valid *bool `json:"valid"`
		}
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, fmt.Errorf("reading path-info JSON: %w", err)
		}
		for _, a := range arr {
			a.PathInfo.Valid = a.Valid == nil || *a.Valid
			infos = append(infos, a.PathInfo)
		}
		return infos, nil
	}
	var m map[string]*PathInfo
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading path-info JSON: %w", err)
	}
	for p, info := range m {
		if info == nil {
			infos = append(infos, PathInfo{Path: p})
			continue
		}
		info.Path, info.Valid = p, true
		infos = append(infos, *info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Path < infos[j].Path })
	return infos, nil
}

// Closure returns the closure of paths in the local store with sizes.
func (n *Nix) Closure(ctx context.Context, paths []string) ([]PathInfo, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	out, err := n.nix(ctx, nil, append([]string{"path-info", "--json", "-r"}, paths...)...)
	if err != nil {
		return nil, err
	}
	return ParsePathInfo(out)
}

// SSHOptsEnv returns the NIX_SSHOPTS entry that makes nix pass opts to ssh
// (so that it reuses a master connection). Nix splits NIX_SSHOPTS on whitespace, so no option may contain
// a space.
func SSHOptsEnv(opts []string) []string {
	return []string{"NIX_SSHOPTS=" + strings.Join(opts, " ")}
}

// CopyOptions tunes Copy.
type CopyOptions struct {
	// SSHOpts are passed to ssh through NIX_SSHOPTS (the shared master connection).
	SSHOpts []string
	// SubstituteOnDestination lets the target fetch paths from its own substituters.
	SubstituteOnDestination bool
	// From copies from Store into the local store instead of to it.
	From bool
	// Progress, when set, is called with each store path as nix starts
	// copying it.
	Progress func(path string)
}

// Copy copies the closures of paths to (or from) the store URL with `nix
// copy`. Nix itself skips paths the destination already holds.
func (n *Nix) Copy(ctx context.Context, store string, paths []string, o CopyOptions) error {
	if len(paths) == 0 {
		return nil
	}
	dir := "--to"
	if o.From {
		dir = "--from"
	}
	args := []string{"copy", dir, store}
	if o.SubstituteOnDestination {
		args = append(args, "--substitute-on-destination")
	}
	if o.Progress == nil {
		_, err := n.nix(ctx, SSHOptsEnv(o.SSHOpts), append(args, paths...)...)
		return err
	}
	// Nix's structured log says which path it copies; its messages are
	// turned back into text for the error.
	log := &jsonLog{onCopy: o.Progress}
	full := append([]string{"copy"}, features...)
	full = append(full, "--log-format", "internal-json")
	full = append(full, args[1:]...)
	full = append(full, paths...)
	_, err := n.runLog(ctx, SSHOptsEnv(o.SSHOpts), log, log.String, n.Bin, full...)
	return err
}

// Sign signs the closures of paths in the local store with a secret key file
// (`nix store sign`), so hosts that trust the key accept them from a cache.
func (n *Nix) Sign(ctx context.Context, keyFile string, paths []string) error {
	_, err := n.nix(ctx, nil, append([]string{"store", "sign", "--key-file", keyFile, "-r"}, paths...)...)
	return err
}

// DerivationClosure returns the closure of store derivations (the .drv files
// and sources a build on another machine needs) with their sizes. It uses
// nix-store, because `nix path-info` reads a .drv installable as its outputs
// before Nix 2.13.
func (n *Nix) DerivationClosure(ctx context.Context, drvs []string) ([]PathInfo, error) {
	if len(drvs) == 0 {
		return nil, nil
	}
	paths, err := n.Requisites(ctx, drvs...)
	if err != nil {
		return nil, err
	}
	sizes, err := n.run(ctx, nil, n.tool("nix-store"), append([]string{"--query", "--size"}, paths...)...)
	if err != nil {
		return nil, err
	}
	fs := strings.Fields(string(sizes))
	if len(fs) != len(paths) {
		return nil, fmt.Errorf("nix-store --query --size printed %d sizes for %d paths", len(fs), len(paths))
	}
	infos := make([]PathInfo, len(paths))
	for i, p := range paths {
		size, _ := strconv.ParseInt(fs[i], 10, 64)
		infos[i] = PathInfo{Path: p, NarSize: size, Valid: true}
	}
	return infos, nil
}

// CopyDerivations sends store derivations and their closure (no outputs) to
// an ssh:// store with nix-copy-closure, which takes store paths literally:
// `nix copy` reads a .drv argument as its outputs before Nix 2.13.
func (n *Nix) CopyDerivations(ctx context.Context, store string, drvs []string, sshOpts []string) error {
	host, ok := strings.CutPrefix(store, "ssh://")
	if !ok {
		return fmt.Errorf("copying derivations needs an ssh:// store, not %s", store)
	}
	_, err := n.run(ctx, SSHOptsEnv(sshOpts), n.tool("nix-copy-closure"), append([]string{"--to", host}, drvs...)...)
	return err
}

// Invalid returns the paths the local store does not hold (not built, or
// never fetched).
func (n *Nix) Invalid(ctx context.Context, paths []string) (map[string]bool, error) {
	invalid := map[string]bool{}
	if len(paths) == 0 {
		return invalid, nil
	}
	out, err := n.run(ctx, nil, n.tool("nix-store"), append([]string{"--check-validity", "--print-invalid"}, paths...)...)
	if err != nil {
		return nil, err
	}
	for _, p := range strings.Fields(string(out)) {
		invalid[p] = true
	}
	return invalid, nil
}

// Substitution says where a store that lacks a path fetches it: a binary
// cache (a substituter URL) and, when the store's configuration does not
// trust it yet, the public key the cache's paths are signed with.
type Substitution struct {
	From      string
	PublicKey string
	// RequireSigs insists on valid signatures whatever the store's
	// configuration says (require-sigs = true): what the pull agent relies on.
	RequireSigs bool
}

// RealiseArgs is the command line that makes a store hold path's closure,
// substituted from s, for running on the machine that owns the store (as
// root there: it passes substituters and keys as options). Nix checks the
// signatures of what it fetches against its trusted keys.
func RealiseArgs(path string, s Substitution) []string {
	args := []string{"nix-store", "--realise", path}
	if s.From != "" {
		args = append(args, "--option", "extra-substituters", s.From)
	}
	if s.PublicKey != "" {
		args = append(args, "--option", "extra-trusted-public-keys", s.PublicKey)
	}
	if s.RequireSigs {
		args = append(args, "--option", "require-sigs", "true")
	}
	return args
}
