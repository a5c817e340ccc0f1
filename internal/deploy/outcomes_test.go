package deploy_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
	"github.com/nixherd/nixherd/internal/ui"
)

// What each outcome says on real test hosts: a dry run's last progress line
// says what would be copied; a copy cut short by an interrupt says it was
// interrupted; a dry activation shows what the activation printed. (In
// this order: the last two copy the closure.)
func TestOutcomesSayWhatHappened(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"o1"}})
	m := nixos("o1", "1")
	m.PayloadBytes = 64 << 20 // a copy that takes a moment
	f := newFleet(t, c, m)
	h := c.Host("o1")

	t.Run("a dry run's progress says what would be copied", func(t *testing.T) {
		var mu sync.Mutex
		var done string
		s := f.deploy(deploy.Options{DryRun: true, Reporter: report.Func(func(e report.Event) {
			if e.Machine == "o1" && e.Phase == report.PhaseDone {
				mu.Lock()
				done = e.Detail
				mu.Unlock()
			}
		})})
		r := result(t, s, "o1")
		if r.Outcome != report.WouldCopy || !strings.HasPrefix(done, "dry run: would copy ") || !strings.Contains(done, " paths (") {
			t.Fatalf("o1 %s, last progress %q", r.Outcome, done)
		}
	})

	t.Run("an interrupted copy says so", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		inv, err := hosts.Load(ctx, f.dir)
		if err != nil {
			t.Fatal(err)
		}
		// Interrupt as soon as nix starts sending the first path.
		s, err := deploy.Run(ctx, inv.Machines, deploy.Options{Flake: f.dir, Reporter: report.Func(func(e report.Event) {
			if e.Phase == report.PhaseCopy && strings.HasPrefix(e.Detail, "copying 1/") {
				cancel()
			}
		})})
		if err != nil {
			t.Fatal(err)
		}
		r := result(t, s, "o1")
		if r.OK() || !strings.Contains(r.Error, "o1: interrupted while copying the closure (") || !strings.Contains(r.Error, "nothing was activated") {
			t.Fatalf("o1: %+v", r)
		}
		if h.Profile(target.SystemProfile) != "" || len(activationsOf(t, h)) != 0 {
			t.Errorf("the interrupted deploy changed the host: profile %q, %d activations", h.Profile(target.SystemProfile), len(activationsOf(t, h)))
		}
	})
	t.Run("dry-activate shows the activation's output", func(t *testing.T) {
		s := f.deploy(deploy.Options{Action: target.DryActivate})
		r := result(t, s, "o1")
		if r.Outcome != report.DryActivated || !strings.Contains(r.Output, "would activate "+r.Path) {
			t.Fatalf("o1: %+v", r)
		}
		var table strings.Builder
		ui.WriteSummary(&table, s)
		if !strings.Contains(table.String(), "o1 dry-activated:\n  would activate "+r.Path+"\n") {
			t.Errorf("the summary does not show the dry activation's output:\n%s", table.String())
		}
		if h.Profile(target.SystemProfile) != "" || h.CurrentSystem() != "" {
			t.Error("dry-activate changed the host")
		}
	})

}
