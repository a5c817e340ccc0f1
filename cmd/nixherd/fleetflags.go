package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/spf13/pflag"
)

// fleetFlags are the flags of the commands that reach the fleet's machines
// (deploy, diff, status, generations, rollback): where the fleet is and how
// to ssh.
type fleetFlags struct {
	flake     string
	sshConfig string
	sshOpts   []string
	// allowUnsafeSSH lets deploy.nix's sshOptions weaken host key
	// checking, run programs here or hand hosts this machine's agent,
	// credentials or network (hosts.RefuseUnsafeSSHOptions).
	allowUnsafeSSH bool
}

func (f *fleetFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.flake, "flake", ".", "the fleet `DIR` (flake.nix and deploy.nix)")
	fs.StringVarP(&f.sshConfig, "ssh-config", "F", "", "ssh configuration `FILE` for every host (ssh -F)")
	fs.StringArrayVarP(&f.sshOpts, "ssh-option", "o", nil, "extra ssh `OPTION=VALUE` for every host (ssh -o), repeatable")
	fs.BoolVar(&f.allowUnsafeSSH, allowUnsafeSSHFlag, false, "use deploy.nix's sshOptions even where they weaken host key checking, run programs here or forward to hosts (ProxyCommand, StrictHostKeyChecking=no, -F, ForwardAgent ...)")
}

const allowUnsafeSSHFlag = "allow-unsafe-ssh-options"

func (f *fleetFlags) sshOptions() []string {
	var extra []string
	if f.sshConfig != "" {
		extra = append(extra, "-F", f.sshConfig)
	}
	for _, o := range f.sshOpts {
		extra = append(extra, "-o", o)
	}
	return extra
}

// selection is the machines a command was asked to act on, and how to word
// a selection that names none: what the command does to machines ("deploy",
// "roll back") and whether it has --all.
type selection struct {
	hosts.Selection
	verb      string
	offersAll bool
}

// inventory reads deploy.nix.
func (f *fleetFlags) inventory(ctx context.Context) (*hosts.Inventory, error) {
	return hosts.Load(ctx, filepath.Join(f.flake, hosts.FileName))
}

// selectMachines reads deploy.nix and resolves the selection.
func (f *fleetFlags) selectMachines(ctx context.Context, sel selection) ([]hosts.Machine, error) {
	inv, err := f.inventory(ctx)
	if err != nil {
		return nil, err
	}
	return f.selectIn(inv, sel)
}

// selectIn resolves the selection in inv, worded for the command.
func (f *fleetFlags) selectIn(inv *hosts.Inventory, sel selection) ([]hosts.Machine, error) {
	ms, err := inv.SelectFor(sel.Selection)
	switch {
	case errors.Is(err, hosts.ErrNothingSelected):
		msg := fmt.Sprintf("name the machines to %s (names, globs like dev*, tags like @vm)", sel.verb)
		if sel.offersAll {
			msg += " or pass --all"
		}
		return nil, errors.New(msg)
	case errors.Is(err, hosts.ErrAllAndSelectors):
		return nil, fmt.Errorf("--all and machine selectors %s cannot be combined", strings.Join(sel.Selectors, " "))
	case err != nil:
		return nil, err
	}
	if !f.allowUnsafeSSH {
		if err := hosts.RefuseUnsafeSSHOptions(ms); err != nil {
			return nil, fmt.Errorf("%w; move them into your own ssh config (~/.ssh/config, or -F FILE), or pass --%s to use them", err, allowUnsafeSSHFlag)
		}
	}
	return ms, nil
}

// selectWithPlatforms selects machines (a bad selection is exit 2) and
// finds, for those whose deploy.nix entry does not say it, their platform in
// the flake: generations and rollback need it before reaching a host.
func (f *fleetFlags) selectWithPlatforms(ctx context.Context, sel selection) ([]hosts.Machine, error) {
	machines, err := f.selectMachines(ctx, sel)
	if err != nil {
		return nil, exitCode(2, err)
	}
	n, err := nix.Probe(ctx)
	if err != nil {
		return nil, err
	}
	return status.Platforms(ctx, n, f.flake, machines)
}
