package main

import (
	"fmt"
	"strings"

	"github.com/nixherd/nixherd"
	"github.com/nixherd/nixherd/internal/scaffold"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			user     string
			machines []string
			force    bool
		)
		cmd := &cobra.Command{
			Use:   "init DIR",
			Short: "Write the reference fleet into a new folder",
			Long: `init writes nixherd's reference fleet into DIR: a flake with a nix-darwin Mac
(devmac) and two NixOS VMs (devnix, ephem), home-manager programs, services
in NixOS containers, and agenix secrets encrypted to demo keys.

DIR must be missing or empty unless --force is given. The fleet is written
to a temporary folder first (beside a missing DIR, inside an existing one)
and moved into place at the end, so a failed or interrupted init leaves DIR
as it was. With --force, the fleet's files replace those of the same name in
DIR (all of them or, if anything fails, none) and other files stay.`,
			Example: `  nixherd init ~/fleet
  nixherd init ~/fleet --user alice --machines devmac,devnix`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := args[0]
				opts := scaffold.Options{User: user, Machines: machines}
				// SIGINT and SIGTERM stop the write, which then undoes itself.
				ctx := cmd.Context()
				files, err := scaffold.Write(ctx, nixherd.ReferenceFleet, dir, opts, force)
				if err != nil {
					return exitCode(1, err)
				}
				out := cmd.OutOrStdout()
				kept := machines
				if len(kept) == 0 {
					for _, m := range scaffold.Machines {
						kept = append(kept, m.Name)
					}
				}
				fmt.Fprintf(out, "wrote %d files to %s (machines: %s; user: %s)\n",
					len(files), dir, strings.Join(kept, ", "), user)
				fmt.Fprintln(out, "secrets/ holds example secrets encrypted to published demo keys:")
				fmt.Fprintln(out, "replace the keys in keys.nix with your own and re-encrypt before adding real secrets.")
				return nil
			},
		}
		cmd.Flags().StringVar(&user, "user", scaffold.DefaultUser, "login name of the fleet's user, put in place of "+scaffold.DefaultUser)
		cmd.Flags().StringSliceVar(&machines, "machines", nil, "comma-separated machines to keep (default all: devmac,devnix,ephem)")
		cmd.Flags().BoolVar(&force, "force", false, "write into DIR even if it is not empty, replacing files the fleet has")
		return cmd
	})
}
