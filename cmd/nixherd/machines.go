package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/spf13/cobra"
)

// machineRow is one line of `nixherd machines`.
type machineRow struct {
	Name     string   `json:"name"`
	Platform string   `json:"platform"`
	System   string   `json:"system"`
	Target   string   `json:"target"`
	Tags     []string `json:"tags"`
	BuildOn  string   `json:"buildOn,omitempty"`
	// Modules are the module files the flake lists for the machine.
	Modules []string `json:"modules"`
}

func init() {
	register(func() *cobra.Command {
		var (
			fl      flakeFlag
			jsonOut bool
		)
		cmd := &cobra.Command{
			Use:   "machines",
			Short: "List the fleet's machines: platform, system and where each is deployed",
			Long: `List every machine the fleet's flake defines (nixosConfigurations,
darwinConfigurations and homeConfigurations) with its platform, its system
and, from deploy.nix, where it is deployed and its tags. The flake is read
statically, without evaluating nixpkgs; a system that cannot be known
without evaluation shows as "?". With --flake FLAKE#NAME only that machine
is listed.`,
			Example: `  nixherd machines
  nixherd machines --flake ~/fleet --json`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				fleet, err := fl.resolve(cmd.Context(), nil)
				if err != nil {
					return err
				}
				f, err := readFleet(fleet.Dir)
				if err != nil {
					return exitCode(2, err)
				}
				inv, err := loadInventory(cmd, fleet.Dir)
				if err != nil {
					return exitCode(2, err)
				}
				rows := machineRows(f, inv, cmd)
				if name := fl.ref().Machine; name != "" {
					if err := definesMachine(f, name); err != nil {
						return exitCode(2, err)
					}
					rows = slices.DeleteFunc(rows, func(r machineRow) bool { return r.Name != name })
				}
				if jsonOut {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MACHINE\tPLATFORM\tSYSTEM\tTARGET\tTAGS")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Platform, orDash(r.System, "?"), orDash(r.Target, "-"), orDash(strings.Join(r.Tags, ","), "-"))
				}
				return tw.Flush()
			},
		}
		fl.register(cmd.Flags())
		cmd.Flags().BoolVar(&jsonOut, "json", false, "print the machines as JSON")
		return cmd
	})
}

// loadInventory reads deploy.nix when the fleet has one; without it the
// machines are listed with no target.
func loadInventory(cmd *cobra.Command, dir string) (*hosts.Inventory, error) {
	if _, err := os.Stat(filepath.Join(dir, hosts.FileName)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	inv, err := hosts.Load(cmd.Context(), dir)
	if errors.Is(err, exec.ErrNotFound) {
		// Listing machines needs no nix; only the targets do.
		fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: cannot read %s without nix-instantiate; targets are not shown\n", hosts.FileName)
		return nil, nil
	}
	return inv, err
}

func machineRows(f *fleet.Fleet, inv *hosts.Inventory, cmd *cobra.Command) []machineRow {
	deployed := map[string]hosts.Machine{}
	if inv != nil {
		for _, hm := range inv.Machines {
			deployed[hm.Configuration] = hm
		}
	}
	rows := []machineRow{}
	for _, m := range f.Machines {
		r := machineRow{Name: m.Name, Platform: string(m.Platform), System: m.System, Tags: []string{}, Modules: m.Modules}
		if r.Modules == nil {
			r.Modules = []string{}
		}
		if hm, ok := deployed[m.Name]; ok {
			r.Target, r.BuildOn = hm.Target, hm.BuildOn
			if hm.Tags != nil {
				r.Tags = hm.Tags
			}
			delete(deployed, m.Name)
		}
		rows = append(rows, r)
	}
	for name := range deployed {
		fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: %s deploys %s, which flake.nix does not define\n", hosts.FileName, name)
	}
	return rows
}

func orDash(s, dash string) string {
	if s == "" {
		return dash
	}
	return s
}
