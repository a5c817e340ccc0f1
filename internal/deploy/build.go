package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
)

// Closure is what one machine is deployed with: the derivation the fleet
// evaluates to and its output, the system (or home generation) itself.
type Closure struct {
	Machine  hosts.Machine
	Platform string
	DrvPath  string
	OutPath  string
	// Err is set when the machine has no configuration in the flake.
	Err error
}

// nixString writes s as a Nix string literal.
func nixString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`).Replace(s) + `"`
}

// evalExpr builds the one expression that evaluates every selected machine:
// for each, the platform (from deploy.nix, else the flake output that has the
// configuration) and the derivation and output paths of its closure.
// Evaluating drvPath writes the .drv files, so the build needs no second
// evaluation.
func evalExpr(flakeDir string, machines []hosts.Machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, `let
  f = builtins.getFlake %s;
  outputs = { nixos = "nixosConfigurations"; darwin = "darwinConfigurations"; home = "homeConfigurations"; };
  closure = { nixos = c: c.config.system.build.toplevel; darwin = c: c.system; home = c: c.activationPackage; };
  has = p: name: f ? ${outputs.${p}} && builtins.hasAttr name f.${outputs.${p}};
  pick = name: platform:
    let
      p = if platform != "" then platform
        else if has "nixos" name then "nixos"
        else if has "darwin" name then "darwin"
        else if has "home" name then "home"
        else "";
      drv = closure.${p} f.${outputs.${p}}.${name};
    in if p == "" || !(has p name) then { error = platform; }
       else { platform = p; drv = drv.drvPath; out = drv.outPath; };  # no "outPath" key: toJSON would print just that string
in {
`, nixString(flakeDir))
	for _, m := range machines {
		fmt.Fprintf(&b, "  %s = pick %s %s;\n", nixString(m.Name), nixString(m.Configuration), nixString(m.Platform))
	}
	b.WriteString("}\n")
	return b.String()
}

type evalResult struct {
	Error    *string `json:"error"`
	Platform string  `json:"platform"`
	DrvPath  string  `json:"drv"`
	OutPath  string  `json:"out"`
}

// Evaluate evaluates all machines with one nix evaluation. When that fails
// and more than one machine is selected, each machine is evaluated alone to
// find the broken ones: they get Err, the others still deploy. It fails as
// a whole only when every machine fails (a broken flake.nix, say).
func Evaluate(ctx context.Context, n *nix.Nix, flakeDir string, machines []hosts.Machine) ([]Closure, error) {
	cs, _, err := evaluate(ctx, n, flakeDir, machines)
	return cs, err
}

// evaluate is Evaluate that also counts the nix evaluations it ran.
func evaluate(ctx context.Context, n *nix.Nix, flakeDir string, machines []hosts.Machine) ([]Closure, int, error) {
	abs, err := filepath.Abs(flakeDir)
	if err != nil {
		return nil, 0, err
	}
	var res map[string]evalResult
	err = n.EvalJSON(ctx, evalExpr(abs, machines), &res)
	if err == nil {
		out := make([]Closure, len(machines))
		for i, m := range machines {
			out[i] = closureOf1(m, res[m.Name])
		}
		return out, 1, nil
	}
	whole := fmt.Errorf("evaluating the fleet: %w", err)
	if len(machines) < 2 || ctx.Err() != nil {
		return nil, 1, whole
	}
	out := make([]Closure, len(machines))
	evaluated := make([]bool, len(machines))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, m := range machines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var one map[string]evalResult
			if err := n.EvalJSON(ctx, evalExpr(abs, []hosts.Machine{m}), &one); err != nil {
				out[i] = Closure{Machine: m, Err: fmt.Errorf("evaluating %s: %w", m.Name, err)}
				return
			}
			out[i], evaluated[i] = closureOf1(m, one[m.Name]), true
		}()
	}
	wg.Wait()
	for _, ok := range evaluated {
		if ok {
			return out, 1 + len(machines), nil
		}
	}
	return nil, 1 + len(machines), whole
}

func closureOf1(m hosts.Machine, r evalResult) Closure {
	c := Closure{Machine: m, Platform: r.Platform, DrvPath: r.DrvPath, OutPath: r.OutPath}
	if r.Error != nil {
		c.Err = missingConfiguration(m, *r.Error)
	}
	return c
}

func missingConfiguration(m hosts.Machine, platform string) error {
	where := "nixosConfigurations, darwinConfigurations or homeConfigurations"
	switch platform {
	case hosts.NixOS:
		where = "nixosConfigurations"
	case hosts.Darwin:
		where = "darwinConfigurations"
	case hosts.Home:
		where = "homeConfigurations"
	}
	if m.Pos.File == "" { // a machine not read from deploy.nix (switch without one)
		return fmt.Errorf("the flake has no %q in %s", m.Configuration, where)
	}
	return fmt.Errorf("the flake has no %q in %s (deploy.nix %s)", m.Configuration, where, m.Pos)
}

// BuildLocally realises the closures of every evaluated machine with one
// nix build of their derivations (no second evaluation).
func BuildLocally(ctx context.Context, n *nix.Nix, closures []Closure) error {
	var drvs []string
	seen := map[string]bool{}
	for _, c := range closures {
		if c.Err == nil && !seen[c.DrvPath] {
			seen[c.DrvPath] = true
			drvs = append(drvs, c.DrvPath)
		}
	}
	sort.Strings(drvs)
	outs, err := n.BuildDrvs(ctx, drvs)
	if err != nil {
		return fmt.Errorf("building: %w", err)
	}
	for _, c := range closures {
		if c.Err == nil && outs[c.DrvPath] != c.OutPath {
			return fmt.Errorf("%s: nix build produced %s, but evaluation said %s", c.Machine.Name, outs[c.DrvPath], c.OutPath)
		}
	}
	return nil
}

// failUnbuilt marks the machines whose closure a failed build did not
// produce; nix built the others (--keep-going), so they still deploy. It
// returns buildErr when nothing was built at all.
func failUnbuilt(ctx context.Context, n *nix.Nix, closures []Closure, buildErr error) error {
	var outs []string
	for _, c := range closures {
		if c.Err == nil {
			outs = append(outs, c.OutPath)
		}
	}
	invalid, err := n.Invalid(ctx, outs)
	if err != nil || len(invalid) == len(outs) {
		return buildErr
	}
	for i := range closures {
		if c := &closures[i]; c.Err == nil && invalid[c.OutPath] {
			c.Err = fmt.Errorf("%s: its closure did not build: %w", c.Machine.Name, buildErr)
		}
	}
	return nil
}
