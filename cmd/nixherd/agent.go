package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			cfg       agent.Config
			keys      []string
			cache     string
			cacheKey  string
			once      bool
			confirm   time.Duration
			activate  time.Duration
			healthFor time.Duration
		)
		cmd := &cobra.Command{
			Use:   "agent --manifest URL --public-key NAME:KEY",
			Short: "Keep this machine on its published release (pull mode)",
			Long: `agent runs on a NixOS or nix-darwin machine, as root, and keeps it on the
system its fleet's release manifest names for it (see nixherd publish).

Every --interval (plus a random delay of up to --jitter) it fetches the
manifest, verifies its signature against the pinned --public-key, refuses a
release number lower than the one it last applied, and when the machine's
system differs from what runs: substitutes it from the binary cache (Nix
checks the cache's signatures; nothing is evaluated or built here), then
switches to it with magic rollback: a watchdog activates it with test, the
health checks from the manifest run, the agent confirms only if it can still
fetch the manifest, and only then does the new system become the boot
default. Any failure puts the old system back; a system that rolled back is
not tried again until a release names another (or --retry).

SIGHUP, or nixherd agent --once in another shell, polls at once. The agent
keeps its history in --state-dir; restarted during an activation (even by
the new system), it follows the watchdog's run to its end.

/status (JSON) and /metrics (Prometheus) are served read-only on --listen.

Exit status of --once: 0 when the machine ends on its release, 1 when the
poll failed, 2 for bad input.`,
			Example: `  nixherd agent --manifest https://deploy.example.org/fleet/manifest.json \
    --public-key fleet-1:Kxv5…= --cache https://cache.example.org --cache-public-key cache-1:9Ym…=
  nixherd agent --once`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				// validate checks the flags; it changes nothing.
				validate := func() error {
					if cfg.ManifestURL == "" {
						return exitCode(2, errors.New("--manifest URL is required"))
					}
					if len(keys) == 0 {
						return exitCode(2, errors.New("--public-key NAME:KEY is required: the key the manifest must be signed with"))
					}
					for _, k := range keys {
						pk, err := release.ParsePublicKey(k)
						if err != nil {
							return exitCode(2, fmt.Errorf("--public-key: %w", err))
						}
						cfg.Keys = append(cfg.Keys, pk)
					}
					if cfg.Interval < time.Second {
						return exitCode(2, fmt.Errorf("--interval %s: use at least 1s", cfg.Interval))
					}
					return nil
				}
				if !once {
					if err := validate(); err != nil {
						return err
					}
				}
				if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
					return err
				}
				// One agent per state directory: --once beside a running
				// agent asks that one to poll.
				pid, unlock, err := lockAgent(cfg.StateDir)
				if err != nil {
					return err
				}
				if unlock == nil {
					if !once {
						return fmt.Errorf("an agent already runs with %s (pid %d)", cfg.StateDir, pid)
					}
					if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
						return fmt.Errorf("asking the running agent (pid %d) to poll: %w", pid, err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "asked the running agent (pid %d) to poll now; see its /status\n", pid)
					return nil
				}
				defer unlock()
				if once {
					if err := validate(); err != nil {
						return err
					}
				}
				cfg.System = agent.System{Cache: nix.Substitution{From: cache, PublicKey: cacheKey},
					ConfirmTimeout: confirm, ActivationTimeout: activate, HealthDeadline: healthFor}
				cfg.Report = &report.Lines{W: cmd.ErrOrStderr()}
				if once {
					cfg.Listen = ""
				}
				a, err := agent.New(cfg)
				if err != nil {
					return exitCode(2, err)
				}
				ctx := cmd.Context()
				if once {
					if err := a.Once(ctx); err != nil {
						return exitCode(1, err)
					}
					st := a.Status()
					fmt.Fprintf(cmd.OutOrStdout(), "%s runs release %d (%s)\n", st.Machine, st.AppliedRelease, st.Running)
					return nil
				}
				// SIGHUP means "poll now" to a daemon, as it means "reload" to
				// sshd: it is taken back from main's handler, which would end
				// the command.
				signal.Reset(syscall.SIGHUP)
				hup := make(chan os.Signal, 1)
				signal.Notify(hup, syscall.SIGHUP)
				defer signal.Stop(hup)
				go func() {
					for range hup {
						a.PollNow()
					}
				}()
				return a.Run(ctx)
			},
		}
		f := cmd.Flags()
		f.StringVar(&cfg.ManifestURL, "manifest", "", "the release manifest's `URL` (http://, https://, or a file path)")
		f.StringArrayVar(&keys, "public-key", nil, "a public `NAME:KEY` the manifest may be signed with (nix key convert-secret-to-public), repeatable")
		f.StringVar(&cfg.Machine, "machine", "", "this machine's `NAME` in the manifest (default: the host name)")
		f.StringVar(&cache, "cache", "", "the binary cache `URL` systems are substituted from (default: the machine's configured substituters)")
		f.StringVar(&cacheKey, "cache-public-key", "", "the cache's public `NAME:KEY`, when nix.conf does not trust it yet")
		f.DurationVar(&cfg.Interval, "interval", agent.DefaultInterval, "time between polls")
		f.DurationVar(&cfg.Jitter, "jitter", 0, "a random extra delay of up to this much per poll (default: a tenth of --interval)")
		f.StringVar(&cfg.StateDir, "state-dir", agent.DefaultStateDir, "where the history and the in-flight record are kept")
		f.StringVar(&cfg.Listen, "listen", agent.DefaultListen, "`ADDR` where /status and /metrics are served (empty: not served)")
		f.BoolVar(&once, "once", false, "poll once and exit (or ask a running agent to poll now)")
		f.BoolVar(&cfg.Retry, "retry", false, "try once more a system that rolled back here")
		f.DurationVar(&confirm, "confirm-timeout", 2*time.Minute, "how long the watchdog waits for the agent's confirmation (health checks included) before it rolls back")
		f.DurationVar(&activate, "activation-timeout", 0, "how long the new system's activation may run before the watchdog stops it and rolls back (default 10m)")
		f.DurationVar(&healthFor, "health-deadline", 0, "how long each health check is retried (default 30s)")
		return cmd
	})
}

// lockAgent takes the state directory's lock. When another agent holds it,
// it returns that agent's pid and a nil unlock.
func lockAgent(dir string) (int, func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "agent.pid"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			if perr != nil {
				return 0, nil, fmt.Errorf("an agent holds %s but its pid is unreadable", f.Name())
			}
			return pid, nil, nil
		}
		return 0, nil, err
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return 0, func() { f.Close() }, nil
}
