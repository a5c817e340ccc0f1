package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var fl fleetFlags
		var asJSON bool
		cmd := &cobra.Command{
			Use:   "generations MACHINE | --flake FLAKE#MACHINE",
			Short: "List a machine's profile generations",
			Long: `generations lists the generations of a machine's profile (the system
profile for NixOS and nix-darwin, the home-manager profile for a home), oldest
first, each with its date and store path. "current" marks the generation the
profile points at; "running" marks the configuration active now (on NixOS
/run/current-system, which differs after a boot or test action).

Use the numbers with "nixherd rollback MACHINE --to N".`,
			Example: `  nixherd generations devnix
  nixherd generations devmac --json
  nixherd generations --flake ~/fleet#devnix`,
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				names := args
				if m := fl.ref().Machine; m != "" {
					names = append(names, m)
				}
				switch {
				case len(names) == 0:
					return exitCode(exitUsage, errors.New("generations needs a machine: nixherd generations MACHINE (or --flake FLAKE#MACHINE)"))
				case len(names) > 1 && names[0] != names[1]:
					return exitCode(exitUsage, fmt.Errorf("generations lists one machine: %s and the #%s of --flake differ", names[0], names[1]))
				case strings.ContainsAny(names[0], "*?[,@"):
					return exitCode(exitUsage, fmt.Errorf("generations takes one machine name, not the selector %q", names[0]))
				}
				// selectMachines adds --flake's fragment to args.
				machines, err := fl.selectWithPlatforms(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: args}, "list the generations of", false})
				if err != nil {
					return err
				}
				m := machines[0]
				exec, err := target.For(m.Platform)
				if err != nil {
					return exitCode(2, status.NoConfiguration(m))
				}
				fleet, err := fanout.New(machines, status.Reach(fl.sshOptions(), 1))
				if err != nil {
					return err
				}
				defer fleet.Close()
				r, err := fleet.Hosts()[0].Connect(ctx, m)
				if err != nil {
					return err
				}
				profile, err := exec.Profile(ctx, r)
				if err != nil {
					return err
				}
				gens, err := target.Generations(ctx, r, profile)
				if err != nil {
					return err
				}
				_, running, err := status.Running(ctx, r, exec)
				if err != nil {
					return err
				}
				return writeGenerations(cmd, m.Name, profile, gens, running, asJSON)
			},
		}
		fl.register(cmd.Flags())
		fl.registerNix(cmd.Flags())
		cmd.ValidArgsFunction = fl.selectorCompletion(true)
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the generations as JSON")
		return cmd
	})
}

type generationJSON struct {
	target.Generation
	Running bool `json:"running"`
}

func writeGenerations(cmd *cobra.Command, machine, profile string, gens []target.Generation, running string, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		list := make([]generationJSON, len(gens))
		for i, g := range gens {
			list[i] = generationJSON{g, g.Path != "" && g.Path == running}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Machine     string           `json:"machine"`
			Profile     string           `json:"profile"`
			Running     string           `json:"running,omitempty"`
			Generations []generationJSON `json:"generations"`
		}{machine, profile, running, list})
	}
	if len(gens) == 0 {
		fmt.Fprintf(out, "%s: %s has no generations (never deployed)\n", machine, profile)
		return nil
	}
	rows := [][]string{{"GENERATION", "DATE", "STORE PATH", ""}}
	for _, g := range gens {
		var marks []string
		if g.Current {
			marks = append(marks, "current")
		}
		if g.Path != "" && g.Path == running {
			marks = append(marks, "running")
		}
		rows = append(rows, []string{strconv.Itoa(g.Number), g.Date.Format("2006-01-02 15:04:05"), g.Path, strings.Join(marks, ", ")})
	}
	return ui.Table(out, rows)
}
