package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/secrets"
	"github.com/nixherd/nixherd/internal/update"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			fl         flakeFlag
			identities []string
			jsonOut    bool
		)
		cmd := &cobra.Command{
			Use:   "update [INPUT...]",
			Short: "Update flake.lock: every input, or the named ones",
			Long: `Update the fleet's flake.lock through nix: every input, or only the named
ones. nixherd picks the command the installed nix understands
(nix flake update INPUT... on Nix 2.19 and later, nix flake lock
--update-input INPUT before) and prints which inputs moved.

GitHub limits anonymous API requests to 60 an hour. When nix has no
access-tokens configured and the fleet has a secret named github-token
(secrets/github-token.age), nixherd decrypts it in memory and hands it to
nix through NIX_CONFIG in nix's environment only: never on the command line,
never on disk, never in the output.

update writes flake.lock, so --flake must be a directory here.`,
			Example: `  nixherd update                 # every input
  nixherd update nixpkgs agenix  # only these two
  nixherd update --flake ~/fleet home-manager`,
			RunE: func(cmd *cobra.Command, args []string) error {
				dir, err := fl.dir("update")
				if err != nil {
					return err
				}
				return runUpdate(cmd.Context(), cmd, dir, args, identities, jsonOut)
			},
		}
		fl.register(cmd.Flags())
		cmd.Flags().StringArrayVarP(&identities, "identity", "i", nil, "identity to decrypt the github-token secret with (default ~/.ssh/id_ed25519, ~/.ssh/id_rsa)")
		cmd.Flags().BoolVar(&jsonOut, "json", false, "print the changed inputs as JSON")
		return cmd
	})
}

func runUpdate(ctx context.Context, cmd *cobra.Command, dir string, inputs, identities []string, jsonOut bool) error {
	known, err := flakeInputNames(dir)
	if err != nil {
		return exitCode(2, err)
	}
	for _, in := range inputs {
		if !known[in] && !known[topInput(in)] {
			return exitCode(2, fmt.Errorf("%s has no input %q (inputs: %s)", flakeFile(dir), in, sortedKeys(known)))
		}
	}
	res, err := update.Run(ctx, update.Options{
		Dir:    dir,
		Inputs: inputs,
		Token:  githubToken(dir, identities),
		Stderr: cmd.ErrOrStderr(),
	})
	if errors.Is(err, update.ErrBadToken) {
		return exitCode(2, fmt.Errorf("%s/%s.age: %w", filepath.Join(dir, "secrets"), update.TokenSecret, err))
	}
	if err != nil {
		return exitCode(1, err)
	}
	out := cmd.OutOrStdout()
	if jsonOut {
		changes := res.Changes
		if changes == nil {
			changes = []update.Change{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"changes": changes})
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(out, "flake.lock is up to date")
		return nil
	}
	for _, c := range res.Changes {
		old := c.Old
		if old == "" {
			old = "(new)"
		}
		fmt.Fprintf(out, "%-20s %s → %s\n", c.Input, old, c.New)
	}
	return nil
}

// topInput is the first component of a nested input path ("home-manager/nixpkgs").
func topInput(in string) string {
	for i := 0; i < len(in); i++ {
		if in[i] == '/' {
			return in[:i]
		}
	}
	return in
}

// flakeFile is the flake.nix of the fleet in dir.
func flakeFile(dir string) string { return filepath.Join(dir, "flake.nix") }

// readFleet reads the fleet in dir for commands that need its flake.nix to
// be sound: a flake.nix that does not parse is an error at its position.
func readFleet(dir string) (*fleet.Fleet, error) {
	f, err := fleet.Read(dir)
	if err != nil {
		return nil, err
	}
	if p := f.Files["flake.nix"]; p != nil && len(p.Problems) > 0 {
		pr := p.Problems[0]
		return nil, fmt.Errorf("%s:%d:%d: %s", flakeFile(dir), pr.Pos.Line, pr.Pos.Col, pr.Message)
	}
	return f, nil
}

// flakeInputNames reads the input names flake.nix declares.
func flakeInputNames(dir string) (map[string]bool, error) {
	f, err := readFleet(dir)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, in := range f.Inputs {
		names[in.Name] = true
	}
	return names, nil
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// githubToken returns how to get the fleet's GitHub token for nix: nil when
// the fleet has no github-token secret. The secret is decrypted in memory
// only when nix has no token of its own.
func githubToken(dir string, identities []string) func() (string, error) {
	if _, err := os.Stat(filepath.Join(dir, "secrets", update.TokenSecret+".age")); err != nil {
		return nil
	}
	return func() (string, error) {
		plain, err := secrets.ReadSecret(dir, update.TokenSecret, identities)
		if err != nil {
			return "", err
		}
		defer clear(plain)
		return update.TokenSetting(string(plain))
	}
}
