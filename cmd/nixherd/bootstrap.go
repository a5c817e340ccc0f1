package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/nixherd/nixherd/internal/local"
	"github.com/nixherd/nixherd/internal/shell"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var machine, flake string
		var dryRun bool
		cmd := &cobra.Command{
			Use:   "bootstrap [--machine NAME] [--flake DIR]",
			Short: "Install nix-darwin on a Mac for the first time",
			Long: `bootstrap does the first-time nix-darwin install on a Mac that has Nix but
not yet darwin-rebuild: it runs nix-darwin's own darwin-rebuild through
"nix run" as root, with flakes enabled on the command line, and switches to
the machine's configuration. Afterwards use "nixherd switch".

The machine defaults to the Mac's LocalHostName, as darwin-rebuild does.
On Linux it refuses: NixOS and home-manager machines need no bootstrap.`,
			Example: "  nixherd bootstrap --machine devmac --flake ~/fleet",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if machine == "" && runtime.GOOS == "darwin" {
					machine = local.This(cmd.Context()).Hostname
				}
				args, err := local.BootstrapCommand(runtime.GOOS, flake, machine, os.Geteuid() == 0)
				if err != nil {
					return exitCode(2, withMachineHint(err))
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "+", shell.Join(args))
				if dryRun {
					return nil
				}
				run := exec.CommandContext(cmd.Context(), args[0], args[1:]...)
				run.Stdin, run.Stdout, run.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
				if err := run.Run(); err != nil {
					return fmt.Errorf("bootstrap of %s failed: %w", machine, err)
				}
				return nil
			},
		}
		cmd.Flags().StringVar(&machine, "machine", "", "the darwinConfigurations `NAME` to install (default: this Mac's LocalHostName)")
		cmd.Flags().StringVar(&flake, "flake", ".", "the fleet flake `DIR`")
		cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the command without running it")
		return cmd
	})
}
