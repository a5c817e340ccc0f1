package nixlang

import "strings"

// Node is a node of the concrete syntax tree. Every node knows its tokens,
// and every token keeps the trivia before it, so the tree prints back to the
// exact source.
type Node interface {
	// Pos is the position of the node's first token (after its trivia).
	Pos() Pos
	// End is the position just after the node's last token.
	End() Pos
	// each calls fn for the node's tokens and child nodes in source order;
	// fn gets either a *Token or a Node.
	each(fn func(any))
}

// Expr is a node that is an expression.
type Expr interface {
	Node
	expr()
}

// Binding is one entry of an attribute set or let: an *Attr or an *Inherit.
type Binding interface {
	Node
	binding()
}

type (
	// Var is a variable reference. Name is an Ident token, or the 'or'
	// keyword in Nix's backwards-compatible `f or` (an application of f to
	// a variable named "or").
	Var struct{ Name *Token }

	// IntLit is an integer literal.
	IntLit struct {
		Tok   *Token
		Value int64
	}

	// FloatLit is a floating-point literal.
	FloatLit struct {
		Tok   *Token
		Value float64
	}

	// String is a "…" or ''…'' string. Parts are *Fragment (Str or IndStr
	// tokens: raw text with escapes as written) and *Interp.
	String struct {
		Open  *Token // DQuote or IndOpen
		Parts []Node
		Close *Token // DQuote or IndClose
	}

	// Fragment is a literal piece of a string or path.
	Fragment struct{ Tok *Token }

	// Interp is an interpolation ${…} in a string, a path or an attribute name.
	Interp struct {
		Open  *Token // DollarCurly
		X     Expr
		Close *Token // RBrace
	}

	// PathLit is a path literal: ./a, /a, a/b, ~/a, possibly interpolated
	// (./a/${b}/c). Parts[0] is a *Fragment with the Path or HPath token;
	// the rest are *Fragment (Str tokens) and *Interp.
	PathLit struct {
		Parts []Node
		Stop  *Token // the zero-width PathEnd token
	}

	// SearchPath is a <nixpkgs/lib> lookup in NIX_PATH.
	SearchPath struct{ Tok *Token }

	// URILit is an unquoted URL such as https://example.org/a.tar.gz.
	URILit struct{ Tok *Token }

	// Paren is a parenthesized expression.
	Paren struct {
		Open  *Token
		X     Expr
		Close *Token
	}

	// List is [ a b c ].
	List struct {
		Open  *Token
		Elems []Expr
		Close *Token
	}

	// AttrSet is { … } or rec { … }.
	AttrSet struct {
		Rec      *Token // nil unless rec
		Open     *Token
		Bindings []Binding
		Close    *Token
	}

	// LegacyLet is the old let { …; body = …; } form.
	LegacyLet struct {
		Let      *Token
		Open     *Token
		Bindings []Binding
		Close    *Token
	}

	// Select is x.a.b, optionally with a default: x.a.b or d.
	Select struct {
		X       Expr
		Dot     *Token
		Path    *AttrPath
		Or      *Token // nil without a default
		Default Expr
	}

	// HasAttr is x ? a.b.
	HasAttr struct {
		X        Expr
		Question *Token
		Path     *AttrPath
	}

	// Apply is a function application f x.
	Apply struct {
		Fn  Expr
		Arg Expr
	}

	// Unary is !x or -x.
	Unary struct {
		Op *Token
		X  Expr
	}

	// Binary is x OP y for every infix operator.
	Binary struct {
		X  Expr
		Op *Token
		Y  Expr
	}

	// If is if c then a else b.
	If struct {
		If    *Token
		Cond  Expr
		Then  *Token
		ThenX Expr
		Else  *Token
		ElseX Expr
	}

	// Let is let bindings in body.
	Let struct {
		Let      *Token
		Bindings []Binding
		In       *Token
		Body     Expr
	}

	// With is with x; body.
	With struct {
		With *Token
		X    Expr
		Semi *Token
		Body Expr
	}

	// Assert is assert c; body.
	Assert struct {
		Assert *Token
		Cond   Expr
		Semi   *Token
		Body   Expr
	}

	// Lambda is x: body, { formals }: body, x @ { formals }: body or
	// { formals } @ x: body.
	Lambda struct {
		Arg     *Token   // the argument name, or nil
		At      *Token   // nil unless both Arg and Formals are present
		Formals *Formals // nil for a plain x: body
		Colon   *Token
		Body    Expr
	}

	// Formals is the { a, b ? d, ... } pattern of a lambda.
	Formals struct {
		Open     *Token
		Items    []*Formal
		Ellipsis *Token // nil without ...
		Close    *Token
	}

	// Formal is one pattern entry; Comma is the comma after it, if any.
	Formal struct {
		Name     *Token
		Question *Token
		Default  Expr
		Comma    *Token
	}

	// Attr is a binding path = value;.
	Attr struct {
		Path   *AttrPath
		Assign *Token
		Value  Expr
		Semi   *Token
	}

	// Inherit is inherit a b; or inherit (from) a b;.
	Inherit struct {
		Inherit *Token
		From    *Paren // nil for a plain inherit
		Names   []*AttrName
		Semi    *Token
	}

	// AttrPath is a.b."c".${d}.
	AttrPath struct {
		Names []*AttrName
		Dots  []*Token // len(Dots) == len(Names)-1
	}

	// AttrName is one attribute name: exactly one of Ident (an Ident or the
	// 'or' keyword), Str or Interp is set.
	AttrName struct {
		Ident  *Token
		Str    *String
		Interp *Interp
	}
)

