package main

import (
	"fmt"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			all        bool
			action     string
			buildOn    string
			parallel   int
			subst      bool
			cache      string
			cacheSubst string
			cacheKey   string
			dryRun     bool
			reactivate bool
			asJSON     bool
			fl         fleetFlags
			safety     safetyFlags
			waves      waveFlags
		)
		cmd := &cobra.Command{
			Use:   "deploy [SELECTOR...]",
			Short: "Build the fleet and deploy it to many machines in parallel",
			Long: `Deploy builds the selected machines' configurations with one nix evaluation
and one build, then, for each host in parallel: connects over ssh (one master
connection per host), takes the host's deploy lock, copies only the store
paths it lacks, checks the closure is a system of the right kind, sets the
profile and activates it.

Selectors are machine names, globs (dev*) and tags (@vm), also as comma lists;
machines, targets and tags come from deploy.nix at the fleet's root.

A switch of NixOS and nix-darwin hosts is guarded (magic rollback): a watchdog
on the host activates the new system without touching the boot default, the
deployer runs the health checks and confirms over a new ssh connection, and
only then is the new system made the boot default. Without the confirmation
within --confirm-timeout, when the activation fails or is still running after
--activation-timeout, or when a health check fails, the host returns to its
previous system by itself and is reported ROLLED BACK.

Exits 0 only when every selected host ended on its new configuration.`,
			Example: `  nixherd deploy devnix
  nixherd deploy @vm,devmac --action boot
  nixherd deploy --all --dry-run
  nixherd deploy 'dev*' --build-on target --parallel 4 --json`,
			RunE: func(cmd *cobra.Command, args []string) error {
				a, err := target.ParseAction(action)
				if err != nil {
					return exitCode(2, err)
				}
				if buildOn != "" && buildOn != hosts.BuildLocal && buildOn != hosts.BuildTarget {
					return exitCode(2, fmt.Errorf("--build-on %q: use local or target", buildOn))
				}
				if err := safety.validate(cmd.InOrStdin()); err != nil {
					return exitCode(2, err)
				}
				if parallel < 1 {
					return exitCode(2, fmt.Errorf("--parallel must be at least 1"))
				}
				if err := waves.validate(); err != nil {
					return exitCode(2, err)
				}
				ctx := cmd.Context()
				inv, err := fl.inventory(ctx, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				machines, err := fl.selectIn(inv, selection{hosts.Selection{Selectors: args, All: all}, "deploy", true})
				if err != nil {
					return err
				}
				var stages []rollout.Wave
				var inFlight int
				if waves.enabled() {
					if stages, inFlight, err = waves.split(inv, machines); err != nil {
						return exitCode(2, err)
					}
				}
				extra := fl.sshOptions()
				// A live row per host on a terminal, timestamped lines otherwise.
				names := make([]string, len(machines))
				for i, m := range machines {
					names[i] = m.Name
				}
				sudoPassword, err := safety.sudoPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
				if err != nil {
					return exitCode(2, err)
				}
				reach := fanout.Options{Parallel: parallel, SSHOptions: extra, SudoPassword: sudoPassword}
				// nix's own output (-L, -v, --show-trace) is not drawn over.
				view := safety.view(cmd.ErrOrStderr(), names, fl.nix.Log != nil)
				if waves.enabled() {
					view = ui.NewPlain(cmd.ErrOrStderr(), names...)
				}
				o := deploy.Options{
					Flake:                   fl.fleet.Flake,
					Nix:                     fl.nix,
					Action:                  a,
					BuildOn:                 buildOn,
					SubstituteOnDestination: subst,
					Cache:                   cache,
					CacheSubstituter:        cacheSubst,
					CachePublicKey:          cacheKey,
					DryRun:                  dryRun,
					Reactivate:              reactivate,
					Reporter:                view,
					Strategy:                safety.strategy(),
					Approve:                 safety.approve(cmd.InOrStdin(), cmd.ErrOrStderr(), reach),
					Reach:                   reach,
				}
				var summary *report.Summary
				var halt *rollout.Halt
				if waves.enabled() {
					record := ""
					if !dryRun {
						if record, err = fl.pushRecord(); err != nil {
							fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: warning: the rollout is not recorded for the dashboard: %v\n", err)
						}
					}
					summary, halt, err = deployWaves(ctx, stages, inFlight, o, cmd.ErrOrStderr(), record)
				} else {
					summary, err = deploy.Run(ctx, machines, o)
				}
				view.Close()
				if err != nil {
					return err
				}
				if halt != nil {
					defer fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: %v; the waves after it were not deployed\n", halt)
				}
				if asJSON {
					ui.WriteJSON(cmd.OutOrStdout(), summary)
				} else {
					ui.WriteSummary(cmd.OutOrStdout(), summary)
				}
				return summaryExit(summary)
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "deploy every machine in deploy.nix")
		f.StringVar(&action, "action", "switch", "switch, boot, test, dry-activate or build")
		f.StringVar(&buildOn, "build-on", "", "where to build: local or target (default: each machine's buildOn in deploy.nix)")
		f.IntVarP(&parallel, "parallel", "p", 10, "deploy at most `N` hosts at once")
		f.BoolVarP(&subst, "substitute-on-destination", "s", false, "let hosts fetch paths from their own substituters")
		f.StringVar(&cache, "cache", "", "push closures once to `STORE_URL` (file://, s3://, http…) and let hosts substitute from it")
		f.StringVar(&cacheSubst, "cache-substituter", "", "the `URL` hosts fetch from (default: --cache; e.g. an http:// front of a file:// cache)")
		f.StringVar(&cacheKey, "cache-public-key", "", "a signing `KEY` hosts should trust for the cache (when their config does not yet)")
		f.BoolVar(&dryRun, "dry-run", false, "build and show what each host would receive; change nothing")
		f.BoolVar(&reactivate, "reactivate", false, "switch machines that already run their new system again (default: report them up to date)")
		f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
		fl.register(f)
		fl.registerNix(f)
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		safety.register(f)
		waves.register(f)
		return cmd
	})
}
