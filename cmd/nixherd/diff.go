package main

import (
	"fmt"
	"io"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			all bool
			fl  fleetFlags
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

Exits 1 when a machine could not be compared.`,
			Example: `  nixherd diff devnix
  nixherd diff @vm -F ~/.ssh/fleet_config
  nixherd diff --all`,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				machines, err := fl.selectMachines(ctx, selection{hosts.Selection{Selectors: args, All: all}, "diff", true})
				if err != nil {
					return exitCode(2, err)
				}
				n, err := nix.Probe(ctx)
				if err != nil {
					return err
				}
				// Built here whatever deploy.nix says: the new closure is
				// read in this machine's store.
				p, err := plan.Make(ctx, machines, plan.Options{Flake: fl.flake, Action: target.Build, BuildOn: hosts.BuildLocal, Nix: n})
				if err != nil {
					return err
				}
				diffs, err := deploy.Diffs(ctx, p.Closures, fanout.Options{SSHOptions: fl.sshOptions()})
				if err != nil {
					return err
				}
				failed := 0
				for i, d := range diffs {
					if i > 0 {
						fmt.Fprintln(cmd.OutOrStdout())
					}
					printDiff(cmd.OutOrStdout(), d)
					if d.Err != nil {
						failed++
					}
				}
				if failed > 0 {
					return exitCode(1, fmt.Errorf("%d of %d machines could not be compared", failed, len(diffs)))
				}
				return nil
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "compare every machine in deploy.nix")
		fl.register(f)
		return cmd
	})
}

// printDiff prints a machine's diff (diff, deploy --ask) with what its host
// said escaped.
func printDiff(w io.Writer, d deploy.MachineDiff) {
	fmt.Fprint(w, ui.EscapeText(d.String()))
}