func (*Var) expr()        {}
func (*IntLit) expr()     {}
func (*FloatLit) expr()   {}
func (*String) expr()     {}
func (*PathLit) expr()    {}
func (*SearchPath) expr() {}
func (*URILit) expr()     {}
func (*Paren) expr()      {}
func (*List) expr()       {}
func (*AttrSet) expr()    {}
func (*LegacyLet) expr()  {}
func (*Select) expr()     {}
func (*HasAttr) expr()    {}
func (*Apply) expr()      {}
func (*Unary) expr()      {}
func (*Binary) expr()     {}
func (*If) expr()         {}
func (*Let) expr()        {}
func (*With) expr()       {}
func (*Assert) expr()     {}
func (*Lambda) expr()     {}

func (*Attr) binding()    {}
func (*Inherit) binding() {}

func tok(fn func(any), t *Token) {
	if t != nil {
		fn(t)
	}
}

func node(fn func(any), n Node) {
	if n != nil && !isNilNode(n) {
		fn(n)
	}
}

// isNilNode catches typed nil pointers stored in interfaces.
func isNilNode(n Node) bool {
	switch v := n.(type) {
	case *Paren:
		return v == nil
	case *AttrPath:
		return v == nil
	case *Formals:
		return v == nil
	case *String:
		return v == nil
	case *Interp:
		return v == nil
	}
	return false
}

func bindings(fn func(any), bs []Binding) {
	for _, b := range bs {
		fn(b)
	}
}

