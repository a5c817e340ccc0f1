package nixlang

// Lowering turns the concrete syntax tree into the expression tree Nix's
// parser builds (src/libexpr/nixexpr.hh): operators become calls to
// builtins, strings are unescaped and their indentation stripped, paths are
// made absolute, attribute paths are merged into nested sets. Nix rejects
// duplicate attributes and dynamic names in let/inherit while building that
// tree, and finds undefined variables by walking it, so matching its verdicts
// means doing the same here. The tree is also what PrintNix prints.

import (
	"sort"
	"strings"
)

type (
	nExpr interface{}

	nVar struct {
		name string
		pos  Pos
	}
	nInt    struct{ v int64 }
	nFloat  struct{ v float64 }
	nString struct{ s string }
	nPath   struct {
		raw  string // as written; made absolute when printed
		home bool   // ~/…
	}
	nPos    struct{}
	nSelect struct {
		e    nExpr
		path []nAttrName
		def  nExpr
	}
	nHasAttr struct {
		e    nExpr
		path []nAttrName
	}
	nAttrName struct {
		name string // when expr is nil
		expr nExpr
	}
	nAttrDef struct {
		e         nExpr
		pos       Pos
		inherited bool
	}
	nDynAttr struct {
		name, value nExpr
		pos         Pos
	}
	nAttrs struct {
		rec   bool
		attrs map[string]*nAttrDef
		order []string // names in the order they were defined
		dyn   []nDynAttr
	}
	nList   struct{ elems []nExpr }
	nFormal struct {
		name string
		pos  Pos
		def  nExpr
	}
	nLambda struct {
		arg      string
		formals  []nFormal // nil with hasFormals false
		hasForm  bool
		ellipsis bool
		body     nExpr
	}
	nCall struct {
		fn   nExpr
		args []nExpr
	}
	nLet struct {
		attrs *nAttrs
		body  nExpr
	}
	nWith   struct{ attrs, body nExpr }
	nIf     struct{ cond, then, els nExpr }
	nAssert struct{ cond, body nExpr }
	nNot    struct{ e nExpr }
	nBinOp  struct {
		op   string // ==, !=, &&, ||, ->, //, ++
		a, b nExpr
	}
	nConcat struct {
		forceString bool
		parts       []nExpr
	}
)

func newAttrs() *nAttrs { return &nAttrs{attrs: map[string]*nAttrDef{}} }

func (a *nAttrs) set(name string, d *nAttrDef) {
	if _, ok := a.attrs[name]; !ok {
		a.order = append(a.order, name)
	}
	a.attrs[name] = d
}

// lowerer builds the expression tree with the rules of one Nix dialect.
type lowerer struct {
	dialect Dialect
	file    string
}

func (l *lowerer) fail(p Pos, format string, args ...any) {
	panic(bailout{newError(l.file, p, format, args...)})
}

func call(name string, args ...nExpr) nExpr {
	return &nCall{fn: &nVar{name: name}, args: args}
}

