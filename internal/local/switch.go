package local

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/remote"
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
	abs, err := filepath.Abs(dir)
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
	// Reporter receives the progress (host = the machine's name).
	Reporter deploy.Reporter
}

// SwitchResult is where a local rebuild left the machine.
type SwitchResult struct {
	Machine    string
	Platform   string
	Path       string // the built configuration
	Generation int    // the profile's generation afterwards (0 for build)
	Previous   int
}

// Switch builds the machine's configuration and, unless the action is
// build, activates it on this machine with the platform's contract: the
// same evaluation, build, guard and activation a deploy runs, without the
// copy (the closure is already in this machine's store).
func Switch(ctx context.Context, o SwitchOptions) (SwitchResult, error) {
	m := o.Machine
	if m.Configuration == "" {
		m.Configuration = m.Name
	}
	report := func(p deploy.Phase, detail string) {
		if o.Reporter != nil {
			o.Reporter.Event(deploy.Event{Host: m.Name, Phase: p, Detail: detail, Time: time.Now()})
		}
	}
	res := SwitchResult{Machine: m.Name}

	report(deploy.PhaseEval, m.Configuration)
	closures, err := deploy.Evaluate(ctx, o.Nix, o.Flake, []hosts.Machine{m})
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

	report(deploy.PhaseBuild, exec.Attr(m.Configuration))
	if err := deploy.BuildLocally(ctx, o.Nix, closures); err != nil {
		return res, err
	}
	if o.Action == target.Build {
		return res, nil
	}

	// The host's deploy lock: a deploy or rollback from elsewhere must not
	// change the profile under this switch, nor this switch under them.
	report(deploy.PhaseLock, "")
	lock, err := deploy.Lock(ctx, o.Runner, target.NeedsRoot(exec))
	if err != nil {
		return res, err
	}
	defer lock.Release()

	report(deploy.PhaseGuard, c.OutPath)
	if err := exec.Guard(ctx, o.Runner, c.OutPath); err != nil {
		return res, err
	}
	profile, err := exec.Profile(ctx, o.Runner)
	if err != nil {
		return res, err
	}
	prev, err := target.Current(ctx, o.Runner, profile)
	if err != nil {
		return res, err
	}
	res.Previous = prev.Number
	h := &deploy.Host{Machine: m, Runner: o.Runner, Executor: exec, Path: c.OutPath, Action: o.Action,
		Profile: profile, Previous: prev, Report: report}
	if err := (deploy.Direct{}).Activate(ctx, h); err != nil {
		return res, err
	}
	cur, err := target.Current(ctx, o.Runner, profile)
	if err != nil {
		return res, err
	}
	res.Generation = cur.Number
	if o.Action.SetsProfile() && cur.Path != c.OutPath {
		return res, fmt.Errorf("after activation %s points at %s, not the new %s", profile, cur.Path, c.OutPath)
	}
	return res, nil
}

// nixString writes s as a Nix string literal.
func nixString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`).Replace(s) + `"`
}