func (n *Var) each(fn func(any))        { tok(fn, n.Name) }
func (n *IntLit) each(fn func(any))     { tok(fn, n.Tok) }
func (n *FloatLit) each(fn func(any))   { tok(fn, n.Tok) }
func (n *SearchPath) each(fn func(any)) { tok(fn, n.Tok) }
func (n *URILit) each(fn func(any))     { tok(fn, n.Tok) }
func (n *String) each(fn func(any)) {
	tok(fn, n.Open)
	for _, p := range n.Parts {
		fn(p)
	}
	tok(fn, n.Close)
}
func (n *Fragment) each(fn func(any)) { tok(fn, n.Tok) }
func (n *Interp) each(fn func(any))   { tok(fn, n.Open); node(fn, n.X); tok(fn, n.Close) }
func (n *PathLit) each(fn func(any)) {
	for _, p := range n.Parts {
		fn(p)
	}
	tok(fn, n.Stop)
}
func (n *Paren) each(fn func(any)) { tok(fn, n.Open); node(fn, n.X); tok(fn, n.Close) }
func (n *List) each(fn func(any)) {
	tok(fn, n.Open)
	for _, e := range n.Elems {
		fn(e)
	}
	tok(fn, n.Close)
}
func (n *AttrSet) each(fn func(any)) {
	tok(fn, n.Rec)
	tok(fn, n.Open)
	bindings(fn, n.Bindings)
	tok(fn, n.Close)
}
func (n *LegacyLet) each(fn func(any)) {
	tok(fn, n.Let)
	tok(fn, n.Open)
	bindings(fn, n.Bindings)
	tok(fn, n.Close)
}
func (n *Select) each(fn func(any)) {
	node(fn, n.X)
	tok(fn, n.Dot)
	node(fn, n.Path)
	tok(fn, n.Or)
	node(fn, n.Default)
}
func (n *HasAttr) each(fn func(any)) { node(fn, n.X); tok(fn, n.Question); node(fn, n.Path) }
func (n *Apply) each(fn func(any))   { node(fn, n.Fn); node(fn, n.Arg) }
func (n *Unary) each(fn func(any))   { tok(fn, n.Op); node(fn, n.X) }
func (n *Binary) each(fn func(any))  { node(fn, n.X); tok(fn, n.Op); node(fn, n.Y) }
func (n *If) each(fn func(any)) {
	tok(fn, n.If)
	node(fn, n.Cond)
	tok(fn, n.Then)
	node(fn, n.ThenX)
	tok(fn, n.Else)
	node(fn, n.ElseX)
}
func (n *Let) each(fn func(any)) {
	tok(fn, n.Let)
	bindings(fn, n.Bindings)
	tok(fn, n.In)
	node(fn, n.Body)
}
func (n *With) each(fn func(any)) { tok(fn, n.With); node(fn, n.X); tok(fn, n.Semi); node(fn, n.Body) }
func (n *Assert) each(fn func(any)) {
	tok(fn, n.Assert)
	node(fn, n.Cond)
	tok(fn, n.Semi)
	node(fn, n.Body)
}
func (n *Lambda) each(fn func(any)) {
	if n.Formals != nil && n.Arg != nil && n.Formals.Open.Pos.Offset < n.Arg.Pos.Offset {
		node(fn, n.Formals)
		tok(fn, n.At)
		tok(fn, n.Arg)
	} else {
		tok(fn, n.Arg)
		tok(fn, n.At)
		node(fn, n.Formals)
	}
	tok(fn, n.Colon)
	node(fn, n.Body)
}
func (n *Formals) each(fn func(any)) {
	tok(fn, n.Open)
	for _, f := range n.Items {
		fn(f)
	}
	tok(fn, n.Ellipsis)
	tok(fn, n.Close)
}
func (n *Formal) each(fn func(any)) {
	tok(fn, n.Name)
	tok(fn, n.Question)
	node(fn, n.Default)
	tok(fn, n.Comma)
}
func (n *Attr) each(fn func(any)) {
	node(fn, n.Path)
	tok(fn, n.Assign)
	node(fn, n.Value)
	tok(fn, n.Semi)
}
func (n *Inherit) each(fn func(any)) {
	tok(fn, n.Inherit)
	node(fn, n.From)
	for _, a := range n.Names {
		fn(a)
	}
	tok(fn, n.Semi)
}
func (n *AttrPath) each(fn func(any)) {
	for i, a := range n.Names {
		if i > 0 {
			tok(fn, n.Dots[i-1])
		}
		fn(a)
	}
}
func (n *AttrName) each(fn func(any)) {
	tok(fn, n.Ident)
	node(fn, n.Str)
	node(fn, n.Interp)
}

// FirstToken returns the first token of n, or nil for an empty node.
func FirstToken(n Node) *Token {
	var first *Token
	var visit func(x any) bool
	visit = func(x any) bool {
		if first != nil {
			return true
		}
		switch v := x.(type) {
		case *Token:
			first = v
		case Node:
			v.each(func(c any) { visit(c) })
		}
		return first != nil
	}
	visit(n)
	return first
}

// LastToken returns the last token of n, or nil for an empty node.
func LastToken(n Node) *Token {
	var last *Token
	var visit func(x any)
	visit = func(x any) {
		switch v := x.(type) {
		case *Token:
			last = v
		case Node:
			v.each(visit)
		}
	}
	visit(n)
	return last
}

func nodePos(n Node) Pos {
	if t := FirstToken(n); t != nil {
		return t.Pos
	}
	return Pos{}
}

func nodeEnd(n Node) Pos {
	if t := LastToken(n); t != nil {
		return t.End()
	}
	return Pos{}
}

