package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nixherd/nixherd/internal/dashboard"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			fl         fleetFlags
			listen     string
			releaseAt  string
			pullEvery  time.Duration
			pushEvery  time.Duration
			staleAfter time.Duration
		)
		cmd := &cobra.Command{
			Use:   "dashboard [SELECTOR...]",
			Short: "Serve a web page with the fleet's state, live",
			Long: `dashboard serves one web page, on a local address, with every machine of
deploy.nix (or those the selectors name), pushed and pulled: what it should
run and what it runs, in sync or not and since when, its last deployment
and where it failed (with the error's first line), whether it needs a
reboot, whether its agent is stale, the last rollout in waves of this
fleet from this machine (deploy --wave/--waves) and, with --release, the
published release; a rollout under way is shown with its waves (the
latest of the two when there are both).

It is nixherd status, kept fresh: pulled machines (their agents' /status),
the release and the rollout record are read every --refresh, pushed machines
(over ssh) and the flake's evaluation every --ssh-every. The page refreshes
itself; everything it needs is in the binary (no script or style from the
network). /status.json serves the same data as nixherd status --json.

The page has no login: keep it on loopback (the default), or behind
something that authenticates, since it shows the fleet's layout.`,
			Example: `  nixherd dashboard
  nixherd dashboard --release /srv/www/fleet/ --listen 127.0.0.1:9850
  nixherd dashboard @web --release https://deploy.example.org/fleet/manifest.json --refresh 10s`,
			RunE: func(cmd *cobra.Command, args []string) error {
				switch {
				case pullEvery <= 0:
					return exitCode(2, fmt.Errorf("--refresh %s: it must be positive", pullEvery))
				case pushEvery <= 0:
					return exitCode(2, fmt.Errorf("--ssh-every %s: it must be positive", pushEvery))
				case staleAfter < 0:
					return exitCode(2, fmt.Errorf("--stale-after %s: a duration cannot be negative", staleAfter))
				}
				host, _, err := net.SplitHostPort(listen)
				if err != nil {
					return exitCode(2, fmt.Errorf("--listen %q: %w", listen, err))
				}
				ctx := cmd.Context()
				all := len(args) == 0 && fl.ref().Machine == ""
				machines, err := fl.selectMachines(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: args, All: all}, "show", false})
				if err != nil {
					return err
				}
				ln, err := net.Listen("tcp", listen)
				if err != nil {
					return exitCode(2, fmt.Errorf("--listen: %w", err))
				}
				pushRecord, err := fl.pushRecord()
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: warning: push rollouts are not shown: %v\n", err)
				}
				s := dashboard.New(dashboard.Options{Machines: machines, Release: releaseAt, PushRecord: pushRecord, PushEvery: pushEvery, PullEvery: pullEvery,
					Status: status.Options{Flake: fl.fleet.Flake, Nix: fl.nix, SSHOptions: fl.sshOptions(), StaleAfter: staleAfter}})
				srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go s.Run(ctx)
				go func() {
					<-ctx.Done()
					srv.Close()
				}()
				if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
					fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: the dashboard has no login and listens on %s: whoever reaches it sees the fleet\n", listen)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: dashboard on http://%s/ (Ctrl-C stops it)\n", ln.Addr())
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			},
		}
		f := cmd.Flags()
		fl.register(f)
		fl.registerNix(f)
		f.StringVar(&listen, "listen", "127.0.0.1:9850", "the `ADDR` the page is served on")
		f.StringVar(&releaseAt, "release", "", "show the release published at `WHERE` (publish's --to, or the manifest's URL) and the rollout beside it")
		f.DurationVar(&pullEvery, "refresh", dashboard.DefaultPullEvery, "how often agents, the release and the rollout are read, and the page refreshes")
		f.DurationVar(&pushEvery, "ssh-every", dashboard.DefaultPushEvery, "how often the flake is evaluated and pushed machines are read over ssh")
		f.DurationVar(&staleAfter, "stale-after", status.DefaultStaleAfter, "a pulled machine whose agent's last poll is older than this is stale")
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		return cmd
	})
}
