package main

// Shell completion of the fleet's own names: machines and @tags for
// selectors, machines for --machine and --flake DIR#, secrets and services
// by name. Cobra's `completion` command writes the shell scripts; they call
// back into `nixherd __complete`, which runs these functions. Completion
// reads the fleet's files statically and never fetches or evaluates: a
// fleet nix would have to fetch completes nothing.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nixherd/nixherd/internal/flakeref"
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/secrets"
	"github.com/nixherd/nixherd/internal/services"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/spf13/cobra"
)

const noFiles = cobra.ShellCompDirectiveNoFileComp

// localDir is the fleet's directory for completion, "" when it is a
// reference nix would have to fetch.
func (f *flakeFlag) localDir() string {
	r := f.ref()
	if !r.IsDirectory() {
		return ""
	}
	return r.Flake
}

// selectorCompletion completes machine selectors from deploy.nix: machine
// names and @tags, after the machines already given in a comma list.
func (f *flakeFlag) selectorCompletion(oneMachine bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if oneMachine && len(args) > 0 {
			return nil, noFiles
		}
		dir := f.localDir()
		if dir == "" {
			return nil, noFiles
		}
		inv, err := hosts.Read(filepath.Join(dir, hosts.FileName))
		if err != nil {
			return nil, noFiles
		}
		words := inv.Names()
		if !oneMachine {
			words = append(words, tagSelectors(inv)...)
		}
		prefix := ""
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 && !oneMachine {
			prefix = toComplete[:i+1]
		}
		given := strings.Split(prefix, ",")
		var out []cobra.Completion
		for _, w := range words {
			if !slices.Contains(given, w) && strings.HasPrefix(prefix+w, toComplete) {
				out = append(out, prefix+w)
			}
		}
		return out, noFiles
	}
}

func tagSelectors(inv *hosts.Inventory) []string {
	var tags []string
	for _, m := range inv.Machines {
		for _, t := range m.Tags {
			if !slices.Contains(tags, "@"+t) {
				tags = append(tags, "@"+t)
			}
		}
	}
	slices.Sort(tags)
	return tags
}

// flakeMachines are the machines the fleet's flake defines (read
// statically).
func flakeMachines(dir string) []string {
	if dir == "" {
		return nil
	}
	f, err := fleet.Read(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, m := range f.Machines {
		names = append(names, m.Name)
	}
	return names
}

// machineFlagCompletion completes --machine with the flake's machines.
func (f *flakeFlag) machineFlagCompletion(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, m := range flakeMachines(f.localDir()) {
		out = append(out, m)
	}
	return out, noFiles
}

// completeFlakeFlag completes --flake: directories, and after DIR# the
// machines of the flake in DIR.
func completeFlakeFlag(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	dir, frag, ok := strings.Cut(toComplete, "#")
	if !ok {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	r := flakeref.Parse(dir)
	if !r.IsDirectory() {
		return nil, noFiles
	}
	var out []cobra.Completion
	for _, m := range flakeMachines(r.Flake) {
		if strings.HasPrefix(m, frag) {
			out = append(out, dir+"#"+m)
		}
	}
	return out, noFiles
}

// secretCompletion completes secret names from the rules file the secrets
// command would use.
func (f *secretsFlags) secretCompletion(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	dir, err := os.Getwd()
	if cmd.Flags().Changed("flake") {
		dir, err = f.fleet.localDir(), nil
	}
	if err != nil || dir == "" {
		return nil, noFiles
	}
	path, err := secrets.FindRules(dir, f.rules)
	if err != nil {
		return nil, noFiles
	}
	rs, err := secrets.LoadRules(path)
	if err != nil {
		return nil, noFiles
	}
	var out []cobra.Completion
	for _, r := range rs.Secrets {
		name := strings.TrimSuffix(r.File, ".age")
		if !slices.Contains(args, name) {
			out = append(out, name)
		}
	}
	return out, noFiles
}

// serviceCompletion completes the fleet's service names.
func (f *flakeFlag) serviceCompletion(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 || f.localDir() == "" {
		return nil, noFiles
	}
	list, err := services.List(f.localDir())
	if err != nil {
		return nil, noFiles
	}
	var out []cobra.Completion
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out, noFiles
}

// actionCompletion completes --action.
func actionCompletion(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out := make([]cobra.Completion, len(target.Actions))
	for i, a := range target.Actions {
		out[i] = string(a)
	}
	return out, noFiles
}

// registerCompletions gives every command's --flake and --action their
// completions (the selectors and names are each command's own).
func registerCompletions(c *cobra.Command) {
	if c.LocalFlags().Lookup("flake") != nil {
		c.RegisterFlagCompletionFunc("flake", completeFlakeFlag)
	}
	if c.LocalFlags().Lookup("action") != nil {
		c.RegisterFlagCompletionFunc("action", actionCompletion)
	}
	for _, sub := range c.Commands() {
		registerCompletions(sub)
	}
}
