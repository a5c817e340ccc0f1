package nix

import "strconv"

// Flags are the options a Nix user passes when a build or an evaluation
// fails, the ones nixos-rebuild and darwin-rebuild hand through to nix:
// -L, --show-trace, -v, --option NAME VALUE, -j, --builders, --keep-going
// and --offline. Each nix invocation that evaluates or builds gets them in
// the form its command line takes (Args for the new CLI, LegacyArgs for
// nix-store and nix-instantiate).
type Flags struct {
	PrintBuildLogs bool // -L: the builders' logs as they run (new CLI only)
	ShowTrace      bool // --show-trace: the evaluation trace of an error
	Verbose        int  // -v, repeated
	Options        []Option
	MaxJobs        string  // -j N or "auto"; "" leaves nix's setting
	Builders       *string // --builders SPEC; nil leaves nix's setting ("" disables remote builders)
	KeepGoing      bool
	Offline        bool // no substituters, cached downloads count as fresh (new CLI only)
}

// Option is one --option NAME VALUE.
type Option struct{ Name, Value string }

// Diagnostic reports whether the flags ask to see nix's own output: logs,
// traces or more verbosity are useless when nix's stderr is only kept for
// an error message.
func (f Flags) Diagnostic() bool { return f.PrintBuildLogs || f.ShowTrace || f.Verbose > 0 }

// evaluatesOrBuilds are the nix subcommands the flags are given to.
var evaluatesOrBuilds = map[string]bool{"eval": true, "build": true, "flake": true, "run": true}

// Args returns the flags for `nix SUB …` when SUB evaluates or builds
// (eval, build, flake, run), and none for the others.
func (f Flags) Args(sub string) []string {
	if !evaluatesOrBuilds[sub] {
		return nil
	}
	var args []string
	if f.PrintBuildLogs {
		args = append(args, "--print-build-logs")
	}
	if f.Offline {
		args = append(args, "--offline")
	}
	return append(args, f.common()...)
}

// LegacyArgs returns the flags for nix-store and nix-instantiate, which know
// neither -L (nix-store prints build logs anyway) nor --offline (given as
// `--option substitute false`, its effect on a build).
func (f Flags) LegacyArgs() []string {
	var args []string
	if f.Offline {
		args = append(args, "--option", "substitute", "false")
	}
	return append(args, f.common()...)
}

// common are the flags both command lines take the same way.
func (f Flags) common() []string {
	var args []string
	if f.ShowTrace {
		args = append(args, "--show-trace")
	}
	for range f.Verbose {
		args = append(args, "-v")
	}
	if f.MaxJobs != "" {
		args = append(args, "--max-jobs", f.MaxJobs)
	}
	if f.Builders != nil {
		args = append(args, "--builders", *f.Builders)
	}
	if f.KeepGoing {
		args = append(args, "--keep-going")
	}
	for _, o := range f.Options {
		args = append(args, "--option", o.Name, o.Value)
	}
	return args
}

// ValidMaxJobs reports whether s is a value nix takes for --max-jobs.
func ValidMaxJobs(s string) bool {
	if s == "auto" {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0
}
