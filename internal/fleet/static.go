package fleet

import (
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// This file is a partial evaluator: it computes the values of the parts of
// an expression that are known without evaluating nixpkgs (literals, let
// bindings, attribute sets, list concatenation, applications of functions
// defined in the same file) and leaves everything else unknown. Unknown
// values remember what they came from (a variable and the attributes
// selected from it, or an application), which is how `nixpkgs.lib.nixosSystem
// { … }` is recognised without knowing what nixpkgs is.

type kind int

const (
	unknown kind = iota
	strVal
	intVal
	boolVal
	nullVal
	pathVal
	listVal
	attrsVal
	lambdaVal
)

// value is a statically known (or unknown) Nix value.
type value struct {
	kind  kind
	s     string // string text, or a path relative to the fleet root
	i     int64
	b     bool
	list  []*value
	attrs *attrSet
	lam   *closure
	// node and file say where the value was written.
	node nixlang.Node
	file string
	// sel is, for an unknown value, the free variable it came from and the
	// attribute names selected from it: nixpkgs.lib.nixosSystem →
	// [nixpkgs lib nixosSystem].
	sel []string
	// fn and args are set for an unknown application f a b.
	fn   *value
	args []*value
}

func (v *value) pos() nixlang.Position { return posOf(v.file, v.node) }

func posOf(file string, n nixlang.Node) nixlang.Position {
	if n == nil {
		return nixlang.Position{File: file}
	}
	p := n.Pos()
	return nixlang.Position{File: file, Line: p.Line, Col: p.Col}
}

// attrSet keeps attribute order and where each attribute is named.
type attrSet struct {
	names []string
	vals  map[string]*thunk
	keys  map[string]nixlang.Position // position of the attribute's name
	// partial is set when some attributes could not be known (dynamic
	// names, an update with an unknown set).
	partial bool
}

func newAttrSet() *attrSet {
	return &attrSet{vals: map[string]*thunk{}, keys: map[string]nixlang.Position{}}
}

func (a *attrSet) set(name string, t *thunk, p nixlang.Position) {
	if _, ok := a.vals[name]; !ok {
		a.names = append(a.names, name)
		a.keys[name] = p
	}
	a.vals[name] = t
}

type closure struct {
	fn   *nixlang.Lambda
	env  *env
	file string
}

// thunk is a lazily evaluated value.
type thunk struct {
	expr nixlang.Expr
	env  *env
	file string
	fn   func() *value // instead of expr
	v    *value
	busy bool
}

type env struct {
	vars   map[string]*thunk
	parent *env
	// with is set for a `with` scope: unknown names may come from it.
	with bool
}

func (e *env) lookup(name string) (*thunk, bool) {
	for s := e; s != nil; s = s.parent {
		if t, ok := s.vars[name]; ok {
			return t, true
		}
	}
	return nil, false
}

// evaluator evaluates expressions of one fleet; load returns the parsed
// root of a file for `import ./x`.
type evaluator struct {
	root string
	load func(file string) nixlang.Expr
	// steps and depth bound the work on one top-level evaluation, so a
	// recursive helper function cannot make the reader loop.
	steps, depth int
}

const (
	maxSteps = 1_000_000
	maxDepth = 64
	// maxLen bounds strings and lists built by + and ++, which can double
	// in size at every step of a let chain.
	maxLen = 1 << 16
)

// top evaluates a file-level expression with a fresh budget.
func (ev *evaluator) top(x nixlang.Expr, file string) *value {
	ev.steps, ev.depth = 0, 0
	return ev.eval(x, &env{}, file)
}

func (ev *evaluator) force(t *thunk) *value {
	if t.v != nil {
		return t.v
	}
	if t.busy {
		return &value{node: t.expr, file: t.file} // infinite recursion: unknown
	}
	t.busy = true
	if t.fn != nil {
		t.v = t.fn()
	} else {
		t.v = ev.eval(t.expr, t.env, t.file)
	}
	t.busy = false
	return t.v
}

func (ev *evaluator) lazy(x nixlang.Expr, e *env, file string) *thunk {
	return &thunk{expr: x, env: e, file: file}
}

func unknownAt(x nixlang.Node, file string) *value { return &value{node: x, file: file} }

func (ev *evaluator) eval(x nixlang.Expr, e *env, file string) *value {
	ev.steps++
	if ev.steps > maxSteps || x == nil {
		return unknownAt(x, file)
	}
	switch n := x.(type) {
	case *nixlang.Paren:
		return ev.eval(n.X, e, file)
	case *nixlang.IntLit:
		return &value{kind: intVal, i: n.Value, node: n, file: file}
	case *nixlang.String:
		s, ok := ev.str(n, e, file)
		if !ok {
			return unknownAt(n, file)
		}
		return &value{kind: strVal, s: s, node: n, file: file}
	case *nixlang.PathLit:
		p, ok := ev.pathText(n, e, file)
		if !ok {
			return unknownAt(n, file)
		}
		return &value{kind: pathVal, s: p, node: n, file: file}
	case *nixlang.URILit:
		return &value{kind: strVal, s: n.Tok.Text, node: n, file: file}
	case *nixlang.Var:
		name := n.Name.Text
		if t, ok := e.lookup(name); ok {
			v := ev.force(t)
			return v
		}
		switch name {
		case "true", "false":
			return &value{kind: boolVal, b: name == "true", node: n, file: file}
		case "null":
			return &value{kind: nullVal, node: n, file: file}
		}
		return &value{node: n, file: file, sel: []string{name}}
	case *nixlang.List:
		v := &value{kind: listVal, node: n, file: file}
		for _, el := range n.Elems {
			v.list = append(v.list, ev.eval(el, e, file))
		}
		return v
	case *nixlang.AttrSet:
		return ev.attrSet(n, n.Bindings, n.Rec != nil, e, file)
	case *nixlang.Let:
		return ev.eval(n.Body, ev.letEnv(n.Bindings, e, file), file)
	case *nixlang.With:
		return ev.eval(n.Body, &env{parent: e, with: true}, file)
	case *nixlang.Assert:
		return ev.eval(n.Body, e, file)
	case *nixlang.Lambda:
		return &value{kind: lambdaVal, lam: &closure{fn: n, env: e, file: file}, node: n, file: file}
	case *nixlang.Select:
		base := ev.eval(n.X, e, file)
		names, ok := ev.attrPath(n.Path, e, file)
		if !ok {
			return unknownAt(n, file)
		}
		v := selectPath(ev, base, names)
		if v.kind == unknown && v.sel == nil && n.Default != nil {
			return ev.eval(n.Default, e, file)
		}
		if v.kind == unknown && v.node == nil {
			v.node, v.file = n, file
		}
		return v
	case *nixlang.Apply:
		return ev.apply(n, e, file)
	case *nixlang.Binary:
		return ev.binary(n, e, file)
	case *nixlang.If:
		c := ev.eval(n.Cond, e, file)
		if c.kind == boolVal {
			if c.b {
				return ev.eval(n.ThenX, e, file)
			}
			return ev.eval(n.ElseX, e, file)
		}
	}
	return unknownAt(x, file)
}

// selectPath selects names from v. Selecting from an unknown value extends
// its selector path.
func selectPath(ev *evaluator, v *value, names []string) *value {
	for i, name := range names {
		switch v.kind {
		case attrsVal:
			t, ok := v.attrs.vals[name]
			if !ok {
				return &value{}
			}
			v = ev.force(t)
		case unknown:
			if v.sel == nil {
				return &value{}
			}
			sel := append(append([]string(nil), v.sel...), names[i:]...)
			return &value{sel: sel, node: v.node, file: v.file}
		default:
			return &value{}
		}
	}
	return v
}

func (ev *evaluator) binary(n *nixlang.Binary, e *env, file string) *value {
	x, y := ev.eval(n.X, e, file), ev.eval(n.Y, e, file)
	switch n.Op.Text {
	case "++":
		if len(x.list)+len(y.list) > maxLen {
			return unknownAt(n, file)
		}
		if x.kind == listVal && y.kind == listVal {
			return &value{kind: listVal, list: append(append([]*value(nil), x.list...), y.list...), node: n, file: file}
		}
		// Keep what is known: a module list `shared ++ [ ./x ]` with an
		// unknown `shared` still names ./x.
		v := &value{node: n, file: file}
		for _, side := range []*value{x, y} {
			if side.kind == listVal {
				v.list = append(v.list, side.list...)
			}
		}
		return v
	case "+":
		if len(x.s)+len(y.s) > maxLen {
			return unknownAt(n, file)
		}
		if x.kind == strVal && y.kind == strVal {
			return &value{kind: strVal, s: x.s + y.s, node: n, file: file}
		}
		if x.kind == intVal && y.kind == intVal {
			return &value{kind: intVal, i: x.i + y.i, node: n, file: file}
		}
		if x.kind == pathVal && y.kind == strVal {
			return &value{kind: pathVal, s: path.Clean(x.s + y.s), node: n, file: file}
		}
	case "-":
		if x.kind == intVal && y.kind == intVal {
			return &value{kind: intVal, i: x.i - y.i, node: n, file: file}
		}
	case "*":
		if x.kind == intVal && y.kind == intVal {
			return &value{kind: intVal, i: x.i * y.i, node: n, file: file}
		}
	case "//":
		out := newAttrSet()
		for _, side := range []*value{x, y} {
			if side.kind != attrsVal {
				out.partial = true
				continue
			}
			for _, name := range side.attrs.names {
				out.set(name, side.attrs.vals[name], side.attrs.keys[name])
			}
			out.partial = out.partial || side.attrs.partial
		}
		return &value{kind: attrsVal, attrs: out, node: n, file: file}
	}
	return unknownAt(n, file)
}

// apply applies functions defined in the fleet (a helper in a let) and a
// few builtins; any other application stays unknown but remembers the
// function and its arguments.
func (ev *evaluator) apply(n *nixlang.Apply, e *env, file string) *value {
	var argExprs []nixlang.Expr
	fnExpr := nixlang.Expr(n)
	for {
		a, ok := fnExpr.(*nixlang.Apply)
		if !ok {
			break
		}
		argExprs = append([]nixlang.Expr{a.Arg}, argExprs...)
		fnExpr = a.Fn
	}
	fn := ev.eval(fnExpr, e, file)
	args := make([]*thunk, len(argExprs))
	for i, a := range argExprs {
		args[i] = ev.lazy(a, e, file)
	}
	return ev.call(fn, args, n, file)
}

func (ev *evaluator) call(fn *value, args []*thunk, n nixlang.Node, file string) *value {
	for len(args) > 0 && fn.kind == lambdaVal {
		fn = ev.callLambda(fn.lam, args[0])
		args = args[1:]
	}
	if len(args) == 0 {
		return fn
	}
	if fn.kind == unknown && len(fn.sel) > 0 {
		switch fn.sel[len(fn.sel)-1] {
		case "import":
			if len(fn.sel) <= 2 { // import or builtins.import
				if target := ev.force(args[0]); target.kind == pathVal && ev.load != nil {
					if root := ev.load(importFile(ev.root, target.s)); root != nil {
						v := ev.eval(root, &env{}, importFile(ev.root, target.s))
						return ev.call(v, args[1:], n, file)
					}
				}
			}
		case "genAttrs":
			// lib.genAttrs [ "a" "b" ] (name: …)
			names, fn := ev.force(args[0]), ev.force(args[len(args)-1])
			if len(args) == 2 && names.kind == listVal && fn.kind == lambdaVal {
				set := newAttrSet()
				for _, el := range names.list {
					if el.kind != strVal {
						set.partial = true
						continue
					}
					nameArg := &thunk{v: el}
					set.set(el.s, &thunk{fn: func() *value { return ev.callLambda(fn.lam, nameArg) }}, el.pos())
				}
				return &value{kind: attrsVal, attrs: set, node: n, file: file}
			}
		case "mapAttrs":
			// builtins.mapAttrs (name: value: …) set
			fn, set := ev.force(args[0]), ev.force(args[len(args)-1])
			if len(args) == 2 && fn.kind == lambdaVal && set.kind == attrsVal {
				out := newAttrSet()
				out.partial = set.attrs.partial
				for _, name := range set.attrs.names {
					nameArg := &thunk{v: &value{kind: strVal, s: name}}
					valArg := set.attrs.vals[name]
					out.set(name, &thunk{fn: func() *value {
						inner := ev.callLambda(fn.lam, nameArg)
						if inner.kind != lambdaVal {
							return &value{}
						}
						return ev.callLambda(inner.lam, valArg)
					}}, set.attrs.keys[name])
				}
				return &value{kind: attrsVal, attrs: out, node: n, file: file}
			}
		case "attrValues", "attrNames":
			// builtins.attrValues set, in Nix's order: sorted by name.
			if set := ev.force(args[0]); len(args) == 1 && set.kind == attrsVal && !set.attrs.partial {
				names := append([]string(nil), set.attrs.names...)
				sort.Strings(names)
				list := &value{kind: listVal, node: n, file: file}
				for _, name := range names {
					if fn.sel[len(fn.sel)-1] == "attrNames" {
						list.list = append(list.list, &value{kind: strVal, s: name, node: n, file: file})
					} else {
						list.list = append(list.list, ev.force(set.attrs.vals[name]))
					}
				}
				return list
			}
		case "toString":
			if a := ev.force(args[0]); len(args) == 1 && (a.kind == strVal || a.kind == intVal) {
				s := a.s
				if a.kind == intVal {
					s = strconv.FormatInt(a.i, 10)
				}
				return &value{kind: strVal, s: s, node: n, file: file}
			}
		}
	}
	v := &value{node: n, file: file, fn: fn}
	for _, a := range args {
		v.args = append(v.args, ev.force(a))
	}
	return v
}

// importFile is the file `import` reads for a path: a directory's default.nix.
func importFile(root, p string) string {
	if !strings.HasSuffix(p, ".nix") {
		if to, exists, _ := resolve(root, "x", p); exists && to != "" {
			return to
		}
	}
	return p
}

func (ev *evaluator) callLambda(c *closure, arg *thunk) *value {
	if ev.depth >= maxDepth {
		return &value{node: c.fn, file: c.file}
	}
	ev.depth++
	defer func() { ev.depth-- }()
	scope := &env{vars: map[string]*thunk{}, parent: c.env}
	if c.fn.Arg != nil {
		scope.vars[c.fn.Arg.Text] = arg
	}
	if c.fn.Formals != nil {
		argv := ev.force(arg)
		for _, f := range c.fn.Formals.Items {
			name := f.Name.Text
			var t *thunk
			if argv.kind == attrsVal {
				t = argv.attrs.vals[name]
			}
			if t == nil && f.Default != nil {
				t = ev.lazy(f.Default, scope, c.file)
			}
			if t == nil {
				t = &thunk{fn: func() *value { return &value{sel: []string{name}} }}
			}
			scope.vars[name] = t
		}
	}
	return ev.eval(c.fn.Body, scope, c.file)
}

func (ev *evaluator) letEnv(bs []nixlang.Binding, e *env, file string) *env {
	scope := &env{vars: map[string]*thunk{}, parent: e}
	set := newAttrSet()
	ev.bind(set, bs, scope, e, file)
	for _, name := range set.names {
		scope.vars[name] = set.vals[name]
	}
	return scope
}

func (ev *evaluator) attrSet(n nixlang.Node, bs []nixlang.Binding, rec bool, e *env, file string) *value {
	set := newAttrSet()
	inner := e
	if rec {
		inner = &env{vars: map[string]*thunk{}, parent: e}
	}
	ev.bind(set, bs, inner, e, file)
	if rec {
		for _, name := range set.names {
			inner.vars[name] = set.vals[name]
		}
	}
	return &value{kind: attrsVal, attrs: set, node: n, file: file}
}

// bind adds bindings to set: values are evaluated in scope, inherited
// names in outer. Nested paths (a.b.c = …) merge into nested sets.
func (ev *evaluator) bind(set *attrSet, bs []nixlang.Binding, scope, outer *env, file string) {
	for _, b := range bs {
		switch b := b.(type) {
		case *nixlang.Attr:
			names, ok := ev.attrPath(b.Path, outer, file)
			if !ok {
				set.partial = true
				continue
			}
			target := set
			for i, name := range names[:len(names)-1] {
				np := posOf(file, b.Path.Names[i])
				t, exists := target.vals[name]
				var sub *value
				if exists {
					sub = ev.force(t)
				}
				if sub == nil || sub.kind != attrsVal {
					sub = &value{kind: attrsVal, attrs: newAttrSet(), node: b, file: file}
					target.set(name, &thunk{v: sub}, np)
				}
				target = sub.attrs
			}
			last := names[len(names)-1]
			lp := posOf(file, b.Path.Names[len(names)-1])
			t := ev.lazy(b.Value, scope, file)
			// a.b = { x = 1; }; a.b.y = 2; merges, as Nix does.
			if prev, ok := target.vals[last]; ok {
				if pv, nv := ev.force(prev), ev.force(t); pv.kind == attrsVal && nv.kind == attrsVal {
					for _, name := range nv.attrs.names {
						pv.attrs.set(name, nv.attrs.vals[name], nv.attrs.keys[name])
					}
					continue
				}
			}
			target.set(last, t, lp)
		case *nixlang.Inherit:
			for _, an := range b.Names {
				name, ok := ev.attrName(an, outer, file)
				if !ok {
					continue
				}
				p := posOf(file, an)
				if b.From != nil {
					from, nm := ev.lazy(b.From.X, outer, file), name
					set.set(name, &thunk{fn: func() *value { return selectPath(ev, ev.force(from), []string{nm}) }}, p)
				} else if t, ok := outer.lookup(name); ok {
					set.set(name, t, p)
				} else {
					nm := name
					set.set(name, &thunk{fn: func() *value { return &value{sel: []string{nm}, node: an, file: file} }}, p)
				}
			}
		}
	}
}

func (ev *evaluator) attrPath(p *nixlang.AttrPath, e *env, file string) ([]string, bool) {
	names := make([]string, 0, len(p.Names))
	for _, an := range p.Names {
		name, ok := ev.attrName(an, e, file)
		if !ok {
			return nil, false
		}
		names = append(names, name)
	}
	return names, len(names) > 0
}

func (ev *evaluator) attrName(an *nixlang.AttrName, e *env, file string) (string, bool) {
	switch {
	case an.Ident != nil:
		return an.Ident.Text, true
	case an.Str != nil:
		return ev.str(an.Str, e, file)
	case an.Interp != nil:
		v := ev.eval(an.Interp.X, e, file)
		return v.s, v.kind == strVal
	}
	return "", false
}

// str returns the text of a string if every interpolation in it is known.
// Escapes and indentation are decoded by nixlang, as Nix does; an indented
// string with interpolations is left unknown (fleet metadata never needs one).
func (ev *evaluator) str(s *nixlang.String, e *env, file string) (string, bool) {
	if text, ok := s.StaticString(); ok {
		return text, true
	}
	if s.Open.Kind != nixlang.DQuote {
		return "", false
	}
	var b strings.Builder
	for _, part := range s.Parts {
		switch p := part.(type) {
		case *nixlang.Fragment:
			one := &nixlang.String{Open: s.Open, Parts: []nixlang.Node{p}, Close: s.Close}
			text, _ := one.StaticString()
			b.WriteString(text)
		case *nixlang.Interp:
			v := ev.eval(p.X, e, file)
			switch v.kind {
			case strVal, pathVal:
				b.WriteString(v.s)
			case intVal:
				b.WriteString(strconv.FormatInt(v.i, 10))
			default:
				return "", false
			}
		}
	}
	return b.String(), true
}

// pathText returns a path literal relative to the fleet root ("./x" in
// machines/a/default.nix is machines/a/x), or as written when absolute.
func (ev *evaluator) pathText(p *nixlang.PathLit, e *env, file string) (string, bool) {
	var b strings.Builder
	for _, part := range p.Parts {
		switch q := part.(type) {
		case *nixlang.Fragment:
			b.WriteString(q.Tok.Text)
		case *nixlang.Interp:
			v := ev.eval(q.X, e, file)
			if v.kind != strVal {
				return "", false
			}
			b.WriteString(v.s)
		}
	}
	written := b.String()
	if strings.HasPrefix(written, "/") || strings.HasPrefix(written, "~") {
		return written, true
	}
	return path.Clean(path.Join(path.Dir(file), written)), true
}
