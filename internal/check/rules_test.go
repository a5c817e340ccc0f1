package check

import (
	"reflect"
	"testing"

	"github.com/nixherd/nixherd/internal/fleet"
)

func imp(from, to string, line int) *fleet.Import {
	return &fleet.Import{From: from, To: to, Kind: fleet.ModuleImport, Exists: true, Pos: fleet.Pos{File: from, Line: line, Col: 1}}
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
