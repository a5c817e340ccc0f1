package fleet

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// platforms maps the flake outputs that hold machines to their platform.
var platforms = map[string]Platform{
	"nixosConfigurations":  NixOS,
	"darwinConfigurations": Darwin,
	"homeConfigurations":   Home,
}

// builders are the functions whose argument describes a machine.
var builders = map[string]bool{
	"nixosSystem":              true,
	"darwinSystem":             true,
	"homeManagerConfiguration": true,
}

const flakeFile = "flake.nix"

func (r *reader) readFlake() {
	root := r.trees[flakeFile]
	if root == nil {
		return // the syntax error is already a problem of flake.nix
	}
	top := r.ev.top(root, flakeFile)
	if top.kind != attrsVal {
		r.note(posOf(flakeFile, root), "flake.nix is not a plain attribute set; its inputs and outputs cannot be read statically")
		return
	}
	if t, ok := top.attrs.vals["inputs"]; ok {
		r.readInputs(r.ev.force(t))
	}
	t, ok := top.attrs.vals["outputs"]
	if !ok {
		return
	}
	outputs := r.ev.force(t)
	if outputs.kind != lambdaVal {
		r.note(outputs.pos(), "outputs is not a function; machines cannot be read statically")
		r.f.MachinesUnknown = true
		return
	}
	// The outputs function's arguments are the inputs: leave them unknown,
	// named by themselves (nixpkgs.lib.nixosSystem stays recognisable).
	body := r.ev.callLambda(outputs.lam, &thunk{fn: func() *value { return &value{sel: []string{"inputs"}} }})
	body = flakePartsBody(r.ev, body)
	if body.kind != attrsVal {
		r.note(outputs.pos(), "the outputs of flake.nix are not a plain attribute set; machines cannot be read statically")
		r.f.MachinesUnknown = true
		return
	}
	for _, attr := range []string{"nixosConfigurations", "darwinConfigurations", "homeConfigurations"} {
		t, ok := body.attrs.vals[attr]
		if !ok {
			continue
		}
		set := r.ev.force(t)
		if set.kind != attrsVal {
			r.note(posOrKey(set, body.attrs.keys[attr]), "%s is computed (%s); its machines cannot be listed without evaluating", attr, describe(set))
			r.f.MachinesUnknown = true
			continue
		}
		if set.attrs.partial {
			r.note(body.attrs.keys[attr], "%s has entries with computed names; only the others are listed", attr)
			r.f.MachinesUnknown = true
		}
		for _, name := range set.attrs.names {
			r.readMachine(name, platforms[attr], set.attrs.keys[name], r.ev.force(set.attrs.vals[name]))
		}
	}
	r.readServiceFlakes()
}

// flakePartsBody sees through flake-parts: in
// `flake-parts.lib.mkFlake { inherit inputs; } { flake = { … }; … }` the
// machines are in the module's `flake` attribute.
func flakePartsBody(ev *evaluator, body *value) *value {
	if body.kind != unknown || body.fn == nil || len(body.fn.sel) == 0 || body.fn.sel[len(body.fn.sel)-1] != "mkFlake" || len(body.args) == 0 {
		return body
	}
	module := body.args[len(body.args)-1]
	if module.kind == lambdaVal {
		module = ev.callLambda(module.lam, &thunk{fn: func() *value { return &value{} }})
	}
	if flake := lookup(ev, module, "flake"); flake != nil && flake.kind == attrsVal {
		return flake
	}
	return body
}

func posOrKey(v *value, key nixlang.Position) nixlang.Position {
	if v.node != nil {
		return v.pos()
	}
	return key
}

// describe says what an unknown value is, for notes.
func describe(v *value) string {
	switch {
	case v.fn != nil && len(v.fn.sel) > 0:
		return "a call of " + strings.Join(v.fn.sel, ".")
	case len(v.sel) > 0:
		return strings.Join(v.sel, ".")
	case v.node != nil:
		text := nixlang.Text(v.node)
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[:i] + " …"
		}
		if len(text) > 60 {
			text = text[:60] + "…"
		}
		return text
	}
	return "unknown"
}

