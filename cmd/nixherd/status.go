package main

import (
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/spf13/cobra"
)

// Exit codes of nixherd status.
const (
	statusUnreachable = 3 // a machine could not be reached or read
	statusOutOfSync   = 4 // every machine was read; some do not run their desired configuration
)

func init() {
	register(func() *cobra.Command {
		var fl fleetFlags
		var asJSON bool
		cmd := &cobra.Command{
			Use:   "status [SELECTOR...]",
			Short: "Show what each machine runs and whether it matches the flake",
			Long: `status shows, for each machine of deploy.nix (or those the selectors name:
names, globs like dev*, tags like @vm, comma lists), whether it is reachable,
its running generation (number, date, store path), the configuration the
flake wants it to run, and whether the two match.

The desired configurations come from one evaluation of the flake for all
machines (their store paths; nothing is built). Hosts are queried in
parallel, over one ssh connection each. On NixOS the running configuration is
/run/current-system, which differs from the profile after a boot or test
action; on nix-darwin and home-manager it is the profile's generation.

Exit status: 0 when every machine was reached and runs its desired
configuration; 3 when some machine could not be reached or read; 4 when all
were read but some are out of sync (or were never deployed); 2 for bad input
and 1 when the flake could not be evaluated.`,
			Example: `  nixherd status
  nixherd status @vm --json
  nixherd status devnix -F ~/.ssh/fleet_config`,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				machines, err := fl.selectMachines(ctx, selection{hosts.Selection{Selectors: args, All: len(args) == 0}, "show", false})
				if err != nil {
					return exitCode(2, err)
				}
				n, err := nix.Probe(ctx)
				if err != nil {
					return err
				}
				ms, err := status.Query(ctx, machines, status.Options{Flake: fl.flake, Nix: n, SSHOptions: fl.sshOptions()})
				if err != nil {
					return err
				}
				report := status.NewReport(ms)
				if asJSON {
					report.WriteJSON(cmd.OutOrStdout())
				} else {
					report.WriteTable(cmd.OutOrStdout())
				}
				switch {
				case report.Unreachable():
					return exitCode(statusUnreachable, nil)
				case !report.InSync:
					return exitCode(statusOutOfSync, nil)
				}
				return nil
			},
		}
		fl.register(cmd.Flags())
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
		return cmd
	})
}
