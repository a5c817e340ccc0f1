package nixlang

// Unparen strips any parentheses around e.
func Unparen(e Expr) Expr {
	for {
		p, ok := e.(*Paren)
		if !ok {
			return e
		}
		e = p.X
	}
}

// Body returns what e evaluates to structurally, looking through
// parentheses and the bodies of lambdas, let, with and assert. For a module
// file `{ config, ... }: let … in { … }` it returns the final attribute set.
func Body(e Expr) Expr {
	for {
		switch n := e.(type) {
		case *Paren:
			e = n.X
		case *Lambda:
			e = n.Body
		case *Let:
			e = n.Body
		case *With:
			e = n.Body
		case *Assert:
			e = n.Body
		default:
			return e
		}
	}
}

// BindingsOf returns the bindings of an attribute set, let or legacy let
// (after stripping parentheses), and false for anything else.
func BindingsOf(n Node) ([]Binding, bool) {
	if e, ok := n.(Expr); ok {
		n = Unparen(e)
	}
	switch n := n.(type) {
	case *AttrSet:
		return n.Bindings, true
	case *Let:
		return n.Bindings, true
	case *LegacyLet:
		return n.Bindings, true
	}
	return nil, false
}

// Name returns the attribute name as a string when it is static (an
// identifier, "text" or ${"text"}); ok is false for an interpolated name.
func (a *AttrName) Name() (name string, ok bool) {
	switch {
	case a.Ident != nil:
		return a.Ident.Text, true
	case a.Str != nil:
		return a.Str.StaticString()
	default:
		if s, ok := Unparen(a.Interp.X).(*String); ok {
			return s.StaticString()
		}
	}
	return "", false
}

// Strings returns the attribute path's names; ok is false if any is dynamic.
func (ap *AttrPath) Strings() (names []string, ok bool) {
	for _, a := range ap.Names {
		n, ok := a.Name()
		if !ok {
			return nil, false
		}
		names = append(names, n)
	}
	return names, true
}

// Attribute is one attribute of the static view of an attribute set, after
// merging a.b = …; bindings and nested set literals the way Nix does.
type Attribute struct {
	Name string
	// NameNode is where the name is first written.
	NameNode *AttrName
	// Binding is the *Attr or *Inherit that first defines the name.
	Binding Binding
	// Value is the expression bound to this exact name (for an *Attr whose
	// path ends here, or an inherit), or nil when the attribute is only
	// built from longer paths (a.b = 1; defines a without a Value).
	Value Expr
	// Set is the attribute set literal the attribute's own bindings live
	// in, when Value is one (after parentheses): edits of nested attributes
	// go there.
	Set *AttrSet
	// Attrs are the nested attributes, when the value is a set literal or
	// built from dotted paths.
	Attrs []*Attribute
}

