package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/nixherd/nixherd/internal/nix"
	"github.com/spf13/pflag"
)

// nixFlags are the nix options of the commands that evaluate or build,
// spelled as nixos-rebuild spells them: -L/--print-build-logs,
// --show-trace, -v (repeatable), --option NAME VALUE, -j/--max-jobs,
// --builders, -k/--keep-going, --offline.
type nixFlags struct {
	flags    nix.Flags
	builders string
	options  []string // NAME=VALUE, see splitOptionArgs
	set      *pflag.FlagSet
}

func (f *nixFlags) register(fs *pflag.FlagSet) {
	f.set = fs
	fs.BoolVarP(&f.flags.PrintBuildLogs, "print-build-logs", "L", false, "nix: show the builders' logs as they run")
	fs.BoolVar(&f.flags.ShowTrace, "show-trace", false, "nix: show the evaluation trace of an error")
	fs.CountVarP(&f.flags.Verbose, "verbose", "v", "nix: more verbose output (repeatable)")
	fs.StringArrayVar(&f.options, "option", nil, "nix: set the configuration setting `NAME VALUE` (repeatable)")
	fs.StringVarP(&f.flags.MaxJobs, "max-jobs", "j", "", "nix: build at most `N` derivations at once here (a number or auto)")
	fs.StringVar(&f.builders, "builders", "", "nix: the remote `BUILDERS` to use (as nix.conf's builders; \"\" for none)")
	fs.BoolVarP(&f.flags.KeepGoing, "keep-going", "k", false, "nix: keep building what it can after a build fails")
	fs.BoolVar(&f.flags.Offline, "offline", false, "nix: use no substituters and no network fetches")
}

// nix returns the nix options as given, checked.
func (f *nixFlags) nix(fs *pflag.FlagSet) (nix.Flags, error) {
	out := f.flags
	out.Options = nil
	for _, o := range f.options {
		name, value, ok := strings.Cut(o, "=")
		if !ok || name == "" {
			return out, fmt.Errorf("--option takes a setting's NAME and VALUE: --option %s …", o)
		}
		out.Options = append(out.Options, nix.Option{Name: name, Value: value})
	}
	if out.MaxJobs != "" && !nix.ValidMaxJobs(out.MaxJobs) {
		return out, fmt.Errorf("--max-jobs %q: give a number or auto", out.MaxJobs)
	}
	if fs != nil && fs.Changed("builders") {
		b := f.builders
		out.Builders = &b
	}
	return out, nil
}

// probe finds nix and gives it the user's options; when they ask to see
// what nix does (-L, -v, --show-trace), nix's stderr goes to stderr as it
// is written.
func (f *nixFlags) probe(ctx context.Context, stderr io.Writer) (*nix.Nix, error) {
	flags, err := f.nix(f.set)
	if err != nil {
		return nil, exitCode(2, err)
	}
	n, err := nix.Probe(ctx)
	if err != nil {
		return nil, err
	}
	n.Flags = flags
	if flags.Diagnostic() {
		n.Log = stderr
	}
	return n, nil
}

// optionFlag is the long name of nix's two-value option.
const optionFlag = "--option"

// splitOptionArgs rewrites nix's `--option NAME VALUE` into the
// `--option NAME=VALUE` a flag parser takes, so that VALUE is not read as
// a positional argument (a machine selector). Arguments after "--" are left
// alone; a trailing --option without both values is left for the parser to
// refuse.
func splitOptionArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == optionFlag && i+2 < len(args) {
			out = append(out, optionFlag, args[i+1]+"="+args[i+2])
			i += 2
			continue
		}
		out = append(out, a)
	}
	return out
}
