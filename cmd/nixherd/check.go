package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/check"
	"github.com/nixherd/nixherd/internal/flakeref"
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			fl      flakeFlag
			jsonOut bool
			strict  bool
		)
		cmd := &cobra.Command{
			Use:   "check [PATH...]",
			Short: "Check the fleet's rules without evaluating nixpkgs",
			Long: `Check the fleet's rules without evaluating anything: every .nix file
parses, imports exist, program modules never import machine configs, every
machine sets system.stateVersion and has a system of its platform, flake.lock
matches flake.nix, services have unique indices and ports, the secrets in
secrets/secrets.nix and secrets/ agree and are encrypted to their keys,
deploy.nix deploys only machines the flake defines, and the local nix is new
enough for the fleet's relative path: inputs.

Each finding prints as file:line:col: error|warning: message. Exit status:
0 when there is no error (warnings do not fail unless --strict), 1 when there
is one, 2 when the check could not run (bad input: no fleet there, an
unknown flag). With PATH arguments that are .nix files, only their syntax is
checked.

--flake takes the fleet as nixos-rebuild does: a directory, or a flake
reference nix fetches (path:, git+file:, github:…), which is then checked as
fetched. A #machine must name a machine of the flake; the rules are checked
for the whole fleet.

Rules:
` + ruleList(),
			Example: `  nixherd check
  nixherd check --flake ~/fleet --json
  nixherd check --flake github:me/fleet
  nixherd check machines/devnix/default.nix`,
			RunE: func(cmd *cobra.Command, args []string) error {
				var report *check.Report
				var err error
				if len(args) > 0 {
					report, err = checkPaths(args)
				} else {
					var fleet flakeref.Fleet
					if fleet, err = fl.resolve(cmd.Context(), nil); err != nil {
						return err
					}
					report, err = checkFleet(fleet.Dir, fl.ref().Machine, localEnv(cmd.Context()))
				}
				if err != nil {
					return exitCode(2, err)
				}
				out := cmd.OutOrStdout()
				if jsonOut {
					if err := report.WriteJSON(out); err != nil {
						return exitCode(2, err)
					}
				} else {
					report.WriteText(out)
					if n := len(report.Findings); n > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "%d error(s), %d warning(s)\n", report.Count(check.Error), report.Count(check.Warning))
					}
				}
				if report.Failed(strict) {
					return exitCode(1, nil)
				}
				return nil
			},
		}
		fl.register(cmd.Flags())
		cmd.Flags().BoolVar(&jsonOut, "json", false, "print the findings as JSON")
		cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
		return cmd
	})
}

func ruleList() string {
	var b strings.Builder
	for _, r := range check.Rules {
		fmt.Fprintf(&b, "  %-24s %s\n", r.ID, r.Doc)
	}
	return b.String()
}

// localEnv answers check's questions about this machine: the version of
// the nix on PATH, probed only when a rule asks.
func localEnv(ctx context.Context) check.Env {
	return check.Env{NixVersion: func() (nix.Version, bool) {
		n, err := nix.Probe(ctx)
		if err != nil {
			return nix.Version{}, false
		}
		return n.Version, true
	}}
}

// checkFleet checks the fleet in dir; finding paths are shown relative to
// the current directory, so editors can open them. A machine named with
// --flake DIR#machine must be one the flake defines.
func checkFleet(dir, machine string, env check.Env) (*check.Report, error) {
	f, err := fleet.Read(dir)
	if err != nil {
		return nil, err
	}
	if machine != "" {
		if err := definesMachine(f, machine); err != nil {
			return nil, err
		}
	}
	report := check.Fleet(f, env)
	for i := range report.Findings {
		report.Findings[i].File = filepath.Join(dir, filepath.FromSlash(report.Findings[i].File))
	}
	return report, nil
}

// checkPaths checks the syntax of .nix files and of the .nix files under
// directories.
func checkPaths(paths []string) (*check.Report, error) {
	report := &check.Report{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			files = nil
			filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(q, ".nix") {
					files = append(files, q)
				}
				return nil
			})
		}
		for _, file := range files {
			parsed, err := fleet.ParseFile(file, file)
			if err != nil {
				return nil, err
			}
			for _, pr := range parsed.Problems {
				report.Add(check.Finding{File: pr.Pos.File, Line: pr.Pos.Line, Col: pr.Pos.Col, Severity: check.Error, Rule: pr.Kind, Message: pr.Message})
			}
		}
	}
	report.Sort()
	return report, nil
}

// definesMachine checks that the flake defines machine, naming those it
// does otherwise.
func definesMachine(f *fleet.Fleet, machine string) error {
	var names []string
	for _, m := range f.Machines {
		if m.Name == machine {
			return nil
		}
		names = append(names, m.Name)
	}
	return fmt.Errorf("%s defines no machine %q (machines: %s)", filepath.Join(f.Root, "flake.nix"), machine, strings.Join(names, ", "))
}