func (r *reader) readInputs(inputs *value) {
	if inputs.kind != attrsVal {
		r.note(inputs.pos(), "inputs is not a plain attribute set; they cannot be read statically")
		return
	}
	for _, name := range inputs.attrs.names {
		in := &Input{Name: name, Flake: true, Pos: inputs.attrs.keys[name]}
		in.URLPos = in.Pos
		v := r.ev.force(inputs.attrs.vals[name])
		if v.kind == strVal { // inputs.x = "github:…" is not valid, but say so kindly
			r.note(v.pos(), "input %s should be written %s.url = %q", name, name, v.s)
			continue
		}
		if v.kind != attrsVal {
			r.note(in.Pos, "input %s is not an attribute set", name)
			continue
		}
		get := func(k string) *value {
			if t, ok := v.attrs.vals[k]; ok {
				return r.ev.force(t)
			}
			return nil
		}
		if u := get("url"); u != nil {
			if u.kind == strVal {
				in.URL, in.URLPos = u.s, u.pos()
				attrs, err := flakelock.ParseRef(u.s)
				if err != nil {
					r.note(u.pos(), "input %s: %v", name, err)
				}
				in.Attrs = attrs
			} else {
				r.note(u.pos(), "the url of input %s is not a plain string", name)
			}
		} else if t := get("type"); t != nil && t.kind == strVal {
			in.Attrs = map[string]string{}
			for _, k := range v.attrs.names {
				if k == "flake" || k == "inputs" || k == "follows" {
					continue
				}
				if kv := get(k); kv != nil {
					switch kv.kind {
					case strVal:
						in.Attrs[k] = kv.s
					case intVal:
						in.Attrs[k] = fmt.Sprint(kv.i)
					case boolVal:
						in.Attrs[k] = fmt.Sprint(kv.b)
					}
				}
			}
			in.URLPos = t.pos()
		}
		if fl := get("follows"); fl != nil && fl.kind == strVal {
			in.Follows = fl.s
		}
		if fl := get("flake"); fl != nil && fl.kind == boolVal {
			in.Flake = fl.b
		}
		if sub := get("inputs"); sub != nil && sub.kind == attrsVal {
			for _, dep := range sub.attrs.names {
				dv := r.ev.force(sub.attrs.vals[dep])
				if dv.kind != attrsVal {
					continue
				}
				if ft, ok := dv.attrs.vals["follows"]; ok {
					if fv := r.ev.force(ft); fv.kind == strVal {
						in.InputFollows = append(in.InputFollows, NestedFollows{Input: dep, Follows: fv.s, Pos: fv.pos()})
					}
				}
			}
		}
		r.f.Inputs = append(r.f.Inputs, in)
	}
}

// readMachine reads one configuration: the builder call's system and
// modules.
func (r *reader) readMachine(name string, platform Platform, key nixlang.Position, v *value) {
	m := &Machine{Name: name, Platform: platform, Pos: key}
	r.f.Machines = append(r.f.Machines, m)
	if v.kind != unknown || v.fn == nil || len(v.fn.sel) == 0 || !builders[v.fn.sel[len(v.fn.sel)-1]] || len(v.args) == 0 || v.args[0].kind != attrsVal {
		r.note(key, "machine %s is built by %s, which nixherd cannot read without evaluating: its system and modules are not checked", name, describe(v))
		return
	}
	arg := v.args[0].attrs
	get := func(k string) *value {
		if t, ok := arg.vals[k]; ok {
			return r.ev.force(t)
		}
		return nil
	}
	if s := get("system"); s != nil {
		if s.kind == strVal {
			m.System, m.SystemPos = s.s, s.pos()
		}
	}
	if p := get("pkgs"); p != nil && m.System == "" {
		// home-manager: pkgs = nixpkgs.legacyPackages.x86_64-linux;
		if len(p.sel) >= 2 && p.sel[len(p.sel)-2] == "legacyPackages" {
			m.System, m.SystemPos = p.sel[len(p.sel)-1], p.pos()
		}
	}
	mods := get("modules")
	if mods == nil {
		r.note(key, "machine %s has no modules list", name)
		return
	}
	if mods.kind != listVal && len(mods.list) == 0 {
		r.note(mods.pos(), "the modules of machine %s are computed (%s); they are not checked", name, describe(mods))
		return
	}
	r.machineModules(m, mods.list)
}

func (r *reader) machineModules(m *Machine, mods []*value) {
	for _, mod := range mods {
		switch mod.kind {
		case pathVal:
			im := r.addImportPath(flakeFile, FlakeModule, relPath(mod.s), mod.pos())
			if im != nil && im.To != "" {
				m.Modules = append(m.Modules, im.To)
				if m.MainFile == "" {
					m.MainFile = im.To
				}
			}
		case attrsVal:
			m.InlineModules = append(m.InlineModules, mod.pos())
			r.inlineModule(m, mod)
		case listVal:
			r.machineModules(m, mod.list)
		case lambdaVal:
			m.InlineModules = append(m.InlineModules, mod.pos())
			body := r.ev.callLambda(mod.lam, &thunk{fn: func() *value { return &value{} }})
			if body.kind == attrsVal {
				r.inlineModule(m, body)
			}
		}
	}
	for _, p := range m.Modules {
		if strings.HasPrefix(p, "machines/") || strings.HasPrefix(p, "hosts/") {
			m.MainFile = p
			break
		}
	}
}

// inlineModule reads what the checks need from a module written in flake.nix.
func (r *reader) inlineModule(m *Machine, mod *value) {
	if sv := lookup(r.ev, mod, stateVersionPath(m.Platform)...); sv != nil {
		m.StateVersionFound = true
		if sv.kind == strVal || sv.kind == intVal {
			m.StateVersion = scalarText(sv)
		}
	}
	if imps := lookup(r.ev, mod, "imports"); imps != nil {
		for _, el := range imps.list {
			if el.kind == pathVal {
				im := r.addImportPath(flakeFile, FlakeModule, relPath(el.s), el.pos())
				if im != nil && im.To != "" {
					m.Modules = append(m.Modules, im.To)
				}
			}
		}
	}
	if sf := lookup(r.ev, mod, "_module", "args", "serviceFlakes"); sf != nil && sf.kind == attrsVal {
		r.addServiceFlakes(sf)
	}
}