func (l *lowerer) expr(e Expr) nExpr {
	switch n := e.(type) {
	case *Var:
		if n.Name.Kind == Ident && n.Name.Text == "__curPos" {
			return &nPos{}
		}
		name := n.Name.Text
		return &nVar{name: name, pos: n.Name.Pos}
	case *IntLit:
		return &nInt{n.Value}
	case *FloatLit:
		return &nFloat{n.Value}
	case *String:
		if n.Open.Kind == IndOpen {
			return l.indString(n)
		}
		return l.dqString(n)
	case *PathLit:
		return l.path(n)
	case *SearchPath:
		t := n.Tok.Text
		return call("__findFile", &nVar{name: "__nixPath"}, &nString{t[1 : len(t)-1]})
	case *URILit:
		return &nString{n.Tok.Text}
	case *Paren:
		return l.expr(n.X)
	case *List:
		out := &nList{elems: make([]nExpr, 0, len(n.Elems))}
		for _, x := range n.Elems {
			out.elems = append(out.elems, l.expr(x))
		}
		return out
	case *AttrSet:
		a := l.bindings(n.Bindings)
		a.rec = n.Rec != nil
		return a
	case *LegacyLet:
		a := l.bindings(n.Bindings)
		a.rec = true
		return &nSelect{e: a, path: []nAttrName{{name: "body"}}}
	case *Select:
		s := &nSelect{e: l.expr(n.X), path: l.attrPath(n.Path)}
		if n.Default != nil {
			s.def = l.expr(n.Default)
		}
		return s
	case *HasAttr:
		return &nHasAttr{e: l.expr(n.X), path: l.attrPath(n.Path)}
	case *Apply:
		fn := l.expr(n.Fn)
		arg := l.expr(n.Arg)
		if v, ok := n.Arg.(*Var); ok && v.Name.Kind == KwOr {
			// `f or` is built directly as a call; it never absorbs f's arguments.
			return &nCall{fn: fn, args: []nExpr{arg}}
		}
		if c, ok := fn.(*nCall); ok {
			c.args = append(c.args, arg)
			return c
		}
		return &nCall{fn: fn, args: []nExpr{arg}}
	case *Unary:
		x := l.expr(n.X)
		if n.Op.Kind == Not {
			return &nNot{x}
		}
		return call("__sub", &nInt{0}, x)
	case *Binary:
		a, b := l.expr(n.X), l.expr(n.Y)
		switch n.Op.Kind {
		case Plus:
			return &nConcat{parts: []nExpr{a, b}}
		case Minus:
			return call("__sub", a, b)
		case Star:
			return call("__mul", a, b)
		case Slash:
			return call("__div", a, b)
		case Less:
			return call("__lessThan", a, b)
		case Greater:
			return call("__lessThan", b, a)
		case LessEq:
			return &nNot{call("__lessThan", b, a)}
		case GreaterEq:
			return &nNot{call("__lessThan", a, b)}
		}
		return &nBinOp{op: n.Op.Text, a: a, b: b}
	case *If:
		return &nIf{l.expr(n.Cond), l.expr(n.ThenX), l.expr(n.ElseX)}
	case *Let:
		a := l.bindings(n.Bindings)
		if len(a.dyn) > 0 {
			l.fail(n.Let.Pos, "dynamic attributes not allowed in let")
		}
		return &nLet{attrs: a, body: l.expr(n.Body)}
	case *With:
		return &nWith{l.expr(n.X), l.expr(n.Body)}
	case *Assert:
		return &nAssert{l.expr(n.Cond), l.expr(n.Body)}
	case *Lambda:
		return l.lambda(n)
	}
	panic("nixlang: unknown node in lower")
}

func (l *lowerer) lambda(n *Lambda) nExpr {
	out := &nLambda{}
	if n.Arg != nil {
		out.arg = n.Arg.Text
	}
	if n.Formals != nil {
		out.hasForm = true
		out.ellipsis = n.Formals.Ellipsis != nil
		seen := map[string]bool{}
		for _, f := range n.Formals.Items {
			if seen[f.Name.Text] {
				l.fail(f.Name.Pos, "duplicate formal function argument '%s'", f.Name.Text)
			}
			seen[f.Name.Text] = true
			nf := nFormal{name: f.Name.Text, pos: f.Name.Pos}
			if f.Default != nil {
				nf.def = l.expr(f.Default)
			}
			out.formals = append(out.formals, nf)
		}
		if n.Arg != nil && seen[n.Arg.Text] {
			l.fail(n.Pos(), "duplicate formal function argument '%s'", n.Arg.Text)
		}
	}
	out.body = l.expr(n.Body)
	return out
}

