package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nixherd/nixherd"
	"github.com/nixherd/nixherd/internal/scaffold"
	"github.com/nixherd/nixherd/internal/shell"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			user     string
			machines []string
			force    bool
			pull     bool
		)
		cmd := &cobra.Command{
			Use:   "init DIR",
			Short: "Write the reference fleet into a new folder",
			Long: `init writes nixherd's reference fleet into DIR: a flake with a nix-darwin Mac
(devmac) and two NixOS VMs (devnix, ephem), home-manager programs, services
in NixOS containers, and agenix secrets encrypted to demo keys.

DIR must be missing or empty unless --force is given. init ends with the
next steps: your keys, your secrets, check, the first switch and deploy. The fleet is written
to a temporary folder first (beside a missing DIR, inside an existing one)
and moved into place at the end, so a failed or interrupted init leaves DIR
as it was. With --force, the fleet's files replace those of the same name in
DIR (all of them or, if anything fails, none) and other files stay.

The machines are deployed by push (nixherd deploy) unless --pull is given:
then each machine runs nixherd's pull agent (programs/nixherd-agent) and
deploy.nix declares it pulled, as in the reference fleet; set the manifest
URL, the cache and both public keys in flake.nix's services.nixherd-agent.`,
			Example: `  nixherd init ~/fleet
  nixherd init ~/fleet --user alice --machines devmac,devnix`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := args[0]
				opts := scaffold.Options{User: user, Machines: machines, Pull: pull}
				// Bad input (an unknown machine, a user name that is not a
				// login name) is refused before anything is written.
				if _, err := scaffold.Render(nixherd.ReferenceFleet, opts); err != nil {
					return exitCode(exitUsage, err)
				}
				// SIGINT and SIGTERM stop the write, which then undoes itself.
				files, err := scaffold.Write(cmd.Context(), nixherd.ReferenceFleet, dir, opts, force)
				var notEmpty *scaffold.NotEmptyError
				if errors.As(err, &notEmpty) {
					return exitCode(exitUsage, fmt.Errorf("%w (--force writes into it, replacing the fleet's files there)", err))
				}
				if err != nil {
					return err
				}
				kept := machines
				if len(kept) == 0 {
					for _, m := range scaffold.Machines {
						kept = append(kept, m.Name)
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files to %s (machines: %s; user: %s)\n",
					len(files), dir, strings.Join(kept, ", "), user)
				writeNextSteps(cmd.OutOrStdout(), dir, kept)
				return nil
			},
		}
		cmd.Flags().StringVar(&user, "user", scaffold.DefaultUser, "login name of the fleet's user, put in place of "+scaffold.DefaultUser)
		cmd.Flags().StringSliceVar(&machines, "machines", nil, "comma-separated machines to keep (default all: devmac,devnix,ephem)")
		cmd.Flags().BoolVar(&force, "force", false, "write into DIR even if it is not empty, replacing files the fleet has")
		cmd.Flags().BoolVar(&pull, "pull", false, "turn on pull mode: every machine runs nixherd's agent and is declared pulled in deploy.nix")
		return cmd
	})
}

// writeNextSteps says what to do with a fleet init wrote: it runs as it is
// only on the demo keys.
func writeNextSteps(w io.Writer, dir string, machines []string) {
	fleet := ""
	if dir != "." {
		fleet = " --flake " + shell.Quote(dir)
	}
	at := func(m string) string { return shell.Quote(dir + "#" + m) }
	var first []string
	for _, m := range scaffold.Machines {
		switch {
		case !slices.Contains(machines, m.Name):
		case m.Platform == "nix-darwin":
			first = append(first, fmt.Sprintf("on %s (a Mac with Nix, no nix-darwin yet): nixherd bootstrap --flake %s", m.Name, at(m.Name)))
		default:
			first = append(first, fmt.Sprintf("on %s (NixOS): nixherd switch --flake %s", m.Name, at(m.Name)))
		}
	}
	fmt.Fprintf(w, `
Its keys are DEMO keys, whose private halves are published with nixherd, and
its secrets are encrypted to them: make them yours before a real machine runs
this fleet. Next:
  1. keys.nix: your SSH key (cat ~/.ssh/id_ed25519.pub), each machine's host
     key (ssh-keyscan HOST) and the deploy keys; deploy.nix: each machine's target.
  2. Give each example secret your own value, encrypted to those keys:
       printf %%s "$VALUE" | nixherd secrets%s encrypt github-token
     or re-encrypt the demo values with the demo key (nixherd's testdata/demo-keys):
       nixherd secrets%s rekey -i DEMO_KEY
  3. nixherd check%s
  4. The first switch, on each machine itself:
       %s
  5. From then on, from here: nixherd deploy%s --all   (and diff, status, rollback)
README.md in %s says more.
`, fleet, fleet, fleet, strings.Join(first, "\n       "), fleet, dir)
}
