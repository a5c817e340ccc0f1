package deploy_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testhost"
)

// TestLoginsOverlapTheBuild: a deploy logs in to its hosts while nix
// evaluates and builds (the plan's evaluation waits here until a host was
// dialled, so a deploy that dials only afterwards fails), a build logs in
// nowhere, and a deploy with Approve (--ask) not before its question.
func TestLoginsOverlapTheBuild(t *testing.T) {
	dir := t.TempDir()
	deployNix := `{ machines.a = { target = "root@a.invalid"; platform = "nixos"; configuration = "a"; }; }`
	if err := testhost.WriteFixture(dir, testhost.FixtureOptions{
		Machines: []testhost.FixtureMachine{{Name: "a", Platform: platform.NixOS, Generation: "1"}},
		Files:    map[string]string{"deploy.nix": deployNix},
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inv, err := hosts.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := inv.Select(nil, true)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	dials := 0
	dialled, once := make(chan struct{}), sync.Once{}
	dial := func(_ context.Context, m hosts.Machine) (remote.Runner, error) {
		mu.Lock()
		defer mu.Unlock()
		dials++
		once.Do(func() { close(dialled) })
		return nil, &remote.ConnectError{Host: m.Name, Addr: m.Address, Reason: "Connection refused"}
	}
	evaluating := report.Func(func(e report.Event) {
		if e.Machine == "" && e.Phase == report.PhaseEval {
			select {
			case <-dialled:
			case <-time.After(30 * time.Second):
				t.Error("no host was dialled while the deploy evaluated")
			}
		}
	})
	s, err := deploy.Run(ctx, ms, deploy.Options{Flake: dir, Action: target.Switch, Reach: fanout.Options{Dial: dial}, Reporter: evaluating})
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, s, "a"); r.Outcome != report.Unreachable || dials != 1 {
		t.Fatalf("a: %s (%s) after %d dials; want unreachable after the one warm dial", r.Outcome, r.Error, dials)
	}

	dials = 0
	if _, err := deploy.Run(ctx, ms, deploy.Options{Flake: dir, Action: target.Build, Reach: fanout.Options{Dial: dial}}); err != nil {
		t.Fatal(err)
	}
	if dials != 0 {
		t.Fatalf("a build dialled %d hosts", dials)
	}

	asked := false
	declined := errors.New("declined")
	_, err = deploy.Run(ctx, ms, deploy.Options{Flake: dir, Action: target.Switch, Reach: fanout.Options{Dial: dial},
		Approve: func(context.Context, []plan.Closure) error {
			mu.Lock()
			defer mu.Unlock()
			asked = true
			if dials != 0 {
				t.Errorf("%d hosts dialled before the question", dials)
			}
			return declined
		}})
	if !asked || !errors.Is(err, declined) {
		t.Fatalf("asked %v, err %v; want the question declined", asked, err)
	}
}
