package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/apply"
	"github.com/nixherd/nixherd/internal/flakeref"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/target"
)

// configurationsExpr lists the names under the three configuration outputs
// of the flake; attrNames does not evaluate the configurations themselves.
const configurationsExpr = `let
  f = builtins.getFlake %s;
  names = o: if f ? ${o} then builtins.attrNames f.${o} else [ ];
in {
  nixos = names "nixosConfigurations";
  darwin = names "darwinConfigurations";
  home = names "homeConfigurations";
}`

// FlakeConfigurations reads the configuration names of the flake in dir.
func FlakeConfigurations(ctx context.Context, n *nix.Nix, dir string) (Configurations, error) {
	abs, err := flakeref.ForNix(dir)
	if err != nil {
		return Configurations{}, err
	}
	var c Configurations
	if err := n.EvalJSON(ctx, fmt.Sprintf(configurationsExpr, nixString(abs)), &c); err != nil {
		return Configurations{}, fmt.Errorf("listing the flake's configurations: %w", err)
	}
	return c, nil
}

// SwitchOptions describe a local rebuild.
type SwitchOptions struct {
	Flake   string
	Machine hosts.Machine // Name, Configuration, Platform ("" = find it)
	Action  target.Action
	Nix     *nix.Nix
	Runner  remote.Runner
	// Reporter receives the progress (machine = the machine's name).
	Reporter report.Reporter
	// Host is what this machine is (default: This); a configuration it
	// cannot run is refused before anything is built or changed.
	Host *Identity
}

// SwitchResult is where a local rebuild left the machine.
type SwitchResult struct {
	Machine    string
	Platform   platform.Platform
	Path       string // the built configuration
	Generation int    // the profile's generation afterwards (0 for build)
	Previous   int
	// Output is what a dry activation printed: what it would change.
	Output string
}

// Switch builds the machine's configuration and, unless the action is
// build, applies it to this machine (internal/apply: lock, guard, profile,
// activation, verification): the same evaluation, build and apply a deploy
// runs, without the copy (the closure is already in this machine's store).
func Switch(ctx context.Context, o SwitchOptions) (SwitchResult, error) {
	m := o.Machine
	if m.Configuration == "" {
		m.Configuration = m.Name
	}
	if o.Reporter == nil {
		o.Reporter = report.Discard
	}
	progress := report.To(o.Reporter, m.Name)
	res := SwitchResult{Machine: m.Name}
	host := o.Host
	if host == nil {
		id := This(ctx)
		host = &id
	}
	// Refused before anything is built when the platform is known already,
	// and in any case before the profile is touched.
	canRun := func(p platform.Platform) error {
		if o.Action == target.Build || p == "" {
			return nil
		}
		return host.CanRun(p)
	}
	if err := canRun(m.Platform); err != nil {
		return res, err
	}

	progress(report.PhaseEval, m.Configuration)
	closures, err := plan.Evaluate(ctx, o.Nix, o.Flake, []hosts.Machine{m})
	if err != nil {
		return res, err
	}
	c := closures[0]
	if c.Err != nil {
		return res, c.Err
	}
	res.Platform, res.Path = c.Platform, c.OutPath
	exec, err := target.For(c.Platform)
	if err != nil {
		return res, err
	}
	if err := exec.Supports(o.Action); err != nil {
		return res, err
	}
	if err := canRun(c.Platform); err != nil {
		return res, err
	}

	progress(report.PhaseBuild, exec.Attr(m.Configuration))
	if err := plan.Build(ctx, o.Nix, closures); err != nil {
		return res, err
	}
	if o.Action == target.Build {
		return res, nil
	}

	// The host's deploy lock: a deploy or rollback from elsewhere must not
	// change the profile under this switch, nor this switch under them.
	locks := &apply.Locks{}
	defer locks.Release()
	var out report.Result
	// A failed activation puts the profile back: the machine must not boot
	// into the configuration that just failed.
	apply.Apply(ctx, apply.Request{Machine: m, Runner: o.Runner, Executor: exec, Path: c.OutPath, Action: o.Action,
		Locks: locks, Strategy: apply.Direct{RestoreProfile: true}, Report: progress}, &out)
	res.Previous, res.Generation, res.Output = out.PreviousGeneration, out.Generation, out.Output
	return res, out.Err
}

// nixString writes s as a Nix string literal.
func nixString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`).Replace(s) + `"`
}
