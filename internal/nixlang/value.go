package nixlang

import "strings"

// ValueKind says what a static value is.
type ValueKind uint8

const (
	NullValue ValueKind = iota
	BoolValue
	IntValue
	FloatValue
	StringValue
	PathValue
	ListValue
	AttrsValue
)

// Value is the value of an expression that is literal data. Pos is where
// the expression starts, so a consumer can point at the source of a bad
// value.
type Value struct {
	Kind  ValueKind
	Bool  bool
	Int   int64
	Float float64
	// Str is the string's contents, or a path as written (./a, ~/x, <p>).
	Str   string
	List  []*Value
	Attrs []*AttrValue // in source order
	Pos   Pos
	Node  Expr
}

// AttrValue is one attribute of a static attribute set.
type AttrValue struct {
	Name  string
	Pos   Pos // where the name is written
	Value *Value
}

// Get returns the attribute named name, or nil.
func (v *Value) Get(name string) *Value {
	if v == nil {
		return nil
	}
	for _, a := range v.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return nil
}

// Interface returns the value as plain Go data: nil, bool, int64, float64,
// string (also for paths), []any, map[string]any.
func (v *Value) Interface() any {
	switch v.Kind {
	case BoolValue:
		return v.Bool
	case IntValue:
		return v.Int
	case FloatValue:
		return v.Float
	case StringValue, PathValue:
		return v.Str
	case ListValue:
		out := make([]any, len(v.List))
		for i, x := range v.List {
			out[i] = x.Interface()
		}
		return out
	case AttrsValue:
		out := make(map[string]any, len(v.Attrs))
		for _, a := range v.Attrs {
			out[a.Name] = a.Value.Interface()
		}
		return out
	}
	return nil
}

// StaticString returns the contents of a string without interpolation.
// Escapes are decoded and an indented string's indentation is stripped, as
// Nix does.
func (s *String) StaticString() (string, bool) {
	for _, p := range s.Parts {
		if _, ok := p.(*Interp); ok {
			return "", false
		}
	}
	if s.Open.Kind == DQuote {
		var b strings.Builder
		for _, p := range s.Parts {
			b.WriteString(unescape(p.(*Fragment).Tok.Text))
		}
		return b.String(), true
	}
	var parts []indPart
	for _, p := range s.Parts {
		t, ind := indFragment(p.(*Fragment).Tok.Text)
		parts = append(parts, indPart{text: t, hasIndent: ind})
	}
	var b strings.Builder
	switch r := stripIndentation(parts, true).(type) {
	case *nString:
		b.WriteString(r.s)
	case *nConcat:
		for _, p := range r.parts {
			b.WriteString(p.(*nString).s)
		}
	}
	return b.String(), true
}

// Static returns the value of e when e is literal data: strings without
// interpolation, numbers (including a negated number), true, false, null,
// paths without interpolation, and lists and attribute sets (not rec, with
// static names and no inherit) of those. true, false and null are taken at
// face value even if a let rebinds them.
func Static(e Expr) (*Value, bool) {
	v := &Value{Pos: e.Pos(), Node: e}
	switch n := Unparen(e).(type) {
	case *IntLit:
		v.Kind, v.Int = IntValue, n.Value
	case *FloatLit:
		v.Kind, v.Float = FloatValue, n.Value
	case *Unary:
		if n.Op.Kind != Minus {
			return nil, false
		}
		switch x := Unparen(n.X).(type) {
		case *IntLit:
			v.Kind, v.Int = IntValue, -x.Value
		case *FloatLit:
			v.Kind, v.Float = FloatValue, -x.Value
		default:
			return nil, false
		}
	case *String:
		s, ok := n.StaticString()
		if !ok {
			return nil, false
		}
		v.Kind, v.Str = StringValue, s
	case *URILit:
		v.Kind, v.Str = StringValue, n.Tok.Text
	case *PathLit:
		if len(n.Parts) != 1 {
			return nil, false
		}
		v.Kind, v.Str = PathValue, n.Parts[0].(*Fragment).Tok.Text
	case *SearchPath:
		v.Kind, v.Str = PathValue, n.Tok.Text
	case *Var:
		switch n.Name.Text {
		case "true":
			v.Kind, v.Bool = BoolValue, true
		case "false":
			v.Kind = BoolValue
		case "null":
			v.Kind = NullValue
		default:
			return nil, false
		}
	case *List:
		v.Kind = ListValue
		for _, x := range n.Elems {
			xv, ok := Static(x)
			if !ok {
				return nil, false
			}
			v.List = append(v.List, xv)
		}
	case *AttrSet:
		if !literalSet(n) {
			return nil, false
		}
		v.Kind = AttrsValue
		for _, a := range Attrs(n) {
			av, ok := staticAttr(a)
			if !ok {
				return nil, false
			}
			v.Attrs = append(v.Attrs, av)
		}
	default:
		return nil, false
	}
	return v, true
}

func staticAttr(a *Attribute) (*AttrValue, bool) {
	av := &AttrValue{Name: a.Name, Pos: a.NameNode.Pos()}
	pos := a.NameNode.Pos()
	if a.Value != nil {
		set, isSet := Unparen(a.Value).(*AttrSet)
		if !isSet {
			v, ok := Static(a.Value)
			av.Value = v
			return av, ok
		}
		if !literalSet(set) {
			return nil, false
		}
		pos = a.Value.Pos()
	}
	// A set literal, dotted paths (a.b = …), or both merged.
	v := &Value{Kind: AttrsValue, Pos: pos, Node: a.Value}
	for _, c := range a.Attrs {
		cv, ok := staticAttr(c)
		if !ok {
			return nil, false
		}
		v.Attrs = append(v.Attrs, cv)
	}
	av.Value = v
	return av, true
}

// literalSet reports whether a set can be literal data: not rec and every
// name static.
func literalSet(s *AttrSet) bool {
	if s.Rec != nil {
		return false
	}
	for _, b := range s.Bindings {
		if a, ok := b.(*Attr); ok {
			if _, ok := a.Path.Strings(); !ok {
				return false
			}
		}
	}
	return true
}
