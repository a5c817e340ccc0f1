package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

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

// Evaluate evaluates all machines with one nix evaluation.
func Evaluate(ctx context.Context, n *nix.Nix, flakeDir string, machines []hosts.Machine) ([]Closure, error) {
	abs, err := filepath.Abs(flakeDir)
	if err != nil {
		return nil, err
	}
	var res map[string]evalResult
	if err := n.EvalJSON(ctx, evalExpr(abs, machines), &res); err != nil {
		return nil, fmt.Errorf("evaluating the fleet: %w", err)
	}
	out := make([]Closure, len(machines))
	for i, m := range machines {
		r := res[m.Name]
		out[i] = Closure{Machine: m, Platform: r.Platform, DrvPath: r.DrvPath, OutPath: r.OutPath}
		if r.Error != nil {
			out[i].Err = missingConfiguration(m, *r.Error)
		}
	}
	return out, nil
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
