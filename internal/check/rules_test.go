package check

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/nixlang"
)

func imp(from, to string, line int) *fleet.Import {
	return &fleet.Import{From: from, To: to, Kind: fleet.ModuleImport, Exists: true, Pos: nixlang.Position{File: from, Line: line, Col: 1}}
}

// TestProgramImportsMachineChains pins down where a chain is reported: at
// the first program's import, unless the chain passes through another
// program, which is then the one reported; cycles end.
func TestProgramImportsMachineChains(t *testing.T) {
	f := &fleet.Fleet{Imports: []*fleet.Import{
		imp("programs/a/default.nix", "lib/x.nix", 1),
		imp("lib/x.nix", "lib/y.nix", 1),
		imp("lib/y.nix", "lib/x.nix", 2), // a cycle
		imp("lib/y.nix", "machines/m/default.nix", 3),
		imp("programs/b/default.nix", "programs/c/default.nix", 1),
		imp("programs/c/default.nix", "machines/m/hardware.nix", 1),
		imp("programs/d/default.nix", "lib/z.nix", 1),
		imp("machines/m/default.nix", "programs/a/default.nix", 1), // the allowed direction
	}}
	var got []string
	for _, fd := range checkProgramImports(f) {
		got = append(got, fd.File+": "+fd.Message)
	}
	want := []string{
		"programs/a/default.nix: program module imports machine config machines/m/default.nix through programs/a/default.nix → lib/x.nix → lib/y.nix → machines/m/default.nix; programs must not depend on machines",
		"programs/c/default.nix: program module imports machine config machines/m/hardware.nix; programs must not depend on machines",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestReportOutputAndExit(t *testing.T) {
	r := &Report{}
	r.Add(Finding{File: "b.nix", Line: 2, Col: 1, Severity: Warning, Rule: "static", Message: "w"},
		Finding{File: "a.nix", Line: 3, Col: 4, Severity: Error, Rule: "syntax", Message: "e"},
		Finding{File: "a.nix", Severity: Warning, Rule: "flake-lock", Message: "whole file"})
	r.Sort()
	if got := r.Findings[0].String(); got != "a.nix: warning: whole file" {
		t.Errorf("first finding %q", got)
	}
	if got := r.Findings[1].String(); got != "a.nix:3:4: error: e" {
		t.Errorf("second finding %q", got)
	}
	if !r.Failed(false) {
		t.Error("an error must fail")
	}
	warnOnly := &Report{Findings: r.Findings[2:]}
	if warnOnly.Failed(false) || !warnOnly.Failed(true) {
		t.Error("warnings fail only with --strict")
	}
}

// Relative path inputs need Nix 2.26: older local nix gets a warning at
// each such input, newer or no nix none, and nix is not asked about a fleet
// without them.
func TestLocalNixAndRelativePathInputs(t *testing.T) {
	pos := func(line int) nixlang.Position { return nixlang.Position{File: "flake.nix", Line: line, Col: 20} }
	f := &fleet.Fleet{Inputs: []*fleet.Input{
		{Name: "nixpkgs", URL: "github:NixOS/nixpkgs/nixos-25.05", Attrs: map[string]string{"type": "github", "owner": "NixOS", "repo": "nixpkgs", "ref": "nixos-25.05"}, URLPos: pos(3)},
		{Name: "svc", URL: "path:./service-flakes/svc", Attrs: map[string]string{"type": "path", "path": "./service-flakes/svc"}, URLPos: pos(4)},
		{Name: "abs", URL: "path:/srv/flake", Attrs: map[string]string{"type": "path", "path": "/srv/flake"}, URLPos: pos(5)},
		{Name: "up", Attrs: map[string]string{"type": "path", "path": "../shared"}, URLPos: pos(6)},
	}}
	withNix := func(v string) Env {
		return Env{NixVersion: func() (nix.Version, bool) {
			parsed, err := nix.ParseVersion(v)
			return parsed, err == nil
		}}
	}
	for _, tt := range []struct {
		env  Env
		want []string
	}{
		{withNix("nix (Nix) 2.8.0"), []string{
			"flake.nix:4:20: warning: input svc is a relative path (path:./service-flakes/svc), which needs Nix 2.26 or later; the local nix is 2.8.0, which keeps building the copy it locked after the flake changes",
			"flake.nix:6:20: warning: input up is a relative path (path:../shared), which needs Nix 2.26 or later; the local nix is 2.8.0, which keeps building the copy it locked after the flake changes",
		}},
		{withNix("nix (Nix) 2.25.9"), []string{"flake.nix:4:20", "flake.nix:6:20"}},
		{withNix("nix (Nix) 2.26.0"), nil},
		{Env{NixVersion: func() (nix.Version, bool) { return nix.Version{}, false }}, nil},
		{Env{}, nil},
	} {
		var got []string
		for _, fd := range checkLocalNix(f, tt.env) {
			got = append(got, fd.String())
		}
		if len(got) != len(tt.want) {
			t.Errorf("got %q, want %q", got, tt.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tt.want[i]) {
				t.Errorf("finding %q, want %q", got[i], tt.want[i])
			}
		}
	}
	asked := false
	noPath := &fleet.Fleet{Inputs: f.Inputs[:1]}
	if out := checkLocalNix(noPath, Env{NixVersion: func() (nix.Version, bool) { asked = true; return nix.Version{Major: 2, Minor: 8}, true }}); len(out) != 0 || asked {
		t.Errorf("a fleet without relative path inputs: findings %v, nix asked %v", out, asked)
	}
}
