package nixlang

import (
	"strconv"
)

// File is a parsed Nix file: its syntax tree and the tokens it was built
// from. Printing an unedited File gives back its source byte for byte.
type File struct {
	Name string
	Src  string
	Root Expr
	// EOF is the end-of-file token; its Leading holds the trailing trivia.
	EOF *Token

	opts       Options // what Parse was called with, for reparsing edits
	syntaxOnly bool    // made by ParseSyntax
}

// Bytes returns the file's text printed from the tree.
func (f *File) Bytes() []byte {
	var b []byte
	Tokens(f.Root, func(t *Token) { b = append(b, t.Leading...); b = append(b, t.Text...) })
	b = append(b, f.EOF.Leading...)
	return b
}

// Error returns an *Error at p in this file.
func (f *File) Error(p Pos, format string, args ...any) *Error {
	return newError(f.Name, p, format, args...)
}

// ParseSyntax parses src as a Nix expression without the scope checks that
// Nix also does at parse time (undefined variables, duplicate attributes,
// duplicate formals). Use Parse to accept exactly what nix accepts.
func ParseSyntax(filename string, src []byte) (*File, error) {
	p := &parser{file: filename, toks: lex(string(src))}
	f := &File{Name: filename, Src: string(src), syntaxOnly: true}
	err := p.guard(func() {
		f.Root = p.parseExpr()
		if p.peek().Kind != EOF {
			p.unexpected("end of file")
		}
		f.EOF = p.next()
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// maxDepth bounds nesting: Nix's parser gives up ("memory exhausted") on
// deeply nested input, and a bound keeps our recursion finite on hostile
// input.
const maxDepth = 10000

type parser struct {
	file  string
	toks  []Token
	i     int
	depth int
}

type bailout struct{ err *Error }

func (p *parser) guard(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			err = b.err
		}
	}()
	fn()
	return nil
}

func (p *parser) fail(pos Pos, format string, args ...any) {
	panic(bailout{newError(p.file, pos, format, args...)})
}

func (p *parser) peek() *Token { return &p.toks[p.i] }

func (p *parser) peekAt(n int) *Token {
	if p.i+n < len(p.toks) {
		return &p.toks[p.i+n]
	}
	return &p.toks[len(p.toks)-1]
}

func (p *parser) next() *Token {
	t := &p.toks[p.i]
	if t.Kind == Illegal {
		p.fail(t.Pos, "%s", t.Err)
	}
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func describe(t *Token) string {
	switch t.Kind {
	case EOF:
		return "end of file"
	case Ident:
		return "identifier '" + t.Text + "'"
	case Int, Float:
		return "number " + t.Text
	case Path, HPath, SPath:
		return "path " + t.Text
	case URI:
		return "URI " + t.Text
	case Other:
		return strconv.QuoteToASCII(t.Text)
	}
	return t.Kind.String()
}

// unexpected reports the current token as a syntax error.
func (p *parser) unexpected(expecting string) {
	t := p.peek()
	if t.Kind == Illegal {
		p.fail(t.Pos, "%s", t.Err)
	}
	if expecting == "" {
		p.fail(t.Pos, "syntax error: unexpected %s", describe(t))
	}
	p.fail(t.Pos, "syntax error: unexpected %s, expecting %s", describe(t), expecting)
}

func (p *parser) expect(k TokenKind) *Token {
	if p.peek().Kind != k {
		p.unexpected(k.String())
	}
	return p.next()
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.peek().Pos, "expression nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

// expr: expr_function
func (p *parser) parseExpr() Expr {
	p.enter()
	defer p.leave()
	t := p.peek()
	switch t.Kind {
	case Ident:
		switch p.peekAt(1).Kind {
		case Colon:
			arg := p.next()
			colon := p.next()
			return &Lambda{Arg: arg, Colon: colon, Body: p.parseExpr()}
		case At:
			arg := p.next()
			at := p.next()
			if p.peek().Kind != LBrace {
				p.unexpected("'{'")
			}
			formals := p.parseFormals()
			colon := p.expect(Colon)
			return &Lambda{Arg: arg, At: at, Formals: formals, Colon: colon, Body: p.parseExpr()}
		}
	case LBrace:
		if p.startsFormals() {
			formals := p.parseFormals()
			l := &Lambda{Formals: formals}
			if p.peek().Kind == At {
				l.At = p.next()
				l.Arg = p.expect(Ident)
			}
			l.Colon = p.expect(Colon)
			l.Body = p.parseExpr()
			return l
		}
	case KwAssert:
		a := &Assert{Assert: p.next()}
		a.Cond = p.parseExpr()
		a.Semi = p.expect(Semi)
		a.Body = p.parseExpr()
		return a
	case KwWith:
		w := &With{With: p.next()}
		w.X = p.parseExpr()
		w.Semi = p.expect(Semi)
		w.Body = p.parseExpr()
		return w
	case KwLet:
		if p.peekAt(1).Kind != LBrace {
			l := &Let{Let: p.next()}
			l.Bindings = p.parseBindings(KwIn)
			l.In = p.expect(KwIn)
			l.Body = p.parseExpr()
			return l
		}
	case KwIf:
		n := &If{If: p.next()}
		n.Cond = p.parseExpr()
		n.Then = p.expect(KwThen)
		n.ThenX = p.parseExpr()
		n.Else = p.expect(KwElse)
		n.ElseX = p.parseExpr()
		return n
	}
	return p.parseOp(0)
}

// startsFormals decides, at a '{', between a lambda's formals and an
// attribute set, looking at the tokens that follow as Nix's GLR parser does.
func (p *parser) startsFormals() bool {
	a, b := p.peekAt(1), p.peekAt(2)
	switch a.Kind {
	case Ellipsis:
		return true
	case RBrace:
		return b.Kind == Colon || b.Kind == At
	case Ident:
		return b.Kind == Comma || b.Kind == Question || b.Kind == RBrace
	}
	return false
}

// formals: formal ',' formals | formal | ELLIPSIS | (empty)
func (p *parser) parseFormals() *Formals {
	f := &Formals{Open: p.expect(LBrace)}
	for {
		switch p.peek().Kind {
		case RBrace:
			f.Close = p.next()
			return f
		case Ellipsis:
			f.Ellipsis = p.next()
			f.Close = p.expect(RBrace)
			return f
		case Ident:
			fm := &Formal{Name: p.next()}
			if p.peek().Kind == Question {
				fm.Question = p.next()
				fm.Default = p.parseExpr()
			}
			f.Items = append(f.Items, fm)
			switch p.peek().Kind {
			case Comma:
				fm.Comma = p.next()
			case RBrace:
				f.Close = p.next()
				return f
			default:
				p.unexpected("',' or '}'")
			}
		default:
			p.unexpected("a formal argument, '...' or '}'")
		}
	}
}

// Operator precedence, lowest first, as declared in Nix's parser.y.
const (
	precImpl = 1 + iota
	precOr
	precAnd
	precEq
	precCmp
	precUpdate
	precNot
	precAdd
	precMul
	precConcat
	precHasAttr
	precNegate
)

type assoc uint8

const (
	assocLeft assoc = iota
	assocRight
	assocNone
)

func binaryPrec(k TokenKind) (int, assoc) {
	switch k {
	case Impl:
		return precImpl, assocRight
	case Or:
		return precOr, assocLeft
	case And:
		return precAnd, assocLeft
	case Eq, NotEq:
		return precEq, assocNone
	case Less, Greater, LessEq, GreaterEq:
		return precCmp, assocNone
	case Update:
		return precUpdate, assocRight
	case Plus, Minus:
		return precAdd, assocLeft
	case Star, Slash:
		return precMul, assocLeft
	case Concat:
		return precConcat, assocRight
	}
	return 0, assocLeft
}

// parseOp parses expr_op, taking only operators of precedence >= min.
func (p *parser) parseOp(min int) Expr {
	p.enter()
	defer p.leave()
	var left Expr
	switch p.peek().Kind {
	case Not:
		op := p.next()
		left = &Unary{Op: op, X: p.parseOp(precNot + 1)}
	case Minus:
		op := p.next()
		left = &Unary{Op: op, X: p.parseOp(precNegate + 1)}
	default:
		left = p.parseApp()
	}
	lastNonassoc := 0
	for {
		t := p.peek()
		if t.Kind == Question {
			if precHasAttr < min {
				return left
			}
			q := p.next()
			left = &HasAttr{X: left, Question: q, Path: p.parseAttrPath()}
			continue
		}
		prec, as := binaryPrec(t.Kind)
		if prec == 0 || prec < min {
			return left
		}
		if prec == lastNonassoc {
			p.unexpected("")
		}
		op := p.next()
		var right Expr
		if as == assocRight {
			right = p.parseOp(prec)
		} else {
			right = p.parseOp(prec + 1)
		}
		left = &Binary{X: left, Op: op, Y: right}
		lastNonassoc = 0
		if as == assocNone {
			lastNonassoc = prec
		}
	}
}

// startsSelect reports whether t can begin an expr_select, i.e. another
// argument of a function application or another list element.
func (p *parser) startsSelect() bool {
	switch p.peek().Kind {
	case Ident, Int, Float, DQuote, IndOpen, Path, HPath, SPath, URI, LParen, KwRec, LBrace, LBracket:
		return true
	case KwLet:
		return p.peekAt(1).Kind == LBrace
	}
	return false
}

// expr_app: expr_app expr_select | expr_select
func (p *parser) parseApp() Expr {
	fn := p.parseSelect()
	for p.startsSelect() {
		fn = &Apply{Fn: fn, Arg: p.parseSelect()}
	}
	return fn
}

// expr_select: expr_simple '.' attrpath [or expr_select] | expr_simple or | expr_simple
func (p *parser) parseSelect() Expr {
	p.enter()
	defer p.leave()
	x := p.parseSimple()
	switch p.peek().Kind {
	case Dot:
		s := &Select{X: x, Dot: p.next()}
		s.Path = p.parseAttrPath()
		if p.peek().Kind == KwOr {
			s.Or = p.next()
			s.Default = p.parseSelect()
		}
		return s
	case KwOr:
		// Nix keeps `f or` meaning f applied to a variable named "or".
		return &Apply{Fn: x, Arg: &Var{Name: p.next()}}
	}
	return x
}

func (p *parser) parseSimple() Expr {
	t := p.peek()
	switch t.Kind {
	case Ident:
		return &Var{Name: p.next()}
	case Int:
		v, _ := strconv.ParseInt(t.Text, 10, 64)
		return &IntLit{Tok: p.next(), Value: v}
	case Float:
		v, _ := strconv.ParseFloat(t.Text, 64)
		return &FloatLit{Tok: p.next(), Value: v}
	case DQuote:
		return p.parseString()
	case IndOpen:
		return p.parseIndString()
	case Path, HPath:
		return p.parsePath()
	case SPath:
		return &SearchPath{Tok: p.next()}
	case URI:
		return &URILit{Tok: p.next()}
	case LParen:
		n := &Paren{Open: p.next()}
		n.X = p.parseExpr()
		n.Close = p.expect(RParen)
		return n
	case KwLet:
		if p.peekAt(1).Kind == LBrace {
			n := &LegacyLet{Let: p.next(), Open: p.next()}
			n.Bindings = p.parseBindings(RBrace)
			n.Close = p.expect(RBrace)
			return n
		}
	case KwRec:
		n := &AttrSet{Rec: p.next(), Open: p.expect(LBrace)}
		n.Bindings = p.parseBindings(RBrace)
		n.Close = p.expect(RBrace)
		return n
	case LBrace:
		n := &AttrSet{Open: p.next()}
		n.Bindings = p.parseBindings(RBrace)
		n.Close = p.expect(RBrace)
		return n
	case LBracket:
		n := &List{Open: p.next()}
		for p.startsSelect() {
			n.Elems = append(n.Elems, p.parseSelect())
		}
		n.Close = p.expect(RBracket)
		return n
	}
	p.unexpected("an expression")
	return nil
}

// parseString parses "…": STR and ${…} parts.
func (p *parser) parseString() *String {
	s := &String{Open: p.next()}
	for {
		switch p.peek().Kind {
		case Str:
			s.Parts = append(s.Parts, &Fragment{Tok: p.next()})
		case DollarCurly:
			s.Parts = append(s.Parts, p.parseInterp())
		case DQuote:
			s.Close = p.next()
			return s
		default:
			p.unexpected(`'"'`)
		}
	}
}

func (p *parser) parseIndString() *String {
	s := &String{Open: p.next()}
	for {
		switch p.peek().Kind {
		case IndStr:
			s.Parts = append(s.Parts, &Fragment{Tok: p.next()})
		case DollarCurly:
			s.Parts = append(s.Parts, p.parseInterp())
		case IndClose:
			s.Close = p.next()
			return s
		default:
			p.unexpected("''")
		}
	}
}

func (p *parser) parseInterp() *Interp {
	n := &Interp{Open: p.expect(DollarCurly)}
	n.X = p.parseExpr()
	n.Close = p.expect(RBrace)
	return n
}

// parsePath parses path_start PATH_END or path_start
// string_parts_interpolated PATH_END. Nix's grammar allows at most one
// literal part between the first segment and the first interpolation.
func (p *parser) parsePath() *PathLit {
	n := &PathLit{Parts: []Node{&Fragment{Tok: p.next()}}}
	strBeforeInterp, interps := 0, 0
	for {
		switch p.peek().Kind {
		case Str:
			if interps == 0 {
				strBeforeInterp++
				if strBeforeInterp > 1 {
					p.unexpected("'${'")
				}
			}
			n.Parts = append(n.Parts, &Fragment{Tok: p.next()})
		case DollarCurly:
			interps++
			n.Parts = append(n.Parts, p.parseInterp())
		case PathEnd:
			if interps == 0 && strBeforeInterp > 0 {
				p.unexpected("'${'")
			}
			n.Stop = p.next()
			return n
		default:
			p.unexpected("end of path")
		}
	}
}

// parseBindings parses binds up to (not including) the token end.
func (p *parser) parseBindings(end TokenKind) []Binding {
	var bs []Binding
	for {
		switch p.peek().Kind {
		case end:
			return bs
		case KwInherit:
			bs = append(bs, p.parseInherit())
		case Ident, KwOr, DQuote, DollarCurly:
			a := &Attr{Path: p.parseAttrPath()}
			a.Assign = p.expect(Assign)
			a.Value = p.parseExpr()
			a.Semi = p.expect(Semi)
			bs = append(bs, a)
		default:
			if end == KwIn {
				p.unexpected("an attribute name, 'inherit' or 'in'")
			}
			p.unexpected("an attribute name, 'inherit' or '}'")
		}
	}
}

func (p *parser) parseInherit() *Inherit {
	n := &Inherit{Inherit: p.next()}
	if p.peek().Kind == LParen {
		from := &Paren{Open: p.next()}
		from.X = p.parseExpr()
		from.Close = p.expect(RParen)
		n.From = from
	}
	for {
		switch p.peek().Kind {
		case Ident, KwOr, DQuote, DollarCurly:
			n.Names = append(n.Names, p.parseAttrName())
		case Semi:
			n.Semi = p.next()
			return n
		default:
			p.unexpected("an attribute name or ';'")
		}
	}
}

func (p *parser) parseAttrPath() *AttrPath {
	ap := &AttrPath{Names: []*AttrName{p.parseAttrName()}}
	for p.peek().Kind == Dot {
		ap.Dots = append(ap.Dots, p.next())
		ap.Names = append(ap.Names, p.parseAttrName())
	}
	return ap
}

func (p *parser) parseAttrName() *AttrName {
	switch p.peek().Kind {
	case Ident, KwOr:
		return &AttrName{Ident: p.next()}
	case DQuote:
		return &AttrName{Str: p.parseString()}
	case DollarCurly:
		return &AttrName{Interp: p.parseInterp()}
	}
	p.unexpected("an attribute name")
	return nil
}
