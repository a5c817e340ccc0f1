package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nixherd/nixherd/internal/gc"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			fl        fleetFlags
			all       bool
			keep      int
			keepSince string
			maxSize   string
			dryRun    bool
			asJSON    bool
			parallel  int
		)
		cmd := &cobra.Command{
			Use:   "gc [SELECTOR...]",
			Short: "Delete old generations and collect the garbage of many machines",
			Long: `gc deletes the old generations of the selected machines' profiles and runs
the Nix garbage collector on their hosts, in parallel, one connection per host
(machines on one host are collected once).

On each host, under its deploy lock (a host that a deploy, switch or rollback
holds is refused, and nothing there is touched), it looks after the system
profile, every home-manager profile and the deploy user's own profiles. Of
each it keeps the newest --keep generations, every generation younger than
--keep-since, the profile's current generation (on NixOS the boot default)
and any generation that runs now, even when it is older than every kept one;
the rest are deleted with nix-env --delete-generations, then nix-store --gc
frees what nothing needs any more (at most --max bytes of it).

--dry-run says which generations would go and about how much that would free,
and changes nothing.

Exit status: 0 done; 1 some host failed or was refused (it is busy); 2 bad
input; 3 some host could not be reached.`,
			Example: `  nixherd gc @vm --dry-run
  nixherd gc --all --keep 5 --keep-since 14d
  nixherd gc devnix --max 10G --json`,
			RunE: func(cmd *cobra.Command, args []string) error {
				o := gc.Options{Keep: keep, DryRun: dryRun}
				var err error
				if keepSince != "" {
					if o.KeepSince, err = gc.ParseAge(keepSince); err != nil {
						return exitCode(2, fmt.Errorf("--keep-since: %w", err))
					}
				}
				if maxSize != "" {
					if o.MaxFreed, err = gc.ParseSize(maxSize); err != nil {
						return exitCode(2, fmt.Errorf("--max: %w", err))
					}
				}
				if keep < 1 {
					return exitCode(2, fmt.Errorf("--keep %d: keep at least 1 generation of each profile", keep))
				}
				if err := o.Validate(); err != nil {
					return exitCode(2, err)
				}
				if parallel < 1 {
					return exitCode(2, fmt.Errorf("--parallel must be at least 1"))
				}
				ctx := cmd.Context()
				machines, err := fl.selectMachines(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: args, All: all}, "collect the garbage of", true})
				if err != nil {
					return err
				}
				o.Reach = status.Reach(fl.sshOptions(), parallel)
				names := make([]string, len(machines))
				for i, m := range machines {
					names[i] = m.Name
				}
				view := ui.New(cmd.ErrOrStderr(), names...)
				s, err := gc.Run(ctx, machines, o, view)
				view.Close()
				if err != nil {
					return err
				}
				if asJSON {
					ui.WriteJSON(cmd.OutOrStdout(), s)
				} else {
					writeGC(cmd.OutOrStdout(), s)
				}
				outcomes := make([]report.Outcome, len(s.Hosts))
				for i, h := range s.Hosts {
					outcomes[i] = h.Outcome
				}
				return outcomesExit(s.OK, outcomes)
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "collect every machine in deploy.nix")
		f.IntVar(&keep, "keep", 3, "keep the newest `N` generations of each profile")
		f.StringVar(&keepSince, "keep-since", "", "keep every generation younger than `DURATION` too (7d, 2w, 36h)")
		f.StringVar(&maxSize, "max", "", "free at most `SIZE` (500M, 10G) per host")
		f.BoolVar(&dryRun, "dry-run", false, "show what would be deleted and about how much it would free; change nothing")
		f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
		f.IntVarP(&parallel, "parallel", "p", 10, "work on at most `N` hosts at once")
		fl.register(f)
		cmd.ValidArgsFunction = fl.selectorCompletion(false)
		return cmd
	})
}

// writeGC writes a gc's summary: one row per profile, then what each host
// freed and the total.
func writeGC(w io.Writer, s *gc.Summary) error {
	rows := [][]string{{"MACHINES", "PROFILE", "KIND", "KEPT", "DELETED"}}
	for _, h := range s.Hosts {
		for _, p := range h.Profiles {
			rows = append(rows, []string{strings.Join(h.Machines, ","), p.Path, p.Kind, numbers(p.Kept), numbers(p.Deleted)})
		}
	}
	if len(rows) > 1 {
		if err := ui.Table(w, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	verb := "freed"
	if s.DryRun {
		verb = "would free about"
	}
	rows = [][]string{{"MACHINES", "TARGET", "OUTCOME", strings.ToUpper(verb), "ERROR"}}
	for _, h := range s.Hosts {
		first, _, _ := strings.Cut(strings.TrimSpace(h.Error), "\n")
		rows = append(rows, []string{strings.Join(h.Machines, ","), h.Target, string(h.Outcome), report.HumanBytes(h.FreedBytes), first})
	}
	if err := ui.Table(w, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s in total on %d hosts\n", verb, report.HumanBytes(s.FreedBytes), len(s.Hosts))
	return err
}

// numbers writes generation numbers as a list, "-" when there are none.
func numbers(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}
