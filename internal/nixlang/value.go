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

// Value is plain data read from Nix source without running Nix (see
// internal/fleet's ReadData): what a JSON value can hold, and paths. Pos is
// where the expression starts, so a consumer can point at the source of a
// bad value.
type Value struct {
	Kind  ValueKind
	Bool  bool
	Int   int64
	Float float64
	// Str is the string's contents, or a path as written (./a, ~/x, <p>).
	Str   string
	List  []*Value
	Attrs []*AttrValue // in source order
	Pos   Position
}

// AttrValue is one attribute of a static attribute set.
type AttrValue struct {
	Name  string
	Pos   Position // where the name is written
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