func stateVersionPath(p Platform) []string {
	if p == Home {
		return []string{"home", "stateVersion"}
	}
	return []string{"system", "stateVersion"}
}

func scalarText(v *value) string {
	if v.kind == intVal {
		return fmt.Sprint(v.i)
	}
	return v.s
}

// lookup selects a path from an attribute set value; nil when absent. An
// option set under `config = { … }` counts too.
func lookup(ev *evaluator, v *value, names ...string) *value {
	for _, prefix := range [][]string{nil, {"config"}} {
		cur := v
		for _, n := range append(append([]string(nil), prefix...), names...) {
			if cur == nil || cur.kind != attrsVal {
				cur = nil
				break
			}
			t, ok := cur.attrs.vals[n]
			if !ok {
				cur = nil
				break
			}
			cur = ev.force(t)
		}
		if cur != nil {
			return cur
		}
	}
	return nil
}

// relPath writes a root-relative path as a path literal in flake.nix would.
func relPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "./" + p
}

// readServiceFlakes finds `serviceFlakes = { NAME = INPUT; … };` anywhere in
// flake.nix (in a let, in _module.args or in specialArgs).
func (r *reader) readServiceFlakes() {
	r.walkScoped(flakeFile, func(n nixlang.Node, scope func() *env) bool {
		a, ok := n.(*nixlang.Attr)
		if !ok || lastName(a.Path) != "serviceFlakes" {
			return true
		}
		if _, ok := unparen(a.Value).(*nixlang.AttrSet); ok {
			r.ev.steps, r.ev.depth = 0, 0
			r.addServiceFlakes(r.ev.eval(a.Value, scope(), flakeFile))
		}
		return true
	})
}

func (r *reader) addServiceFlakes(set *value) {
	if set.kind != attrsVal {
		return
	}
	for _, name := range set.attrs.names {
		if _, done := r.f.ServiceFlakes[name]; done {
			continue
		}
		v := r.ev.force(set.attrs.vals[name])
		sf := ServiceFlake{Pos: set.attrs.keys[name]}
		if len(v.sel) == 1 {
			sf.Input = v.sel[0]
		} else if len(v.sel) == 2 && (v.sel[0] == "inputs" || v.sel[0] == "self") {
			sf.Input = v.sel[1]
		}
		r.f.ServiceFlakes[name] = sf
	}
}

// machineFiles computes each machine's files through the import graph and
// what its modules set.
func (r *reader) machineFiles() {
	edges := map[string][]string{}
	for _, im := range r.f.Imports {
		if im.Exists && im.To != "" && im.Kind != FlakeModule {
			edges[im.From] = append(edges[im.From], im.To)
		}
	}
	for _, m := range r.f.Machines {
		seen := map[string]bool{}
		var visit func(string)
		visit = func(p string) {
			if seen[p] {
				return
			}
			seen[p] = true
			for _, next := range edges[p] {
				visit(next)
			}
		}
		for _, mod := range m.Modules {
			visit(mod)
		}
		for p := range seen {
			m.Files = append(m.Files, p)
		}
		sort.Strings(m.Files)
		for _, p := range m.Files {
			mod := r.moduleValue(p)
			if mod == nil {
				continue
			}
			if sv := lookup(r.ev, mod, stateVersionPath(m.Platform)...); sv != nil {
				m.StateVersionFound = true
				if m.StateVersion == "" {
					m.StateVersion = scalarText(sv)
				}
			}
			if m.System == "" {
				if hp := lookup(r.ev, mod, "nixpkgs", "hostPlatform"); hp != nil {
					if s := stringArg(hp); s != nil {
						m.System, m.SystemPos = s.s, s.pos()
					}
				}
			}
		}
	}
}

// stringArg is a string, or the last argument of a call such as
// lib.mkDefault "aarch64-linux".
func stringArg(v *value) *value {
	if v.kind == strVal {
		return v
	}
	if v.fn != nil && len(v.args) > 0 && v.args[len(v.args)-1].kind == strVal {
		return v.args[len(v.args)-1]
	}
	return nil
}

// moduleValue evaluates the top-level attribute set of a module file: the
// body of `{ config, pkgs, ... }: { … }`, with its arguments unknown.
func (r *reader) moduleValue(file string) *value {
	if v, done := r.modules[file]; done {
		return v
	}
	root := r.trees[file]
	if root == nil {
		return nil
	}
	v := r.ev.top(root, file)
	if v.kind == lambdaVal {
		v = r.ev.callLambda(v.lam, &thunk{fn: func() *value { return &value{} }})
	}
	if v.kind != attrsVal {
		v = nil
	}
	r.modules[file] = v
	return v
}
