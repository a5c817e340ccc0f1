package main

import (
	"fmt"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var fl fleetFlags
		var asJSON bool
		var releaseAt string
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

A machine deploy.nix declares pulled (pull = { agent = "http://host:9851"; })
is read from its agent's /status instead of over ssh: its state says pull
and, when it is not in sync, whether its release is not published yet, is
on its way, or failed (and at which stage); --json carries the agent's
report under "agent". Every machine has when it began to run what it runs
(since), its last deployment and where it failed (lastDeploy: a pulled
machine's agent's, a pushed machine's last guarded switch), whether it needs
a reboot, and for a pulled machine whether its agent is stale. --release
adds the release a publisher serves and the rollout record beside it, as
nixherd dashboard shows them; the last rollout in waves of this fleet from
this machine (deploy --wave/--waves) is shown too, when it is the later.

Exit status: 0 when every machine was reached and runs its desired
configuration; 1 when some machine is out of sync, was never deployed, or
could not be read or evaluated; 3 when some machine could not be reached
(this outranks 1, so monitoring can tell "a host is down" from "the fleet
drifted"); 2 for bad input.`,
			Example: `  nixherd status
  nixherd status @vm --json
  nixherd status devnix -F ~/.ssh/fleet_config`,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				all := len(args) == 0 && fl.ref().Machine == ""
				machines, err := fl.selectMachines(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: args, All: all}, "show", false})
				if err != nil {
					return err
				}
				ms, err := status.Query(ctx, machines, status.Options{Flake: fl.fleet.Flake, Nix: fl.nix, SSHOptions: fl.sshOptions()})
				if err != nil {
					return err
				}
				report := status.NewReport(ms)
				if releaseAt != "" {
					if report.Release, report.Rollout, err = status.ReadRelease(ctx, releaseAt); err != nil {
						return err
					}
				}
				// The last push rollout of this fleet from this machine,
				// when it is later than the pull rollout.
				if file, err := fl.pushRecord(); err == nil {
					if pushed, err := rollout.ReadRecord(file); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: warning: the last push rollout's record: %v\n", err)
					} else {
						report.Rollout = rollout.Latest(report.Rollout, pushed)
					}
				}
				if asJSON {
					report.WriteJSON(cmd.OutOrStdout())
				} else {
					report.WriteTable(cmd.OutOrStdout())
				}
				switch {
				case report.Unreachable():
					return exitCode(exitUnreachable, nil)
				case !report.InSync:
					return exitCode(exitReported, nil)
				}
				return nil
			},
		}
		fl.register(cmd.Flags())
		fl.registerNix(cmd.Flags())
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
		cmd.Flags().StringVar(&releaseAt, "release", "", "also show the release published at `WHERE` (publish's --to, or the manifest's URL) and the rollout beside it")
		return cmd
	})
}
