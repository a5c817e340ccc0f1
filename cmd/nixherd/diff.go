package main

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			all    bool
			asJSON bool
			fl     fleetFlags
		)
		cmd := &cobra.Command{
			Use:   "diff [SELECTOR...]",
			Short: "Show what a deploy would change on each machine, package by package",
			Long: `Diff builds the selected machines' configurations (one evaluation, one
build, as deploy does) and compares each with what the machine runs now: the
packages added, removed and changing version, and the change in closure
size. The running system's closure is read on the machine itself over ssh,
so remote hosts are compared with what they really run. Nothing is copied or
activated.

Package names and versions come from store path names, split at the first
"-" followed by a digit; paths without a version count towards the size only.

Exit status: 0 when every machine was compared, 1 when some machine could
not be (its configuration did not evaluate or build), 3 when a host could
not be reached, 2 for bad input.`,
			Example: `  nixherd diff devnix
  nixherd diff @vm -F ~/.ssh/fleet_config
  nixherd diff --all --json
  nixherd diff --flake .#devnix`,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				machines, err := fl.selectMachines(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: args, All: all}, "diff", true})
				if err != nil {
					return err
				}
				// Built here whatever deploy.nix says: the new closure is
				// read in this machine's store.
				p, err := plan.Make(ctx, machines, plan.Options{Flake: fl.fleet.Flake, Action: target.Build, BuildOn: hosts.BuildLocal, Nix: fl.nix})
				if err != nil {
					return err
				}
				diffs, err := deploy.Diffs(ctx, p.Closures, fanout.Options{SSHOptions: fl.sshOptions()})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					ok := !slices.ContainsFunc(diffs, func(d deploy.MachineDiff) bool { return d.Err != nil })
					ui.WriteJSON(out, struct {
						Machines []deploy.MachineDiff `json:"machines"`
						OK       bool                 `json:"ok"`
					}{orNone(diffs), ok})
				} else {
					for i, d := range diffs {
						if i > 0 {
							fmt.Fprintln(out)
						}
						printDiff(out, d)
					}
				}
				return diffExit(diffs, asJSON)
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "compare every machine in deploy.nix")
		f.BoolVar(&asJSON, "json", false, "print the diffs as JSON")
		fl.register(f)
		fl.registerNix(f)
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		return cmd
	})
}

// printDiff prints a machine's diff (diff, deploy --ask) with what its host
// said escaped.
func printDiff(w io.Writer, d deploy.MachineDiff) {
	fmt.Fprint(w, ui.EscapeText(d.String()))
}

// diffExit is 0 when every machine was compared, 3 when a host could not be
// reached, else 1; without --json it says how many could not be compared.
func diffExit(diffs []deploy.MachineDiff, asJSON bool) error {
	failed, unreachable := 0, false
	for _, d := range diffs {
		var ce *remote.ConnectError
		if errors.As(d.Err, &ce) {
			unreachable = true
		}
		if d.Err != nil {
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	var err error
	if !asJSON {
		err = fmt.Errorf("%d of %d machines could not be compared", failed, len(diffs))
	}
	if unreachable {
		return exitCode(exitUnreachable, err)
	}
	return exitCode(exitReported, err)
}

// orNone is s, or an empty list for JSON's sake.
func orNone[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
