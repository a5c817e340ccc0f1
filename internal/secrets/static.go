package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// nixherd reads secrets.nix itself first: the shapes fleets write (an
// attribute set of secrets, let-bound keys, lists joined with ++,
// builtins.attrValues, attribute selection, //). Anything else (import,
// functions, string interpolation) is a *beyondStaticError at its position,
// and the file goes to nix, restricted to the fleet.

// beyondStaticError is a part of the rules the static reader does not follow.
type beyondStaticError struct{ *RulesError }

// withoutNix is the error to show when there is no nix to hand the file to.
func (e *beyondStaticError) withoutNix() *RulesError {
	re := *e.RulesError
	re.Msg += ": nix is not installed and this rules file is beyond what nixherd reads on its own (attribute sets, let bindings, lists joined with ++, builtins.attrValues, //); install nix or simplify the file"
	return &re
}

// staticRules evaluates the rules file with the static reader.
func staticRules(shown string, src []byte) (map[string]json.RawMessage, error) {
	f, err := nixlang.Parse(shown, src)
	var perr *nixlang.Error
	if errors.As(err, &perr) {
		return nil, &RulesError{File: shown, Line: perr.Line, Col: perr.Col, Msg: perr.Msg}
	} else if err != nil {
		return nil, err
	}
	ev := &staticEval{file: shown}
	v, err := ev.eval(f.Root, nil)
	if err != nil {
		return nil, err
	}
	set, ok := v.(map[string]any)
	if !ok {
		return nil, &RulesError{File: shown, Msg: "the rules must evaluate to an attribute set of secrets ({ \"name.age\".publicKeys = [ … ]; })"}
	}
	out := make(map[string]json.RawMessage, len(set))
	for k, v := range set {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

type staticEval struct {
	file  string
	depth int
}

// scope is a let's bindings, evaluated on demand (let is recursive).
type scope struct {
	parent *scope
	exprs  map[string]nixlang.Expr
	vals   map[string]any
	busy   map[string]bool
}

func (ev *staticEval) unsupported(n nixlang.Node, what string) error {
	p := n.Pos()
	return &beyondStaticError{&RulesError{File: ev.file, Line: p.Line, Col: p.Col, Msg: what}}
}

func (ev *staticEval) eval(e nixlang.Expr, sc *scope) (any, error) {
	if ev.depth++; ev.depth > 200 {
		return nil, ev.unsupported(e, "nesting too deep")
	}
	defer func() { ev.depth-- }()
	switch n := e.(type) {
	case *nixlang.Paren:
		return ev.eval(n.X, sc)
	case *nixlang.String:
		s, err := ev.str(n)
		if err != nil {
			return nil, err
		}
		return s, nil
	case *nixlang.List:
		out := []any{}
		for _, el := range n.Elems {
			v, err := ev.eval(el, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *nixlang.Var:
		return ev.lookup(n, sc)
	case *nixlang.Let:
		inner := &scope{parent: sc, exprs: map[string]nixlang.Expr{}, vals: map[string]any{}, busy: map[string]bool{}}
		for _, b := range n.Bindings {
			a, ok := b.(*nixlang.Attr)
			if !ok || len(a.Path.Names) != 1 {
				return nil, ev.unsupported(b, "inherit or a nested name in let")
			}
			name, err := ev.attrName(a.Path.Names[0])
			if err != nil {
				return nil, err
			}
			inner.exprs[name] = a.Value
		}
		return ev.eval(n.Body, inner)
	case *nixlang.AttrSet:
		if n.Rec != nil {
			return nil, ev.unsupported(n, "rec")
		}
		out := map[string]any{}
		for _, b := range n.Bindings {
			a, ok := b.(*nixlang.Attr)
			if !ok {
				return nil, ev.unsupported(b, "inherit")
			}
			v, err := ev.eval(a.Value, sc)
			if err != nil {
				return nil, err
			}
			if err := ev.setPath(out, a.Path, v); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *nixlang.Binary:
		x, err := ev.eval(n.X, sc)
		if err != nil {
			return nil, err
		}
		y, err := ev.eval(n.Y, sc)
		if err != nil {
			return nil, err
		}
		switch n.Op.Text {
		case "++":
			xl, ok1 := x.([]any)
			yl, ok2 := y.([]any)
			if !ok1 || !ok2 {
				return nil, ev.unsupported(n, "++ of something that is not a list")
			}
			return append(append([]any{}, xl...), yl...), nil
		case "//":
			xs, ok1 := x.(map[string]any)
			ys, ok2 := y.(map[string]any)
			if !ok1 || !ok2 {
				return nil, ev.unsupported(n, "// of something that is not an attribute set")
			}
			out := map[string]any{}
			for k, v := range xs {
				out[k] = v
			}
			for k, v := range ys {
				out[k] = v
			}
			return out, nil
		}
		return nil, ev.unsupported(n, "operator "+n.Op.Text)
	case *nixlang.Select:
		if n.Default != nil {
			return nil, ev.unsupported(n, "or")
		}
		v, err := ev.eval(n.X, sc)
		if err != nil {
			return nil, err
		}
		for _, an := range n.Path.Names {
			name, err := ev.attrName(an)
			if err != nil {
				return nil, err
			}
			set, ok := v.(map[string]any)
			if !ok {
				return nil, ev.unsupported(an, "selecting from something that is not an attribute set")
			}
			if v, ok = set[name]; !ok {
				p := an.Pos()
				return nil, &RulesError{File: ev.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf("attribute '%s' missing", name)}
			}
		}
		return v, nil
	case *nixlang.Apply:
		if isBuiltin(n.Fn, "attrValues") {
			v, err := ev.eval(n.Arg, sc)
			if err != nil {
				return nil, err
			}
			set, ok := v.(map[string]any)
			if !ok {
				return nil, ev.unsupported(n.Arg, "builtins.attrValues of something that is not an attribute set")
			}
			names := make([]string, 0, len(set))
			for k := range set {
				names = append(names, k)
			}
			sort.Strings(names) // Nix returns attribute values in name order
			out := make([]any, len(names))
			for i, k := range names {
				out[i] = set[k]
			}
			return out, nil
		}
		return nil, ev.unsupported(n, "a function call")
	}
	return nil, ev.unsupported(e, "this expression")
}

// isBuiltin reports whether e is builtins.NAME.
func isBuiltin(e nixlang.Expr, name string) bool {
	sel, ok := e.(*nixlang.Select)
	if !ok || sel.Default != nil || len(sel.Path.Names) != 1 || sel.Path.Names[0].Ident == nil {
		return false
	}
	v, ok := sel.X.(*nixlang.Var)
	return ok && v.Name.Text == "builtins" && sel.Path.Names[0].Ident.Text == name
}

func (ev *staticEval) lookup(n *nixlang.Var, sc *scope) (any, error) {
	name := n.Name.Text
	for s := sc; s != nil; s = s.parent {
		if v, ok := s.vals[name]; ok {
			return v, nil
		}
		if e, ok := s.exprs[name]; ok {
			if s.busy[name] {
				return nil, ev.unsupported(n, "a recursive binding")
			}
			s.busy[name] = true
			v, err := ev.eval(e, s)
			s.busy[name] = false
			if err != nil {
				return nil, err
			}
			s.vals[name] = v
			return v, nil
		}
	}
	switch name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	return nil, ev.unsupported(n, "the variable "+name)
}

// setPath sets a.b.c = v, merging into sets the path already made.
func (ev *staticEval) setPath(set map[string]any, path *nixlang.AttrPath, v any) error {
	for i, an := range path.Names {
		name, err := ev.attrName(an)
		if err != nil {
			return err
		}
		if i == len(path.Names)-1 {
			set[name] = v
			return nil
		}
		next, ok := set[name].(map[string]any)
		if !ok {
			next = map[string]any{}
			set[name] = next
		}
		set = next
	}
	return nil
}

// attrName is a static attribute name: an identifier or a "…" string.
func (ev *staticEval) attrName(an *nixlang.AttrName) (string, error) {
	if an.Interp != nil {
		return "", ev.unsupported(an, "a dynamic attribute name")
	}
	if an.Str != nil {
		return ev.str(an.Str)
	}
	return an.Ident.Text, nil
}

// str is the value of a "…" string without interpolation.
func (ev *staticEval) str(n *nixlang.String) (string, error) {
	if n.Open.Text != `"` {
		return "", ev.unsupported(n, "an indented string")
	}
	if s, ok := n.StaticString(); ok {
		return s, nil
	}
	for _, p := range n.Parts {
		if _, ok := p.(*nixlang.Interp); ok {
			return "", ev.unsupported(p, "string interpolation")
		}
	}
	return "", ev.unsupported(n, "string interpolation")
}

// keyNames maps each key string bound to a name in secrets.nix (in a let or
// an attribute set: `alice = "ssh-ed25519 …";`) to that name, so list and
// the error messages can say "alice" instead of a key.
func keyNames(src []byte) map[string]string {
	names := map[string]string{}
	f, err := nixlang.ParseSyntax("secrets.nix", src)
	if err != nil {
		return names
	}
	ev := &staticEval{}
	nixlang.Walk(f.Root, func(n nixlang.Node) bool {
		a, ok := n.(*nixlang.Attr)
		if !ok || len(a.Path.Names) != 1 {
			return true
		}
		s, ok := a.Value.(*nixlang.String)
		if !ok {
			return true
		}
		name, err1 := ev.attrName(a.Path.Names[0])
		key, err2 := ev.str(s)
		if err1 != nil || err2 != nil {
			return true
		}
		k := strings.TrimSpace(key)
		if _, dup := names[k]; !dup && (strings.HasPrefix(k, "ssh-") || strings.HasPrefix(k, "age1")) {
			names[k] = name
		}
		return true
	})
	return names
}