// Get returns the nested attribute with the given path, or nil.
func (a *Attribute) Get(path ...string) *Attribute {
	cur := a
	for _, name := range path {
		var next *Attribute
		for _, c := range cur.Attrs {
			if c.Name == name {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// Attrs returns the static attributes defined by the bindings of set (an
// attribute set, let or legacy let; nil otherwise), in the order they are
// first defined. Dynamic names (${x} = …) are skipped.
func Attrs(set Node) []*Attribute {
	bs, ok := BindingsOf(set)
	if !ok {
		return nil
	}
	root := &Attribute{}
	addBindings(root, bs)
	return root.Attrs
}

// Lookup finds the attribute at path in set, following dotted bindings and
// nested set literals; it returns nil when the path is not statically there.
func Lookup(set Node, path ...string) *Attribute {
	root := &Attribute{Attrs: Attrs(set)}
	return root.Get(path...)
}

func addBindings(parent *Attribute, bs []Binding) {
	for _, b := range bs {
		switch b := b.(type) {
		case *Attr:
			cur := parent
			names := b.Path.Names
			for i, an := range names {
				name, ok := an.Name()
				if !ok {
					break
				}
				child := cur.Get(name)
				if child == nil {
					child = &Attribute{Name: name, NameNode: an, Binding: b}
					cur.Attrs = append(cur.Attrs, child)
				}
				if i == len(names)-1 {
					child.Value = b.Value
					if s, ok := Unparen(b.Value).(*AttrSet); ok {
						if child.Set == nil {
							child.Set = s
						}
						addBindings(child, s.Bindings)
					}
				}
				cur = child
			}
		case *Inherit:
			for _, an := range b.Names {
				name, ok := an.Name()
				if !ok || parent.Get(name) != nil {
					continue
				}
				a := &Attribute{Name: name, NameNode: an, Binding: b}
				if b.From == nil {
					a.Value = &Var{Name: an.Ident}
					if an.Ident == nil {
						a.Value = nil
					}
				}
				parent.Attrs = append(parent.Attrs, a)
			}
		}
	}
}

// Resolve finds what the variable v refers to in f: the binding (an *Attr
// of a let or rec set, an *Inherit, a *Formal, or the *Lambda whose
// argument it is) and, for an *Attr with a one-name path, the bound value.
// Both are nil for a global, a variable from a with, or an undefined one.
func (f *File) Resolve(v *Var) (def Node, value Expr) {
	name := v.Name.Text
	var stack []Node // the scopes enclosing v, outermost first
	var found bool
	var visit func(n Node) bool
	visit = func(n Node) bool {
		if found {
			return false
		}
		if n == Node(v) {
			found = true
			return false
		}
		switch n.(type) {
		case *Let, *Lambda:
			stack = append(stack, n)
		case *AttrSet, *LegacyLet:
			stack = append(stack, n)
		}
		return true
	}
	// Walk with explicit push/pop so the stack holds v's enclosing scopes.
	var walk func(n Node)
	walk = func(n Node) {
		if found || n == nil || isNilNode(n) {
			return
		}
		depth := len(stack)
		if !visit(n) {
			return
		}
		n.each(func(c any) {
			if cn, ok := c.(Node); ok && !found {
				walk(cn)
			}
		})
		if !found {
			stack = stack[:depth]
		}
	}
	walk(f.Root)
	if !found {
		return nil, nil
	}
	for i := len(stack) - 1; i >= 0; i-- {
		switch s := stack[i].(type) {
		case *Lambda:
			if s.Arg != nil && s.Arg.Text == name {
				return s, nil
			}
			if s.Formals != nil {
				for _, fm := range s.Formals.Items {
					if fm.Name.Text == name {
						return fm, nil
					}
				}
			}
		case *AttrSet:
			if s.Rec == nil {
				continue
			}
			if d, val := findBinding(s.Bindings, name); d != nil {
				return d, val
			}
		case *Let:
			if d, val := findBinding(s.Bindings, name); d != nil {
				return d, val
			}
		case *LegacyLet:
			if d, val := findBinding(s.Bindings, name); d != nil {
				return d, val
			}
		}
	}
	return nil, nil
}

func findBinding(bs []Binding, name string) (Node, Expr) {
	for _, b := range bs {
		switch b := b.(type) {
		case *Attr:
			if n, ok := b.Path.Names[0].Name(); ok && n == name {
				if len(b.Path.Names) == 1 {
					return b, b.Value
				}
				return b, nil
			}
		case *Inherit:
			for _, an := range b.Names {
				if n, ok := an.Name(); ok && n == name {
					return b, nil
				}
			}
		}
	}
	return nil, nil
}

// ResolveNames maps a list of variables (say `modules = [ a b c ]` whose
// elements are let-bound) to the names they are bound to and the values
// they are bound to; elements that are not variables are skipped.
func (f *File) ResolveNames(l *List) (names []string, values []Expr) {
	for _, e := range l.Elems {
		v, ok := Unparen(e).(*Var)
		if !ok {
			continue
		}
		_, val := f.Resolve(v)
		names = append(names, v.Name.Text)
		values = append(values, val)
	}
	return names, values
}
