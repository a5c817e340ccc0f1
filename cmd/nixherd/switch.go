package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/local"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var machine, action string
		var fl flakeFlag
		var nf nixFlags
		cmd := &cobra.Command{
			Use:   "switch [--machine NAME] [--action ACTION] [--flake FLAKE[#NAME]]",
			Short: "Rebuild the machine nixherd runs on",
			Long: `switch builds this machine's configuration from the fleet flake and
activates it here, with the contract of its platform: NixOS
(switch-to-configuration), nix-darwin (system profile, then activate) or
standalone home-manager (its profile, then activate, as the user). It replaces
nixos-rebuild, darwin-rebuild and home-manager switch.

The machine is found by host name, as those tools do: nixosConfigurations
(Linux) or darwinConfigurations (macOS, LocalHostName) named after the host,
then homeConfigurations "USER@HOST" and "USER", then the one machine whose
deploy.nix target is "local". --machine NAME, or --flake FLAKE#NAME as
nixos-rebuild takes it, overrides the lookup.

A NixOS configuration is only switched to on NixOS (/etc/NIXOS), a nix-darwin
one only on a Mac: anywhere else switch refuses before anything is built or
changed (deploy it to its host instead). If the activation of a new
generation fails, the profile is put back on the generation it was on, so
the machine does not boot into the failed configuration.

Actions: switch (new generation, active now), boot (new generation, active
after a reboot; NixOS only), test (active now, no new generation),
dry-activate (show what would change; NixOS only), build (build only and
print the store path). Commands that need root run through sudo, which may
ask for your password; home-manager runs as you. Like a deploy, a switch
holds the machine's deploy lock while it changes the machine.

Exit status: 0 on success, 2 for bad input (unknown action or machine, no
flake.nix, a configuration this machine cannot run), 1 when the build or
the activation failed.`,
			Example: `  nixherd switch
  nixherd switch --flake .#devnix --action boot
  nixherd switch --action build --flake ~/fleet -L`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				a, err := target.ParseAction(action)
				if err != nil {
					return exitCode(2, err)
				}
				name, err := fl.machineArg(machine)
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				n, err := nf.probe(ctx, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				fleet, err := fl.resolve(ctx, n)
				if err != nil {
					return err
				}
				if _, err := os.Stat(filepath.Join(fleet.Dir, "flake.nix")); err != nil {
					return exitCode(2, fmt.Errorf("%s: no flake.nix here; pass --flake DIR", fleet.Dir))
				}

				var inv *hosts.Inventory
				if _, err := os.Stat(filepath.Join(fleet.Dir, hosts.FileName)); err == nil {
					if inv, err = hosts.Load(ctx, filepath.Join(fleet.Dir, hosts.FileName)); err != nil {
						return exitCode(2, err)
					}
				}
				m, err := localMachine(cmd, n, fleet.Flake, inv, name)
				if err != nil {
					return exitCode(2, err)
				}
				res, err := local.Switch(ctx, local.SwitchOptions{
					Flake:    fleet.Flake,
					Machine:  m,
					Action:   a,
					Nix:      n,
					Runner:   local.Runner{Stderr: cmd.ErrOrStderr()},
					Reporter: ui.NewPlain(cmd.ErrOrStderr()),
				})
				if errors.Is(err, local.ErrWrongPlatform) {
					return exitCode(2, fmt.Errorf("%s: %w; nothing was changed (nixherd deploy %s switches it on its host, --action build only builds it)", m.Name, err, m.Name))
				}
				if err != nil {
					return fmt.Errorf("%s: %w", m.Name, err)
				}
				out := cmd.OutOrStdout()
				switch {
				case a == target.Build:
					fmt.Fprintln(out, res.Path)
				case a == target.DryActivate:
					fmt.Fprintf(out, "%s: dry-activate %s (nothing changed):\n", res.Machine, res.Path)
					fmt.Fprint(out, indent(res.Output))
				case a.SetsProfile():
					fmt.Fprintf(out, "%s: %s, generation %d (was %d): %s\n", res.Machine, done(a), res.Generation, res.Previous, res.Path)
				default:
					fmt.Fprintf(out, "%s: %s %s (profile unchanged, generation %d)\n", res.Machine, done(a), res.Path, res.Generation)
				}
				return nil
			},
		}
		f := cmd.Flags()
		f.StringVar(&machine, "machine", "", "build the configuration `NAME` instead of the one named after this host")
		f.StringVar(&action, "action", "switch", "switch, boot, test, dry-activate or build")
		fl.register(f)
		nf.register(f)
		cmd.RegisterFlagCompletionFunc("machine", fl.machineFlagCompletion)
		return cmd
	})
}

// localMachine picks the machine a local command works on: --machine, or
// the configuration named after this host, or deploy.nix's "local" target.
func localMachine(cmd *cobra.Command, n *nix.Nix, flake string, inv *hosts.Inventory, explicit string) (hosts.Machine, error) {
	if inv != nil && explicit != "" {
		if m, ok := inv.Machine(explicit); ok {
			return m, nil
		}
	}
	confs, err := local.FlakeConfigurations(cmd.Context(), n, flake)
	if err != nil {
		return hosts.Machine{}, err
	}
	if inv != nil {
		for _, m := range inv.Machines {
			if m.Local() {
				confs.Local = append(confs.Local, m.Configuration)
			}
		}
	}
	found, err := local.Resolve(confs, local.This(cmd.Context()), explicit)
	if err != nil {
		return hosts.Machine{}, withMachineHint(err)
	}
	if inv != nil {
		for _, m := range inv.Machines {
			if m.Configuration == found.Name && (m.Platform == "" || m.Platform == found.Platform) {
				return m, nil
			}
		}
	}
	return hosts.Machine{Name: found.Name, Configuration: found.Name, Platform: found.Platform, Target: "local"}, nil
}

func done(a target.Action) string {
	switch a {
	case target.Switch:
		return "switched"
	case target.Boot:
		return "set for next boot"
	case target.Test:
		return "activated"
	}
	return string(a)
}

// withMachineHint tells how to name the machine when the flake does not say
// which one this host is.
func withMachineHint(err error) error {
	if errors.Is(err, local.ErrWhichMachine) {
		return fmt.Errorf("%w; pass --machine NAME", err)
	}
	return err
}

// indent prints each line of text two spaces in, ending with a newline.
func indent(text string) string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(text, "\n", "\n  ") + "\n"
}
