package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/rollback"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var fl fleetFlags
		var to int
		var asJSON, dryRun, askSudo, all bool
		cmd := &cobra.Command{
			Use:   "rollback SELECTOR... [--to N]",
			Short: "Return machines to an earlier generation",
			Long: `rollback returns the selected machines (names, globs, @tags, comma lists) to
an earlier generation of their profile: generation N with --to N, else the
newest generation older than the current one.

The target generation is first resolved to its store path on each host and
shown; then, under the host's deploy lock, the profile is pointed at that
generation, checked to resolve to the same store path, and activated with the
platform's contract (switch-to-configuration switch on NixOS, activate on
nix-darwin and home-manager). No generation is deleted: a later rollback --to
can return to where the machine was.

Exit status: 0 when every selected machine ended on its target generation
(or already was on it), 1 when some machine failed, 3 when a host could not
be reached, 2 for bad input.`,
			Example: `  nixherd rollback devnix
  nixherd rollback devnix --to 4
  nixherd rollback @vm --dry-run`,
			RunE: func(cmd *cobra.Command, args []string) error {
				if to < 0 {
					return exitCode(2, fmt.Errorf("--to %d: generations are numbered from 1", to))
				}
				ctx := cmd.Context()
				stderr := cmd.ErrOrStderr()
				machines, err := fl.selectWithPlatforms(ctx, stderr, selection{hosts.Selection{Selectors: args, All: all}, "roll back", true})
				if err != nil {
					return err
				}
				sudoPassword, err := askSudoPassword(askSudo, cmd.InOrStdin(), stderr)
				if err != nil {
					return exitCode(2, err)
				}
				start := time.Now()
				reach := status.Reach(fl.sshOptions(), 0)
				reach.SudoPassword = sudoPassword
				rb, err := rollback.New(machines, to, reach)
				if err != nil {
					return err
				}
				defer rb.Close()

				// Resolve every machine's target first, show it, then act.
				for _, p := range rb.Plan(ctx) {
					fmt.Fprintln(stderr, "rollback", ui.EscapeText(p.String()))
				}
				if !dryRun {
					names := make([]string, len(machines))
					for i, m := range machines {
						names[i] = m.Name
					}
					view := ui.New(stderr, names...)
					rb.Apply(ctx, view)
					view.Close()
				}
				summary := rb.Summary(time.Since(start).Seconds())
				for _, r := range summary.Machines {
					if errors.Is(r.Err, rollback.ErrPick) {
						fmt.Fprintf(stderr, "%s: pick the generation with --to N (nixherd generations %s lists them)\n", r.Machine, r.Machine)
					}
				}
				if asJSON {
					ui.WriteJSON(cmd.OutOrStdout(), summary)
				} else {
					ui.WriteSummary(cmd.OutOrStdout(), summary)
				}
				return summaryExit(summary)
			},
		}
		fl.register(cmd.Flags())
		fl.registerNix(cmd.Flags())
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		cmd.Flags().BoolVar(&all, "all", false, "roll back every machine in deploy.nix")
		cmd.Flags().IntVar(&to, "to", 0, "return to generation `N` (default: the one before the current)")
		cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show which generation each machine would return to; change nothing")
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
		cmd.Flags().BoolVar(&askSudo, "ask-sudo-password", false, askSudoUsage)
		return cmd
	})
}
