package nixlang

// Nix resolves every variable when it parses a file (Expr::bindVars): a
// name bound by no enclosing let, rec set or function and not a global is
// an error, unless a with encloses it (with's names are only known when
// evaluating). These checks walk the lowered tree, where a = { … }; a.b = …;
// has already been merged, exactly as Nix's do.

// scope is Nix's StaticEnv: the names bound by one let, rec set, lambda or
// the global scope, or a with (whose names are not known statically).
type scope struct {
	vars   map[string]bool
	isWith bool
	up     *scope
}

type undefinedVar struct {
	name string
	pos  Pos
}

// bindVars walks the lowered tree as Nix's Expr::bindVars does and reports
// the first variable that is bound nowhere and not inside a with.
func bindVars(e nExpr, env *scope, report func(undefinedVar)) {
	switch n := e.(type) {
	case *nVar:
		for s := env; s != nil; s = s.up {
			if s.isWith {
				return
			}
			if s.vars[n.name] {
				return
			}
		}
		report(undefinedVar{n.name, n.pos})
	case *nSelect:
		bindVars(n.e, env, report)
		if n.def != nil {
			bindVars(n.def, env, report)
		}
		for _, a := range n.path {
			if a.expr != nil {
				bindVars(a.expr, env, report)
			}
		}
	case *nHasAttr:
		bindVars(n.e, env, report)
		for _, a := range n.path {
			if a.expr != nil {
				bindVars(a.expr, env, report)
			}
		}
	case *nAttrs:
		inner := env
		if n.rec {
			inner = &scope{vars: map[string]bool{}, up: env}
			for name := range n.attrs {
				inner.vars[name] = true
			}
		}
		for _, name := range n.order {
			d := n.attrs[name]
			if d.inherited {
				bindVars(d.e, env, report)
			} else {
				bindVars(d.e, inner, report)
			}
		}
		for _, d := range n.dyn {
			bindVars(d.name, inner, report)
			bindVars(d.value, inner, report)
		}
	case *nList:
		for _, x := range n.elems {
			bindVars(x, env, report)
		}
	case *nLambda:
		inner := &scope{vars: map[string]bool{}, up: env}
		if n.arg != "" {
			inner.vars[n.arg] = true
		}
		for _, f := range n.formals {
			inner.vars[f.name] = true
		}
		for _, f := range n.formals {
			if f.def != nil {
				bindVars(f.def, inner, report)
			}
		}
		bindVars(n.body, inner, report)
	case *nCall:
		bindVars(n.fn, env, report)
		for _, a := range n.args {
			bindVars(a, env, report)
		}
	case *nLet:
		inner := &scope{vars: map[string]bool{}, up: env}
		for name := range n.attrs.attrs {
			inner.vars[name] = true
		}
		for _, name := range n.attrs.order {
			d := n.attrs.attrs[name]
			if d.inherited {
				bindVars(d.e, env, report)
			} else {
				bindVars(d.e, inner, report)
			}
		}
		bindVars(n.body, inner, report)
	case *nWith:
		bindVars(n.attrs, env, report)
		bindVars(n.body, &scope{isWith: true, up: env}, report)
	case *nIf:
		bindVars(n.cond, env, report)
		bindVars(n.then, env, report)
		bindVars(n.els, env, report)
	case *nAssert:
		bindVars(n.cond, env, report)
		bindVars(n.body, env, report)
	case *nNot:
		bindVars(n.e, env, report)
	case *nBinOp:
		bindVars(n.a, env, report)
		bindVars(n.b, env, report)
	case *nConcat:
		for _, p := range n.parts {
			bindVars(p, env, report)
		}
	}
}
