package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/flakeref"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/platform"
)

// Closure is what one machine is deployed with: the derivation the fleet
// evaluates to and its output, the system (or home generation) itself.
type Closure struct {
	Machine  hosts.Machine
	Platform platform.Platform
	DrvPath  string
	OutPath  string
	// BuildOn is where it is built: hosts.BuildLocal or hosts.BuildTarget.
	BuildOn string
	// Err is set when the machine cannot be deployed: it has no
	// configuration in the flake, or it did not evaluate or build.
	Err error
}

// nixString writes s as a Nix string literal.
func nixString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`).Replace(s) + `"`
}

// evalExpr is the one expression that evaluates every selected machine: for
// each, the platform (from deploy.nix, else the flake output that has the
// configuration) and the derivation and output paths of its closure.
// Evaluating drvPath writes the .drv files, so the build needs no second
// evaluation. The machines come from a JSON file (listFile): a fleet of
// thousands would not fit on a command line.
func evalExpr(flakeDir, listFile string) string {
	return fmt.Sprintf(`let
  f = builtins.getFlake %s;
  machines = builtins.fromJSON (builtins.readFile %s);
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
in builtins.mapAttrs (_: m: pick m.configuration m.platform) machines
`, nixString(flakeDir), nixString(listFile))
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
	abs, err := flakeref.ForNix(flakeDir)
	if err != nil {
		return nil, 0, err
	}
	tmp, err := os.MkdirTemp("", "nixherd-eval-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(tmp)
	res, err := evalMachines(ctx, n, abs, filepath.Join(tmp, "all.json"), machines)
	if err == nil {
		out := make([]Closure, len(machines))
		for i, m := range machines {
			out[i] = closureOf(m, res[m.Name])
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
			one, err := evalMachines(ctx, n, abs, filepath.Join(tmp, fmt.Sprintf("%d.json", i)), []hosts.Machine{m})
			if err != nil {
				out[i] = Closure{Machine: m, Err: fmt.Errorf("evaluating %s: %w", m.Name, err)}
				return
			}
			out[i], evaluated[i] = closureOf(m, one[m.Name]), true
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

// evalMachines writes the machines to listFile and evaluates them.
func evalMachines(ctx context.Context, n *nix.Nix, flakeDir, listFile string, machines []hosts.Machine) (map[string]evalResult, error) {
	type entry struct {
		Configuration string `json:"configuration"`
		Platform      string `json:"platform"`
	}
	list := make(map[string]entry, len(machines))
	for _, m := range machines {
		c := m.Configuration
		if c == "" {
			c = m.Name
		}
		list[m.Name] = entry{Configuration: c, Platform: string(m.Platform)}
	}
	data, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(listFile, data, 0o600); err != nil {
		return nil, err
	}
	var res map[string]evalResult
	if err := n.EvalJSON(ctx, evalExpr(flakeDir, listFile), &res); err != nil {
		return nil, err
	}
	return res, nil
}

func closureOf(m hosts.Machine, r evalResult) Closure {
	c := Closure{Machine: m, Platform: platform.Platform(r.Platform), DrvPath: r.DrvPath, OutPath: r.OutPath}
	if r.Error != nil {
		c.Err = missingConfiguration(m, platform.Platform(*r.Error))
	}
	return c
}

func missingConfiguration(m hosts.Machine, p platform.Platform) error {
	where := "nixosConfigurations, darwinConfigurations or homeConfigurations"
	if p != "" {
		where = p.Output()
	}
	c := m.Configuration
	if c == "" {
		c = m.Name
	}
	if m.Pos.File == "" { // a machine not read from deploy.nix (switch without one)
		return fmt.Errorf("the flake has no %q in %s", c, where)
	}
	return fmt.Errorf("the flake has no %q in %s (deploy.nix %s)", c, where, m.Pos)
}

// Build realises the closures of every evaluated machine with one nix
// build of their derivations (no second evaluation).
func Build(ctx context.Context, n *nix.Nix, closures []Closure) error {
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
// produce; nix built the others (--keep-going), so they still deploy. Each
// failed machine gets the failures of its own derivations, read from nix's
// error output: nix's error line and the end of the builder's log, never
// another machine's. It returns buildErr when nothing was built at all.
func failUnbuilt(ctx context.Context, n *nix.Nix, closures []Closure, buildErr error) error {
	var outs []string
	for _, c := range closures {
		if c.Err == nil {
			outs = append(outs, c.OutPath)
		}
	}
	invalid, err := n.Invalid(ctx, outs)
	if err != nil {
		return buildErr
	}
	var failures []nix.BuildFailure
	var nixErr *nix.Error
	if errors.As(buildErr, &nixErr) {
		failures = nix.BuildFailures(nixErr.Stderr)
	}
	if len(invalid) == len(outs) && len(failures) == 0 {
		return buildErr // nothing built, and nix did not say which derivation failed
	}
	for i := range closures {
		if c := &closures[i]; c.Err == nil && invalid[c.OutPath] {
			c.Err = unbuilt(ctx, n, c, failures, buildErr)
		}
	}
	return nil
}

// unbuilt is the error of a machine whose closure did not build: the
// failures among its own derivations, else nix's error as it is.
func unbuilt(ctx context.Context, n *nix.Nix, c *Closure, failures []nix.BuildFailure, buildErr error) error {
	reqs, err := n.Requisites(ctx, c.DrvPath)
	if err != nil {
		return fmt.Errorf("%s: its closure did not build: %w", c.Machine.Name, buildErr)
	}
	own := map[string]bool{}
	for _, r := range reqs {
		own[r] = true
	}
	var mine []nix.BuildFailure
	for _, f := range failures {
		if own[f.Drv] {
			mine = append(mine, f)
		}
	}
	if len(mine) == 0 {
		// nix said nothing of this machine's derivations (Nix 2.8 reports
		// one failure per build): the store says which ones failed.
		mine, _ = n.FailedDerivations(ctx, c.DrvPath)
	}
	if len(mine) == 0 {
		return fmt.Errorf("%s: its closure did not build: %w", c.Machine.Name, buildErr)
	}
	for i := range mine {
		if len(mine[i].Log) == 0 {
			// With -L nix printed the log as it ran, not with the error.
			mine[i].Log = n.BuildLog(ctx, mine[i].Drv, 5)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: did not build: %s", c.Machine.Name, mine[0].Reason())
	for i, f := range mine {
		if i > 0 {
			fmt.Fprintf(&b, "\nalso: %s", f.Reason())
		}
		for _, l := range f.Log {
			fmt.Fprintf(&b, "\n  > %s", l)
		}
	}
	return &BuildError{Machine: c.Machine.Name, Failures: mine, msg: b.String()}
}

// BuildError is a machine whose closure did not build, with the failed
// derivations among its own.
type BuildError struct {
	Machine  string
	Failures []nix.BuildFailure
	msg      string
}

func (e *BuildError) Error() string { return e.msg }
