package deploy

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/target"
)

// Waves is a push rollout's stage (rollout.Stage): each wave is the plan
// applied to the wave's machines, at most InFlight hosts at once; after the
// soak a machine is healthy when it still runs its new system and its
// health checks from deploy.nix pass.
type Waves struct {
	Plan     *plan.Plan
	Options  Options
	InFlight int
}

// Deploy applies the plan to the wave's machines.
func (s *Waves) Deploy(ctx context.Context, w rollout.Wave) (*report.Summary, error) {
	o := s.Options
	if s.InFlight > 0 {
		o.Reach.Parallel = s.InFlight
	}
	return Apply(ctx, s.Plan.Only(w.Names()), o)
}

// Healthy checks the wave's machines again after their soak.
func (s *Waves) Healthy(ctx context.Context, w rollout.Wave) (map[string]string, error) {
	paths := map[string]plan.Closure{}
	for _, c := range s.Plan.Closures {
		paths[c.Machine.Name] = c
	}
	fleet, err := fanout.New(w.Machines, s.Options.Reach)
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	var mu sync.Mutex
	bad := map[string]string{}
	fail := func(name, why string) {
		mu.Lock()
		defer mu.Unlock()
		bad[name] = why
	}
	fleet.Each(ctx, func(ctx context.Context, h *fanout.Host) {
		for _, i := range h.Machines {
			m := w.Machines[i]
			c := paths[m.Name]
			if s.Plan.Action != target.Switch || c.Err != nil {
				continue
			}
			r, err := h.Connect(ctx, m)
			if err != nil {
				fail(m.Name, err.Error())
				continue
			}
			exec, err := target.For(c.Platform)
			if err != nil {
				fail(m.Name, err.Error())
				continue
			}
			if exec.Platform().System() {
				cur, ok, err := apply.UpToDate(ctx, r, exec, c.OutPath)
				switch {
				case err != nil:
					fail(m.Name, err.Error())
					continue
				case !ok:
					fail(m.Name, fmt.Sprintf("runs %s (generation %d), not the new system", cur.Path, cur.Number))
					continue
				}
			}
			if failed := apply.CheckHealth(ctx, r, m.HealthChecks, 0, nil); len(failed) > 0 {
				fail(m.Name, "health check failed: "+strings.Join(failed, ", "))
			}
		}
	})
	return bad, ctx.Err()
}

var _ rollout.Stage = (*Waves)(nil)

// machinesOf lists the machines of closures.
func machinesOf(cs []plan.Closure) []hosts.Machine {
	out := make([]hosts.Machine, len(cs))
	for i, c := range cs {
		out[i] = c.Machine
	}
	return out
}
