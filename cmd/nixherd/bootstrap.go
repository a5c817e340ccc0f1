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
		var machine string
		var fl flakeFlag
		var nf nixFlags
		var dryRun bool
		cmd := &cobra.Command{
			Use:   "bootstrap [--machine NAME] [--flake FLAKE[#NAME]]",
			Short: "Install nix-darwin on a Mac for the first time",
			Long: `bootstrap does the first-time nix-darwin install on a Mac that has Nix but
not yet darwin-rebuild: it runs nix-darwin's own darwin-rebuild through
"nix run" as root, with flakes enabled on the command line, and switches to
the machine's configuration. Afterwards use "nixherd switch".

The machine is --machine NAME or --flake FLAKE#NAME, else the Mac's
LocalHostName, as darwin-rebuild does.
On Linux it refuses: NixOS and home-manager machines need no bootstrap.`,
			Example: "  nixherd bootstrap --flake ~/fleet#devmac",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				machine, err := fl.machineArg(machine)
				if err != nil {
					return err
				}
				flags, err := nf.nix(nf.set)
				if err != nil {
					return exitCode(exitUsage, err)
				}
				if machine == "" && runtime.GOOS == "darwin" {
					machine = local.This(cmd.Context()).Hostname
				}
				args, err := local.BootstrapCommand(runtime.GOOS, fl.ref().Flake, machine, os.Geteuid() == 0, flags.Args("run"))
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
		fl.register(cmd.Flags())
		nf.register(cmd.Flags())
		cmd.RegisterFlagCompletionFunc("machine", fl.machineFlagCompletion)
		cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the command without running it")
		return cmd
	})
}
