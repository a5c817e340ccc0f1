package nix

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// BuildFailure is one derivation nix failed to build, as its error says.
type BuildFailure struct {
	Drv string
	// Line is nix's own error line, without "error: " ("builder for
	// '/nix/store/…-x.drv' failed with exit code 3").
	Line string
	// Log is the end of the builder's log nix quoted with the error (when
	// it was not printed as it ran, with -L), oldest line first.
	Log []string
}

// Reason is the failure on one line: nix's error line, and the last line of
// the builder's log, where a build usually says why.
func (f BuildFailure) Reason() string {
	r := strings.TrimSuffix(f.Line, ";")
	if n := len(f.Log); n > 0 {
		r += ": " + f.Log[n-1]
	}
	return r
}

var (
	drvInLine = regexp.MustCompile(`'(/nix/store/[^']+\.drv)'`)
	// failedRE matches the error nix gives a derivation whose builder
	// failed: "builder for '…drv' failed" (up to Nix 2.2x) and
	// "Cannot build '…drv'" (later releases).
	failedRE     = regexp.MustCompile(`^error: (builder for '/nix/store/[^']+\.drv' failed|Cannot build '/nix/store/[^']+\.drv')`)
	quotedLogRE  = regexp.MustCompile(`^\s+> ?(.*)$`)
	reasonRE     = regexp.MustCompile(`^\s+Reason: (.*)$`)
	dependencyRE = regexp.MustCompile(`^\d+ dependenc(y|ies) failed`)
)

// BuildFailures reads the derivations that failed from nix build's stderr
// (with --keep-going there can be many), each with its error line and the
// log lines nix quoted. Errors that only repeat a dependency's failure
// ("1 dependencies of derivation … failed to build") are left out.
func BuildFailures(stderr string) []BuildFailure {
	var out []BuildFailure
	var cur *BuildFailure
	for _, line := range strings.Split(stderr, "\n") {
		line = ansiRE.ReplaceAllString(line, "")
		if strings.HasPrefix(line, "error:") {
			cur = nil
			if failedRE.MatchString(line) {
				m := drvInLine.FindStringSubmatch(line)
				out = append(out, BuildFailure{Drv: m[1], Line: strings.TrimPrefix(line, "error: ")})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		if m := quotedLogRE.FindStringSubmatch(line); m != nil {
			cur.Log = append(cur.Log, m[1])
		} else if m := reasonRE.FindStringSubmatch(line); m != nil {
			if dependencyRE.MatchString(m[1]) {
				// Later Nix says "Cannot build" of what a failed
				// dependency kept from building too.
				out, cur = out[:len(out)-1], nil
				continue
			}
			// Later Nix puts the exit status on a line of its own.
			cur.Line = strings.TrimSuffix(cur.Line, ".") + ": " + strings.TrimSuffix(m[1], ".")
		} else if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, " ") {
			cur = nil // a progress line: the error's block ended
		}
	}
	return out
}

// Requisites lists the store paths the given ones need (for a derivation:
// every derivation and source it is built from), themselves included. It
// uses nix-store, which reads a .drv path as the file itself on every Nix.
func (n *Nix) Requisites(ctx context.Context, paths ...string) ([]string, error) {
	out, err := n.run(ctx, nil, n.tool("nix-store"), append([]string{"--query", "--requisites"}, paths...)...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// derivationJSON is one entry of `nix derivation show -r` (`nix
// show-derivation -r` before Nix 2.15); only what FailedDerivations reads.
type derivationJSON struct {
	Outputs map[string]struct {
		Path string `json:"path"`
	} `json:"outputs"`
	InputDrvs map[string]json.RawMessage `json:"inputDrvs"`
}

// FailedDerivations finds, in the closure of the derivation drv, the
// derivations that failed to build: an output is missing although every
// derivation they are built from was built. Nix 2.8 reports only the first
// failure of a --keep-going build, so the others are read from the store
// itself, each with the end of the log nix kept of its build.
func (n *Nix) FailedDerivations(ctx context.Context, drv string) ([]BuildFailure, error) {
	args := []string{"show-derivation", "-r", drv}
	if n.Version.AtLeast(2, 15) {
		args = []string{"derivation", "show", "-r", drv}
	}
	out, err := n.nix(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	var raw map[string]derivationJSON
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("reading the derivations of %s: %w", drv, err)
	}
	// Later Nix may name derivations by their base name only.
	storeDir := path.Dir(drv)
	full := func(p string) string {
		if p == "" || strings.HasPrefix(p, "/") {
			return p
		}
		return storeDir + "/" + p
	}
	drvs := map[string]derivationJSON{}
	var outputs []string
	for k, d := range raw {
		drvs[full(k)] = d
		for _, o := range d.Outputs {
			if o.Path != "" {
				outputs = append(outputs, full(o.Path))
			}
		}
	}
	invalid, err := n.Invalid(ctx, outputs)
	if err != nil {
		return nil, err
	}
	broken := map[string]bool{}
	for k, d := range drvs {
		for _, o := range d.Outputs {
			if o.Path != "" && invalid[full(o.Path)] {
				broken[k] = true
			}
		}
	}
	var failed []BuildFailure
	for k := range broken {
		leaf := true
		for in := range drvs[k].InputDrvs {
			leaf = leaf && !broken[full(in)]
		}
		if !leaf {
			continue
		}
		failed = append(failed, BuildFailure{Drv: k, Line: fmt.Sprintf("builder for '%s' failed", k), Log: n.BuildLog(ctx, k, 5)})
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].Drv < failed[j].Drv })
	return failed, nil
}

// BuildLog is the last n lines of the log nix kept of the build of drv
// (none when it kept none).
func (n *Nix) BuildLog(ctx context.Context, drv string, lines int) []string {
	log, err := n.run(ctx, nil, n.tool("nix-store"), "--read-log", drv)
	if err != nil {
		return nil
	}
	return tailLines(string(log), lines)
}

// tailLines is the last n non-empty lines of s, without ANSI colours.
func tailLines(s string, n int) []string {
	var lines []string
	for _, l := range strings.Split(ansiRE.ReplaceAllString(s, ""), "\n") {
		if l = strings.TrimRight(l, " \r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines[max(0, len(lines)-n):]
}