// unescape decodes a "…" string fragment as Nix's unescapeStr does.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
		case c == '\r':
			b.WriteByte('\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cString cuts s at a NUL byte: Nix's unescapeStr works on C strings, so
// an escaped fragment ends at the first NUL.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

func (l *lowerer) dqString(n *String) nExpr {
	if len(n.Parts) == 0 {
		return &nString{""}
	}
	if len(n.Parts) == 1 {
		if f, ok := n.Parts[0].(*Fragment); ok {
			return &nString{cString(unescape(f.Tok.Text))}
		}
	}
	c := &nConcat{forceString: true}
	for _, p := range n.Parts {
		switch p := p.(type) {
		case *Fragment:
			c.parts = append(c.parts, &nString{cString(unescape(p.Tok.Text))})
		case *Interp:
			c.parts = append(c.parts, l.expr(p.X))
		}
	}
	return c
}

// indPart is one part of an indented string before indentation stripping:
// literal text (with hasIndent true for the lexer's plain text runs, false
// for escapes) or an interpolated expression.
type indPart struct {
	text      string
	hasIndent bool
	expr      nExpr
}

func indFragment(raw string) (text string, hasIndent bool) {
	switch {
	case raw == "''$" || raw == "$":
		return "$", false
	case raw == "'''":
		return "''", false
	case raw == "'":
		return "'", false
	case strings.HasPrefix(raw, "''\\"):
		return cString(unescape(raw[2:])), false
	}
	return raw, true
}

func (l *lowerer) indString(n *String) nExpr {
	var parts []indPart
	for _, p := range n.Parts {
		switch p := p.(type) {
		case *Fragment:
			t, ind := indFragment(p.Tok.Text)
			parts = append(parts, indPart{text: t, hasIndent: ind})
		case *Interp:
			parts = append(parts, indPart{expr: l.expr(p.X)})
		}
	}
	return stripIndentation(parts, l.dialect != Nix28)
}

// stripIndentation follows Nix's algorithm of the same name: the smallest
// indentation of any line (ignoring whitespace-only lines and a final
// whitespace-only line) is removed from every line. Current Nix also drops
// the literal parts that end up empty (dropEmpty).
func stripIndentation(es []indPart, dropEmpty bool) nExpr {
	if len(es) == 0 {
		return &nString{""}
	}
	atStartOfLine := true
	minIndent := 1000000
	curIndent := 0
	for _, p := range es {
		if p.expr != nil || !p.hasIndent {
			if atStartOfLine {
				atStartOfLine = false
				if curIndent < minIndent {
					minIndent = curIndent
				}
			}
			continue
		}
		for j := 0; j < len(p.text); j++ {
			c := p.text[j]
			if atStartOfLine {
				if c == ' ' {
					curIndent++
				} else if c == '\n' {
					curIndent = 0
				} else {
					atStartOfLine = false
					if curIndent < minIndent {
						minIndent = curIndent
					}
				}
			} else if c == '\n' {
				atStartOfLine = true
				curIndent = 0
			}
		}
	}

	var out []nExpr
	atStartOfLine = true
	curDropped := 0
	for i, p := range es {
		if p.expr != nil {
			atStartOfLine = false
			curDropped = 0
			out = append(out, p.expr)
			continue
		}
		var s2 []byte
		for j := 0; j < len(p.text); j++ {
			c := p.text[j]
			if atStartOfLine {
				if c == ' ' {
					if curDropped >= minIndent {
						s2 = append(s2, c)
					}
					curDropped++
				} else if c == '\n' {
					curDropped = 0
					s2 = append(s2, c)
				} else {
					atStartOfLine = false
					curDropped = 0
					s2 = append(s2, c)
				}
			} else {
				s2 = append(s2, c)
				if c == '\n' {
					atStartOfLine = true
				}
			}
		}
		if i == len(es)-1 {
			// Remove the last line if it is empty and consists only of spaces.
			s := string(s2)
			if k := strings.LastIndexByte(s, '\n'); k >= 0 && strings.Trim(s[k+1:], " ") == "" {
				s2 = s2[:k+1]
			}
		}
		if dropEmpty && len(s2) == 0 {
			continue
		}
		out = append(out, &nString{string(s2)})
	}
	if len(out) == 0 {
		return &nString{""}
	}
	if len(out) == 1 {
		if s, ok := out[0].(*nString); ok {
			return s
		}
	}
	return &nConcat{forceString: true, parts: out}
}

func (l *lowerer) path(n *PathLit) nExpr {
	first := n.Parts[0].(*Fragment).Tok
	var base nExpr = &nPath{raw: first.Text, home: first.Kind == HPath}
	if len(n.Parts) == 1 {
		return base
	}
	c := &nConcat{parts: []nExpr{base}}
	for _, p := range n.Parts[1:] {
		switch p := p.(type) {
		case *Fragment:
			c.parts = append(c.parts, &nString{p.Tok.Text})
		case *Interp:
			c.parts = append(c.parts, l.expr(p.X))
		}
	}
	return c
}

// canonPath makes p absolute against base and removes ".", ".." and
// repeated slashes, like Nix's absPath/canonPath (no symlinks resolved).
func canonPath(p, base string) string {
	if !strings.HasPrefix(p, "/") {
		p = base + "/" + p
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// attrName lowers one attribute name; a name is static when Nix's parser
// sees a plain string there (an identifier, "text" without interpolation,
// ${"text"}, even ${(https://x)}), dynamic otherwise.
func (l *lowerer) attrName(a *AttrName) nAttrName {
	switch {
	case a.Ident != nil:
		return nAttrName{name: a.Ident.Text}
	case a.Str != nil:
		e := l.expr(a.Str)
		if s, ok := e.(*nString); ok {
			return nAttrName{name: s.s}
		}
		return nAttrName{expr: e}
	default:
		e := l.expr(a.Interp.X)
		if s, ok := e.(*nString); ok {
			return nAttrName{name: s.s}
		}
		return nAttrName{expr: e}
	}
}

func (l *lowerer) attrPath(ap *AttrPath) []nAttrName {
	out := make([]nAttrName, len(ap.Names))
	for i, a := range ap.Names {
		out[i] = l.attrName(a)
	}
	return out
}

func showPath(path []nAttrName) string {
	var b strings.Builder
	for i, a := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		if a.expr == nil {
			b.WriteString(a.name)
		} else {
			b.WriteString(`"${…}"`)
		}
	}
	return b.String()
}

func (l *lowerer) bindings(bs []Binding) *nAttrs {
	attrs := newAttrs()
	for _, b := range bs {
		l.addBinding(attrs, b)
	}
	return attrs
}

// addBinding adds one binding to attrs, failing as Nix does when it
// reduces that binding.
func (l *lowerer) addBinding(attrs *nAttrs, b Binding) {
	switch b := b.(type) {
	case *Attr:
		l.addAttr(attrs, l.attrPath(b.Path), l.expr(b.Value), b.Path.Pos())
	case *Inherit:
		var from nExpr
		if b.From != nil {
			from = l.expr(b.From.X)
		}
		for _, a := range b.Names {
			n := l.attrName(a)
			if n.expr != nil {
				l.fail(a.Pos(), "dynamic attributes not allowed in inherit")
			}
			// Nix places every name of an inherit where its list of names
			// begins: right after the keyword or the closing parenthesis.
			at := b.Inherit.End()
			if b.From != nil {
				at = b.From.Close.End()
			}
			if prev, ok := attrs.attrs[n.name]; ok {
				l.fail(at, "attribute '%s' already defined at %s", n.name, prev.pos)
			}
			if from == nil {
				attrs.set(n.name, &nAttrDef{e: &nVar{name: n.name, pos: a.Pos()}, pos: at, inherited: true})
			} else {
				attrs.set(n.name, &nAttrDef{e: &nSelect{e: from, path: []nAttrName{n}}, pos: at})
			}
		}
	}
}

// addAttr mirrors Nix's addAttr: a.b.c = e creates or reuses nested sets
// for a and b; a path that is already defined is an error unless both old
// and new values are attribute sets, which are then merged one level deep.
func (l *lowerer) addAttr(attrs *nAttrs, path []nAttrName, e nExpr, pos Pos) {
	for _, a := range path[:len(path)-1] {
		if a.expr != nil {
			nested := newAttrs()
			attrs.dyn = append(attrs.dyn, nDynAttr{name: a.expr, value: nested, pos: pos})
			attrs = nested
			continue
		}
		if j, ok := attrs.attrs[a.name]; ok {
			sub, isAttrs := j.e.(*nAttrs)
			if j.inherited || !isAttrs {
				l.fail(pos, "attribute '%s' already defined at %s", showPath(path), j.pos)
			}
			attrs = sub
			continue
		}
		nested := newAttrs()
		attrs.set(a.name, &nAttrDef{e: nested, pos: pos})
		attrs = nested
	}
	last := path[len(path)-1]
	if last.expr != nil {
		attrs.dyn = append(attrs.dyn, nDynAttr{name: last.expr, value: e, pos: pos})
		return
	}
	j, ok := attrs.attrs[last.name]
	if !ok {
		attrs.set(last.name, &nAttrDef{e: e, pos: pos})
		return
	}
	l.mergeAttr(attrs, path, last.name, &nAttrDef{e: e, pos: pos}, j)
}

// mergeAttr handles a second definition of name in attrs: an error unless
// both values are attribute sets, which are then merged. Nix 2.8 merges one
// level (a clash below is an error) and drops the new set's dynamic
// attributes; current Nix merges recursively and keeps them. Either way the
// new set's rec is lost.
func (l *lowerer) mergeAttr(attrs *nAttrs, path []nAttrName, name string, def *nAttrDef, j *nAttrDef) {
	ae, newIsAttrs := def.e.(*nAttrs)
	jAttrs, oldIsAttrs := j.e.(*nAttrs)
	if !newIsAttrs || !oldIsAttrs || j.inherited {
		l.fail(def.pos, "attribute '%s' already defined at %s", showPath(path), j.pos)
	}
	for _, n := range ae.order {
		sub := append(append([]nAttrName(nil), path...), nAttrName{name: n})
		prev, dup := jAttrs.attrs[n]
		switch {
		case !dup:
			jAttrs.set(n, ae.attrs[n])
		case l.dialect == Nix28:
			l.fail(ae.attrs[n].pos, "attribute '%s' already defined at %s", showPath(sub), prev.pos)
		default:
			l.mergeAttr(jAttrs, sub, n, ae.attrs[n], prev)
		}
	}
	if l.dialect != Nix28 {
		jAttrs.dyn = append(jAttrs.dyn, ae.dyn...)
	}
}

func sortedNames(m map[string]*nAttrDef) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
