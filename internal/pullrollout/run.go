package pullrollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/agent"
	"github.com/nixherd/nixherd/internal/atomicfile"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
)

// Options say what to roll out where.
type Options struct {
	// Publish is the flake, cache, keys and destination, as for a publish.
	Publish publish.Options
	// InFlight, Deadline and Poll: as for Stage.
	InFlight int
	Deadline time.Duration
	Poll     time.Duration
	// Read reads an agent (default: its /status at deploy.nix's pull.agent).
	Read Reader
	// Progress hears each wave's steps (besides the record).
	Progress rollout.Progress
	Now      func() time.Time
}

// Outcome is how a rollout ended.
type Outcome struct {
	*rollout.Result
	// Previous is the release the rollout started from; Release the one
	// published when it ended (Previous when it published none).
	Previous int64
	Release  int64
	// Reverted is the release that gave the halted wave its previous
	// entries back (0: none), and Back how each of its machines returned.
	Reverted int64
	Back     []report.Result
	// Interrupted is true when the rollout was stopped (its context ended)
	// before its last wave: nothing was reverted.
	Interrupted bool
	Record      rollout.Record
	// Fresh lists the machines the rollout changed (their entries differ
	// from the release it started from).
	Fresh []string
}

// ErrNoAgent is a machine a rollout cannot watch: deploy.nix does not say
// where its agent answers.
var ErrNoAgent = errors.New("a rollout waits on each machine's agent, and deploy.nix gives no address of its agent (pull = { agent = \"http://HOST:9851\"; })")

// Check refuses, before anything is built or published, machines whose
// agents a rollout could not read.
func Check(waves []rollout.Wave) error {
	var missing []string
	for _, w := range waves {
		for _, m := range w.Machines {
			if m.Pull == nil || m.Pull.Agent == "" {
				missing = append(missing, m.Name)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(missing, ", "), ErrNoAgent)
	}
	return nil
}

// Run rolls the waves out: it takes the destination's lock (ErrBusy when
// another rollout or publish holds it), builds every machine once, then
// publishes wave after wave through a Stage, and reverts a halted wave.
// The record is written beside the manifest as it goes.
func Run(ctx context.Context, waves []rollout.Wave, o Options) (*Outcome, error) {
	if err := Check(waves); err != nil {
		return nil, err
	}
	if err := o.Publish.Check(); err != nil {
		return nil, err
	}
	if o.Read == nil {
		o.Read = func(ctx context.Context, m hosts.Machine) (agent.Status, error) {
			return status.AgentStatus(ctx, m.Pull.Agent)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dest, err := publish.Open(o.Publish)
	if err != nil {
		return nil, err
	}
	defer dest.Close()
	current, previous, err := dest.Current()
	if err != nil {
		return nil, err
	}
	var machines []hosts.Machine
	for _, w := range waves {
		machines = append(machines, w.Machines...)
	}
	built, err := publish.Build(ctx, machines, o.Publish)
	if err != nil {
		return nil, err
	}
	entries := built.Entries()
	old := map[string]*release.Machine{}
	out := &Outcome{Previous: previous}
	for _, m := range machines {
		if current != nil {
			if e, ok := current.Machines[m.Name]; ok {
				old[m.Name] = &e
			}
		}
		if old[m.Name] == nil || old[m.Name].Path != entries[m.Name].Path {
			out.Fresh = append(out.Fresh, m.Name)
		}
	}

	recordPath := rollout.RecordBeside(o.Publish.Destination.Path)
	rec := rollout.NewRecorder(waves, previous, func(b []byte) error { return atomicfile.Write(recordPath, b, 0o644) }, o.Now)
	rec.Update(func(r *rollout.Record) {
		r.Revision, r.MaxInFlight, r.Deadline = built.Revision, o.InFlight, deadlineOr(o.Deadline).Seconds()
		for i, w := range waves {
			for j, m := range w.Machines {
				r.Waves[i].Machines[j].Path = entries[m.Name].Path
			}
		}
	})
	stage := &Stage{Publisher: dest, Read: o.Read, New: entries, Revision: built.Revision, Dirty: built.Dirty,
		InFlight: o.InFlight, Deadline: o.Deadline, Poll: o.Poll, Record: rec, Now: o.Now}
	progress := rollout.Progress(rec)
	if o.Progress != nil {
		progress = rollout.Both(rec, o.Progress)
	}
	out.Result = rollout.Run(ctx, waves, stage, progress)
	out.Release = max(previous, stage.Published())
	rec.Update(func(r *rollout.Record) { r.Release = out.Release })
	rec.Settle(out.Result)

	switch {
	case ctx.Err() != nil:
		out.Interrupted = true
		rec.End("interrupted", out.Says())
	case out.Halt != nil:
		i := waveIndex(waves, out.Halt.Wave)
		progress.Wave(i, waves[i], "reverting")
		n, back, err := stage.Revert(ctx, waves[i], old)
		if err != nil {
			rec.End("halted", out.Says())
			return out, fmt.Errorf("%v; reverting wave %s: %w", out.Halt, out.Halt.Wave, err)
		}
		out.Reverted, out.Back, out.Release = n, back, max(out.Release, n)
		state := "reverted"
		for _, r := range back {
			if !r.OK() {
				state = "revert incomplete"
			}
		}
		progress.Wave(i, waves[i], state)
		rec.Update(func(r *rollout.Record) { r.Release, r.Reverted = out.Release, n })
		rec.End("halted", out.Says())
	default:
		rec.End("done", out.Says())
	}
	out.Record = rec.Snapshot()
	if err := rec.Err(); err != nil {
		return out, fmt.Errorf("writing the rollout's record %s: %w", recordPath, err)
	}
	return out, nil
}

// Says is the rollout's last word: what is published now.
func (o *Outcome) Says() string {
	switch {
	case o.Interrupted && o.Release == o.Previous:
		return fmt.Sprintf("interrupted: nothing was published; release %d is still the one published", o.Previous)
	case o.Interrupted:
		return fmt.Sprintf("interrupted: release %d is published (%s); the other machines keep release %d's systems", o.Release, o.reached(), o.Previous)
	case o.Halt != nil && o.Reverted > 0:
		return fmt.Sprintf("%v; release %d gave wave %s its release %d entries back; release %d is published (%s)", o.Halt, o.Reverted, o.Halt.Wave, o.Previous, o.Release, o.reached())
	case o.Halt != nil:
		return fmt.Sprintf("%v; release %d is published", o.Halt, o.Release)
	case o.Release == o.Previous:
		return fmt.Sprintf("done: release %d already named these systems", o.Release)
	}
	return fmt.Sprintf("done: release %d is published to every wave (was %d)", o.Release, o.Previous)
}

// reached names the waves whose machines the published release gives the
// new systems.
func (o *Outcome) reached() string {
	var names []string
	for _, w := range o.Waves {
		if w.State == "done" {
			names = append(names, w.Name)
		}
	}
	if len(names) == 0 {
		return "no wave has the new systems"
	}
	return "the new systems for wave " + strings.Join(names, ", ")
}

func waveIndex(waves []rollout.Wave, name string) int {
	for i, w := range waves {
		if w.Name == name {
			return i
		}
	}
	return 0
}

func deadlineOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultDeadline
}