func (n *Var) Pos() Pos        { return n.Name.Pos }
func (n *IntLit) Pos() Pos     { return n.Tok.Pos }
func (n *FloatLit) Pos() Pos   { return n.Tok.Pos }
func (n *SearchPath) Pos() Pos { return n.Tok.Pos }
func (n *URILit) Pos() Pos     { return n.Tok.Pos }
func (n *String) Pos() Pos     { return n.Open.Pos }
func (n *Interp) Pos() Pos     { return n.Open.Pos }
func (n *Fragment) Pos() Pos   { return n.Tok.Pos }
func (n *PathLit) Pos() Pos    { return nodePos(n) }
func (n *Paren) Pos() Pos      { return n.Open.Pos }
func (n *List) Pos() Pos       { return n.Open.Pos }
func (n *AttrSet) Pos() Pos    { return nodePos(n) }
func (n *LegacyLet) Pos() Pos  { return n.Let.Pos }
func (n *Select) Pos() Pos     { return nodePos(n) }
func (n *HasAttr) Pos() Pos    { return nodePos(n) }
func (n *Apply) Pos() Pos      { return nodePos(n) }
func (n *Unary) Pos() Pos      { return n.Op.Pos }
func (n *Binary) Pos() Pos     { return nodePos(n) }
func (n *If) Pos() Pos         { return n.If.Pos }
func (n *Let) Pos() Pos        { return n.Let.Pos }
func (n *With) Pos() Pos       { return n.With.Pos }
func (n *Assert) Pos() Pos     { return n.Assert.Pos }
func (n *Lambda) Pos() Pos     { return nodePos(n) }
func (n *Formals) Pos() Pos    { return n.Open.Pos }
func (n *Formal) Pos() Pos     { return n.Name.Pos }
func (n *Attr) Pos() Pos       { return nodePos(n) }
func (n *Inherit) Pos() Pos    { return n.Inherit.Pos }
func (n *AttrPath) Pos() Pos   { return nodePos(n) }
func (n *AttrName) Pos() Pos   { return nodePos(n) }

func (n *Var) End() Pos        { return nodeEnd(n) }
func (n *IntLit) End() Pos     { return nodeEnd(n) }
func (n *FloatLit) End() Pos   { return nodeEnd(n) }
func (n *SearchPath) End() Pos { return nodeEnd(n) }
func (n *URILit) End() Pos     { return nodeEnd(n) }
func (n *String) End() Pos     { return nodeEnd(n) }
func (n *Interp) End() Pos     { return nodeEnd(n) }
func (n *Fragment) End() Pos   { return n.Tok.End() }
func (n *PathLit) End() Pos    { return nodeEnd(n) }
func (n *Paren) End() Pos      { return nodeEnd(n) }
func (n *List) End() Pos       { return nodeEnd(n) }
func (n *AttrSet) End() Pos    { return nodeEnd(n) }
func (n *LegacyLet) End() Pos  { return nodeEnd(n) }
func (n *Select) End() Pos     { return nodeEnd(n) }
func (n *HasAttr) End() Pos    { return nodeEnd(n) }
func (n *Apply) End() Pos      { return nodeEnd(n) }
func (n *Unary) End() Pos      { return nodeEnd(n) }
func (n *Binary) End() Pos     { return nodeEnd(n) }
func (n *If) End() Pos         { return nodeEnd(n) }
func (n *Let) End() Pos        { return nodeEnd(n) }
func (n *With) End() Pos       { return nodeEnd(n) }
func (n *Assert) End() Pos     { return nodeEnd(n) }
func (n *Lambda) End() Pos     { return nodeEnd(n) }
func (n *Formals) End() Pos    { return nodeEnd(n) }
func (n *Formal) End() Pos     { return nodeEnd(n) }
func (n *Attr) End() Pos       { return nodeEnd(n) }
func (n *Inherit) End() Pos    { return nodeEnd(n) }
func (n *AttrPath) End() Pos   { return nodeEnd(n) }
func (n *AttrName) End() Pos   { return nodeEnd(n) }

// Walk visits n and its descendants depth-first in source order. When fn
// returns false the node's children are skipped.
func Walk(n Node, fn func(Node) bool) {
	if n == nil || isNilNode(n) || !fn(n) {
		return
	}
	n.each(func(c any) {
		if cn, ok := c.(Node); ok {
			Walk(cn, fn)
		}
	})
}

// Tokens calls fn for every token of n in source order.
func Tokens(n Node, fn func(*Token)) {
	n.each(func(c any) {
		switch v := c.(type) {
		case *Token:
			fn(v)
		case Node:
			Tokens(v, fn)
		}
	})
}

// Text returns the source text of n: its tokens and the trivia between
// them, without the trivia before its first token.
func Text(n Node) string {
	var b strings.Builder
	first := true
	Tokens(n, func(t *Token) {
		if !first {
			b.WriteString(t.Leading)
		}
		first = false
		b.WriteString(t.Text)
	})
	return b.String()
}
