package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	register(func() *cobra.Command {
		var (
			all    bool
			pf     publishFlags
			asJSON bool
			fl     fleetFlags
		)
		cmd := &cobra.Command{
			Use:   "publish [SELECTOR...] --cache STORE_URL --cache-key FILE --key FILE --to DEST",
			Short: "Build machines once and publish them as a signed release for their agents",
			Long: `publish is pull mode's deploy: it evaluates and builds the selected machines
once (as deploy does), signs their closures with a Nix signing key and pushes
them to a binary cache once, then writes a signed release manifest where a
web server serves it. Each host's agent (nixherd agent) fetches the manifest,
checks its signature, substitutes its system from the cache and switches to
it with magic rollback. No host is contacted.

The manifest lists, per machine, its system's store path, its platform and
its health checks from deploy.nix, a release number that only grows, the
fleet's git revision and the time. Machines not selected keep their entries
from the current release, so a release can move a few machines at a time.
Publishing the closures the current release already names is a no-op.

--to is a file, or a directory (existing, or written with a trailing /)
that receives manifest.json and a copy of every release in releases/N.json.
Both the manifest and its archive copy are written atomically.

Exit status: 0 published (or unchanged), 1 when the machines did not
evaluate or build or the cache refused them (nothing is written), 2 for bad
input.`,
			Example: `  nixherd publish --all --cache 'file:///srv/cache' --cache-key cache.sec --key release.sec --to /srv/www/fleet/
  nixherd publish @canary --cache s3://fleet-cache --cache-key cache.sec --key release.sec --to /srv/www/fleet/manifest.json`,
			RunE: func(cmd *cobra.Command, args []string) error {
				po, err := pf.options()
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				// publish reaches no host: deploy.nix's ssh options are not used.
				fl.allowUnsafeSSH = true
				machines, err := fl.selectMachines(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: args, All: all}, "publish", true})
				if err != nil {
					return err
				}
				po.Flake, po.Dir, po.Nix, po.Reporter = fl.fleet.Flake, fl.fleet.Dir, fl.nix, &report.Lines{W: cmd.ErrOrStderr()}
				res, err := publish.Publish(ctx, machines, po)
				if err != nil {
					return pf.classify(err)
				}
				if asJSON {
					return ui.WriteJSON(cmd.OutOrStdout(), res)
				}
				writePublished(cmd, res)
				return nil
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "publish every machine in deploy.nix")
		pf.register(f)
		f.BoolVar(&asJSON, "json", false, "print the result as JSON")
		fl.flakeFlag.register(f)
		fl.registerNix(f)
		return cmd
	})
}

func writePublished(cmd *cobra.Command, res *publish.Result) {
	out := cmd.OutOrStdout()
	rows := [][]string{{"MACHINE", "PLATFORM", "PATH", ""}}
	for _, m := range res.Machines {
		mark := ""
		if m.Changed {
			mark = "changed"
		}
		rows = append(rows, []string{m.Machine, m.Platform, status.ShortPath(m.Path), mark})
	}
	ui.Table(out, rows)
	if res.Unchanged {
		fmt.Fprintf(out, "release %d unchanged: it already names these closures (%s)\n", res.Release, res.Manifest)
		return
	}
	fmt.Fprintf(out, "published release %d (was %d) to %s\n", res.Release, res.Previous, res.Manifest)
}

// publishFlags say where pull mode publishes (publish, rollout).
type publishFlags struct {
	cache, cacheKey, keyFile, to string
}

func (p *publishFlags) register(f *pflag.FlagSet) {
	f.StringVar(&p.cache, "cache", "", "the binary cache `STORE_URL` the closures are pushed to (file://, s3://, ssh-ng://…)")
	f.StringVar(&p.cacheKey, "cache-key", "", "the Nix secret-key `FILE` the closures are signed with (its public key goes in the hosts' trusted-public-keys)")
	f.StringVar(&p.keyFile, "key", "", "the Nix secret-key `FILE` (ed25519) that signs the manifest (agents pin its public key)")
	f.StringVar(&p.to, "to", "", "where the manifest is written: a `FILE`, or a directory for manifest.json and releases/")
}

// options checks the flags (exit 2 when one is missing or unreadable) and
// returns what they say.
func (p *publishFlags) options() (publish.Options, error) {
	switch {
	case p.cache == "":
		return publish.Options{}, exitCode(2, errors.New("--cache STORE_URL is required: the binary cache the hosts substitute from"))
	case p.keyFile == "":
		return publish.Options{}, exitCode(2, errors.New("--key FILE is required: the Nix secret key (nix key generate-secret) that signs the manifest"))
	case p.to == "":
		return publish.Options{}, exitCode(2, errors.New("--to DEST is required: the manifest file or directory a web server serves"))
	}
	if p.cacheKey != "" {
		if _, err := os.Stat(p.cacheKey); err != nil {
			return publish.Options{}, exitCode(2, fmt.Errorf("--cache-key: %w", err))
		}
	}
	key, err := release.ReadSecretKey(p.keyFile)
	if err != nil {
		return publish.Options{}, exitCode(2, err)
	}
	o := publish.Options{Cache: p.cache, CacheKey: p.cacheKey, Key: key, Destination: release.DestinationOf(p.to)}
	if err := o.Check(); err != nil {
		return o, p.classify(err)
	}
	return o, nil
}

// classify gives a publisher's errors their exit status.
func (p *publishFlags) classify(err error) error {
	if errors.Is(err, publish.ErrUnsigned) {
		return exitCode(2, fmt.Errorf("--cache-key FILE is required unless --cache signs (secret-key=): %w", err))
	}
	return err
}
