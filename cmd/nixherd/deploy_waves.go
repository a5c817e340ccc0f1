package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/spf13/pflag"
)

// waveFlags are the staged-rollout options of deploy and rollout.
type waveFlags struct {
	waves       []string
	soak        time.Duration
	fromFile    bool
	maxInFlight string
	deadline    time.Duration
	// always: the command always rolls out in waves (rollout), by default
	// those of deploy.nix's rollout, else one wave of every machine.
	always bool
}

func (w *waveFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&w.waves, "wave", nil, "deploy these machines (`SELECTOR`, e.g. @canary) first, then the rest; repeat for more waves")
	f.DurationVar(&w.soak, "soak", 0, "how long each --wave must stay healthy before the next wave starts")
	f.BoolVar(&w.fromFile, "waves", false, "deploy in the waves of deploy.nix's rollout")
	f.StringVar(&w.maxInFlight, "max-in-flight", "", "deploy at most `N` (or N%) machines at once during a rollout (default: deploy.nix's rollout.maxInFlight)")
}

// registerPull adds what only a pull rollout has.
func (w *waveFlags) registerPull(f *pflag.FlagSet) {
	w.always = true
	w.register(f)
	f.DurationVar(&w.deadline, "deadline", 0, "how long a wave's machines have to run the release healthy before the rollout halts (default: deploy.nix's rollout.deadline, else 15m)")
}

func (w *waveFlags) enabled() bool { return w.always || len(w.waves) > 0 || w.fromFile }

// validate checks the wave flags before anything is built.
func (w *waveFlags) validate() error {
	if len(w.waves) > 0 && w.fromFile {
		return fmt.Errorf("--wave and --waves cannot be combined: give the waves on the command line or in deploy.nix")
	}
	if w.soak < 0 {
		return fmt.Errorf("--soak %s: a duration cannot be negative", w.soak)
	}
	if w.soak > 0 && len(w.waves) == 0 {
		return fmt.Errorf("--soak goes with --wave (deploy.nix's waves have their own soak)")
	}
	if w.maxInFlight != "" && !w.enabled() {
		return fmt.Errorf("--max-in-flight goes with --wave or --waves")
	}
	if w.deadline < 0 {
		return fmt.Errorf("--deadline %s: a duration cannot be negative", w.deadline)
	}
	if w.maxInFlight != "" {
		if _, _, err := parseBudget(w.maxInFlight); err != nil {
			return fmt.Errorf("--max-in-flight: %w", err)
		}
	}
	return nil
}

// split resolves the waves of a rollout over the selected machines, and how
// many machines may be mid-deploy at once.
func (w *waveFlags) split(inv *hosts.Inventory, selected []hosts.Machine) ([]rollout.Wave, int, error) {
	spec := &hosts.Rollout{}
	if w.always && !w.fromFile && len(w.waves) == 0 && inv.Rollout != nil {
		spec = inv.Rollout
	}
	if w.fromFile {
		if inv.Rollout == nil {
			return nil, 0, fmt.Errorf("--waves: %s declares no rollout (rollout = { waves = [ … ]; })", inv.File)
		}
		spec = inv.Rollout
	}
	for _, sel := range w.waves {
		spec.Waves = append(spec.Waves, hosts.Wave{Name: sel, Selectors: []string{sel}, Soak: w.soak})
	}
	if w.maxInFlight != "" {
		n, pct, err := parseBudget(w.maxInFlight)
		if err != nil {
			return nil, 0, fmt.Errorf("--max-in-flight: %w", err)
		}
		spec.MaxInFlight, spec.Percent = n, pct
	}
	waves, err := rollout.Split(inv, selected, spec.Waves)
	if err != nil {
		return nil, 0, err
	}
	return waves, spec.InFlight(len(selected)), nil
}

// deadlineIn is how long a wave may take: --deadline, else deploy.nix's
// rollout.deadline (0: the command's default).
func (w *waveFlags) deadlineIn(inv *hosts.Inventory) time.Duration {
	if w.deadline > 0 || inv.Rollout == nil {
		return w.deadline
	}
	return inv.Rollout.Deadline
}

// parseBudget reads N or N%.
func parseBudget(s string) (int, bool, error) {
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 1 || pct && n > 100 {
		return 0, false, fmt.Errorf("%q: a number of machines (at least 1) or a percentage like 25%%", s)
	}
	return n, pct, nil
}

// deployWaves plans the deploy of every selected machine once and applies
// it wave by wave, halting at the first wave that fails. With a record
// file, the rollout's progress is kept there for the dashboard and status
// (rollout.PushRecordFile); a record that cannot be written is a warning,
// never a reason not to deploy.
func deployWaves(ctx context.Context, waves []rollout.Wave, inFlight int, o deploy.Options, progress io.Writer, record string) (*report.Summary, *rollout.Halt, error) {
	start := time.Now()
	var machines []hosts.Machine
	for _, w := range waves {
		machines = append(machines, w.Machines...)
	}
	p, err := plan.Make(ctx, machines, plan.Options{
		Flake: o.Flake, Action: o.Action, BuildOn: o.BuildOn, Cache: o.Cache, DryRun: o.DryRun,
		Approve: o.Approve, Nix: o.Nix, Reporter: o.Reporter,
	})
	if err != nil {
		return nil, nil, err
	}
	var stage rollout.Stage = &deploy.Waves{Plan: p, Options: o, InFlight: inFlight}
	var steps rollout.Progress = waveLines{progress}
	var rec *rollout.Recorder
	if record != "" {
		if rec, err = rollout.NewPushRecorder(waves, record); err != nil {
			fmt.Fprintf(progress, "nixherd: warning: the rollout is not recorded for the dashboard: %v\n", err)
			rec = nil
		} else {
			rec.Update(func(r *rollout.Record) { r.MaxInFlight = inFlight })
			stage, steps = rec.Stage(stage), rollout.Both(steps, rec)
		}
	}
	res := rollout.Run(ctx, waves, stage, steps)
	if rec != nil {
		rec.Finish(res, ctx.Err() != nil)
		if err := rec.Err(); err != nil {
			fmt.Fprintf(progress, "nixherd: warning: writing the rollout record %s: %v\n", record, err)
		}
	}
	s := res.Summary(time.Since(start).Seconds())
	s.Action, s.Evaluations = string(p.Action), p.Evaluations
	return s, res.Halt, nil
}

// waveLines reports a rollout's waves as lines.
type waveLines struct{ w io.Writer }

func (l waveLines) Wave(i int, w rollout.Wave, state string) {
	fmt.Fprintf(l.w, "%s wave %d %s (%s): %s\n", time.Now().UTC().Format(time.RFC3339), i+1, w.Name, strings.Join(w.Names(), ", "), state)
}
