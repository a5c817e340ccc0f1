package nixlang

import (
	"strconv"
	"strings"
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
	lowered    nExpr   // Nix's expression tree, once built
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
	return parseSyntax(filename, src, NixCurrent)
}

func parseSyntax(filename string, src []byte, dialect Dialect) (*File, error) {
	if len(src) > MaxFileSize {
		return nil, tooLarge(filename, int64(len(src)))
	}
	text := string(src)
	p := &parser{file: filename, toks: lex(text)}
	f := &File{Name: filename, Src: text, syntaxOnly: true}
	err := p.guard(func() {
		f.Root = p.parseExpr()
		if p.peek().Kind != EOF {
			p.unexpected("end of file")
		}
		f.EOF = p.next()
	})
	if err != nil {
		if e := p.earlierError(dialect); e != nil {
			return nil, e
		}
		return nil, err
	}
	return f, nil
}

// earlierError finds what Nix reports instead of a syntax error: Nix
// checks a binding for duplicates as soon as its ';' is read, a lambda's
// formals and a let's names once their body is complete, so in a file with
// a syntax error such an error that comes before it is reported first.
func (p *parser) earlierError(dialect Dialect) *Error {
	limit := p.peek().Pos.Offset // the token the syntax error is at
	var best *Error
	bestAt := limit
	consider := func(at int, fn func(l *lowerer)) {
		if at >= bestAt {
			return
		}
		l := &lowerer{file: p.file, dialect: dialect}
		if err := p.guard(func() { fn(l) }); err != nil {
			best, bestAt = err.(*Error), at
		}
	}
	for _, set := range p.sets {
		attrs := newAttrs()
		for _, b := range set {
			failed := false
			consider(LastToken(b).Pos.Offset, func(l *lowerer) {
				defer func() {
					if r := recover(); r != nil {
						failed = true
						panic(r)
					}
				}()
				l.addBinding(attrs, b)
			})
			if failed {
				break
			}
		}
	}
	for _, c := range p.closed {
		consider(c.at, c.check)
	}
	return best
}

// closedCheck is a check Nix makes when it reduces a construct that ends
// at offset at.
type closedCheck struct {
	at    int
	check func(l *lowerer)
}

func (p *parser) closeExpr(e Expr) {
	p.closed = append(p.closed, closedCheck{LastToken(e).Pos.Offset, func(l *lowerer) { l.expr(e) }})
}

// maxDepth bounds our recursion on hostile input; the emulated bison stack
// limit (bisonMaxDepth) is normally reached first.
const maxDepth = 50000

// bisonMaxDepth is how many entries Nix 2.8's parser stack holds, measured
// with nix-instantiate (YYMAXDEPTH 10000 less bison's own).
const bisonMaxDepth = 9998

type parser struct {
	file  string
	toks  *tokenList
	i     int
	depth int
	lr    int // symbols on the emulated bison stack

	// What Nix would already have checked when a syntax error is found:
	// the completed bindings of each attribute set or let, and the
	// completed lambdas with formals and lets.
	sets   [][]Binding
	closed []closedCheck
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

func (p *parser) peek() *Token { return p.toks.at(p.i) }

func (p *parser) peekAt(n int) *Token {
	if p.i+n < p.toks.len() {
		return p.toks.at(p.i + n)
	}
	return p.toks.last()
}

func (p *parser) next() *Token {
	t := p.toks.at(p.i)
	if t.Kind == Illegal {
		p.fail(t.Pos, "%s", p.toks.illegal)
	}
	if p.i < p.toks.len()-1 {
		p.i++
	}
	p.grow(t.Pos)
	return t
}

// grow accounts for one more symbol on the stack of Nix's bison parser,
// which gives up ("memory exhausted") beyond 10000 entries. Every shifted
// token and every reduced nonterminal is one entry; reductions replace the
// entries of their rule (see reduced). Bison's GLR parser needs a few
// entries more where it splits on a '{' (formals or attribute set?), which
// is not modelled: for deeply nested sets and formals our limit is up to
// three levels more generous than Nix's.
func (p *parser) grow(at Pos) {
	p.lr++
	if p.lr+1 > bisonMaxDepth {
		p.fail(at, "expression nested too deeply (Nix's parser stack is exhausted)")
	}
}

// reduced sets the stack back to mark plus the one nonterminal a rule
// produced.
func (p *parser) reduced(mark int) { p.lr = mark + 1 }

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
		p.fail(t.Pos, "%s", p.toks.illegal)
	}
	pos := p.errPos(t)
	if expecting == "" {
		p.fail(pos, "syntax error: unexpected %s", describe(t))
	}
	p.fail(pos, "syntax error: unexpected %s, expecting %s", describe(t), expecting)
}

// errPos is where Nix reports an error at token t. At the end of the file
// that is where the last thing flex matched starts: the last blank run or
// comment, else the last token.
func (p *parser) errPos(t *Token) Pos {
	if t.Kind != EOF {
		return t.Pos
	}
	if t.Leading == "" {
		if prev := p.tokenBefore(t); prev != nil {
			if prev.Kind == PathEnd {
				return p.pathStart(prev)
			}
			return prev.Pos
		}
		return t.Pos
	}
	start := Pos{Line: 1, Col: 1}
	if prev := p.tokenBefore(t); prev != nil {
		start = prev.End()
	}
	s := t.Leading
	last := 0
	for i := 0; i < len(s); {
		last = i
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
				i++
			}
		case c == '#':
			for i < len(s) && s[i] != '\n' && s[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if end := strings.Index(s[i+2:], "*/"); end >= 0 {
				i += end + 4
			} else {
				i = len(s)
			}
		default:
			// A NUL (the end of input for Nix) or a dangling '$' or '\'.
			i = len(s)
		}
	}
	return advance(start, s[:last])
}

// pathStart returns the position of the path that the PathEnd token end
// closes: Nix reports path errors at the path's start.
func (p *parser) pathStart(end *Token) Pos {
	for i := p.toks.index(end) - 1; i >= 0; i-- {
		if k := p.toks.at(i).Kind; k == Path || k == HPath {
			return p.toks.at(i).Pos
		}
	}
	return end.Pos
}

func (p *parser) expect(k TokenKind) *Token {
	if p.peek().Kind != k {
		p.unexpected(k.String())
	}
	return p.next()
}

// expectClose expects the token that closes open; at the end of the file
// the error says which opener is left unclosed, which is where the mistake
// usually is.
func (p *parser) expectClose(k TokenKind, open *Token) *Token {
	if t := p.peek(); t.Kind != k {
		if t.Kind == EOF && open != nil {
			p.fail(p.errPos(t), "syntax error: unexpected end of file, expecting %s to close the %s at %s", k, describe(open), open.Pos)
		}
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

// chained accounts for one more link of a left-nested chain that the
// parser builds in a loop (f a b c, a + b + c, a ? x ? y): each link is one
// level deeper in the tree that everything after the parser walks
// recursively, so a chain counts against maxDepth like nesting does.
// Without this an 8 MB file of `x x x …` overflows Go's stack when lowered.
func (p *parser) chained(links *int) {
	if *links++; p.depth+*links > maxDepth {
		p.fail(p.peek().Pos, "expression nested too deeply (a chain of more than %d operations or function arguments)", maxDepth)
	}
}

// expr: expr_function
func (p *parser) parseExpr() Expr {
	p.enter()
	defer p.leave()
	mark := p.lr
	defer p.reduced(mark)
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
			l := &Lambda{Arg: arg, At: at, Formals: formals, Colon: colon, Body: p.parseExpr()}
			p.closeExpr(l)
			return l
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
			p.closeExpr(l)
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
			l.In = p.expectClose(KwIn, l.Let)
			l.Body = p.parseExpr()
			p.closeExpr(l)
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
	mark := p.lr
	defer func() { p.lr = mark + 3 }() // '{' formals '}' stay for the lambda rule
	f := &Formals{Open: p.expect(LBrace)}
	// formals is right-recursive: every "formal ," stays on the stack until
	// the closing brace.
	closeFormals := func() { p.lr = mark + 2 }
	for {
		switch p.peek().Kind {
		case RBrace:
			p.grow(p.peek().Pos) // the empty formals
			closeFormals()
			f.Close = p.next()
			return f
		case Ellipsis:
			f.Ellipsis = p.next()
			closeFormals()
			f.Close = p.expect(RBrace)
			return f
		case Ident:
			fmark := p.lr
			fm := &Formal{Name: p.next()}
			if p.peek().Kind == Question {
				fm.Question = p.next()
				fm.Default = p.parseExpr()
			}
			p.reduced(fmark)
			f.Items = append(f.Items, fm)
			switch p.peek().Kind {
			case Comma:
				fm.Comma = p.next()
			case RBrace:
				closeFormals()
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
	mark := p.lr
	defer p.reduced(mark)
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
	lastNonassoc, links := 0, 0
	for {
		t := p.peek()
		if t.Kind == Question {
			if precHasAttr < min {
				return left
			}
			p.chained(&links)
			q := p.next()
			left = &HasAttr{X: left, Question: q, Path: p.parseAttrPath()}
			p.reduced(mark)
			continue
		}
		prec, as := binaryPrec(t.Kind)
		if prec == 0 || prec < min {
			return left
		}
		if prec == lastNonassoc {
			p.unexpected("")
		}
		p.chained(&links)
		op := p.next()
		var right Expr
		if as == assocRight {
			right = p.parseOp(prec)
		} else {
			right = p.parseOp(prec + 1)
		}
		left = &Binary{X: left, Op: op, Y: right}
		p.reduced(mark)
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
		return true // only let { … } fits here; bison shifts the let and fails after it
	}
	return false
}

// expr_app: expr_app expr_select | expr_select
func (p *parser) parseApp() Expr {
	mark := p.lr
	defer p.reduced(mark)
	fn := p.parseSelect()
	links := 0
	for p.startsSelect() {
		p.chained(&links)
		fn = &Apply{Fn: fn, Arg: p.parseSelect()}
		p.reduced(mark)
	}
	return fn
}

// expr_select: expr_simple '.' attrpath [or expr_select] | expr_simple or | expr_simple
func (p *parser) parseSelect() Expr {
	p.enter()
	defer p.leave()
	mark := p.lr
	defer p.reduced(mark)
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
	mark := p.lr
	defer p.reduced(mark)
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
		n.Close = p.expectClose(RParen, n.Open)
		return n
	case KwLet:
		if p.peekAt(1).Kind != LBrace {
			p.next()
			p.unexpected("'{'")
		}
		if p.peekAt(1).Kind == LBrace {
			n := &LegacyLet{Let: p.next(), Open: p.next()}
			n.Bindings = p.parseBindings(RBrace)
			n.Close = p.expectClose(RBrace, n.Open)
			return n
		}
	case KwRec:
		n := &AttrSet{Rec: p.next(), Open: p.expect(LBrace)}
		n.Bindings = p.parseBindings(RBrace)
		n.Close = p.expectClose(RBrace, n.Open)
		return n
	case LBrace:
		n := &AttrSet{Open: p.next()}
		n.Bindings = p.parseBindings(RBrace)
		n.Close = p.expectClose(RBrace, n.Open)
		return n
	case LBracket:
		n := &List{Open: p.next()}
		p.grow(n.Open.Pos) // the empty expr_list
		listMark := p.lr
		for p.startsSelect() {
			n.Elems = append(n.Elems, p.parseSelect())
			p.lr = listMark // expr_list expr_select reduces to expr_list
		}
		n.Close = p.expectClose(RBracket, n.Open)
		return n
	}
	p.unexpected("an expression")
	return nil
}

// parseString parses "…": STR and ${…} parts.
func (p *parser) parseString() *String {
	mark := p.lr
	defer p.reduced(mark)
	s := &String{Open: p.next()}
	// string_parts_interpolated is left-recursive: after each part the stack
	// holds the quote and one nonterminal (the first literal stays until the
	// first interpolation is reduced).
	partsMark := p.lr
	interpolated := false
	for {
		switch p.peek().Kind {
		case Str:
			s.Parts = append(s.Parts, &Fragment{Tok: p.next()})
			if interpolated {
				p.reduced(partsMark)
			}
		case DollarCurly:
			s.Parts = append(s.Parts, p.parseInterpTokens())
			p.reduced(partsMark)
			interpolated = true
		case DQuote:
			s.Close = p.next()
			return s
		default:
			if t := p.peek(); t.Kind == EOF {
				p.fail(p.errPos(t), "syntax error: unexpected end of file in the string that starts at %s", s.Open.Pos)
			}
			p.unexpected(`'"'`)
		}
	}
}

func (p *parser) parseIndString() *String {
	mark := p.lr
	defer p.reduced(mark)
	s := &String{Open: p.next()}
	p.grow(s.Open.Pos) // the empty ind_string_parts
	partsMark := p.lr
	for {
		switch p.peek().Kind {
		case IndStr:
			s.Parts = append(s.Parts, &Fragment{Tok: p.next()})
			p.lr = partsMark
		case DollarCurly:
			s.Parts = append(s.Parts, p.parseInterpTokens())
			p.lr = partsMark
		case IndClose:
			s.Close = p.next()
			return s
		default:
			if t := p.peek(); t.Kind == EOF {
				p.fail(p.errPos(t), "syntax error: unexpected end of file in the '' string that starts at %s", s.Open.Pos)
			}
			p.unexpected("''")
		}
	}
}

// parseInterp parses ${ expr } as one nonterminal (string_attr).
func (p *parser) parseInterp() *Interp {
	mark := p.lr
	defer p.reduced(mark)
	return p.parseInterpTokens()
}

// parseInterpTokens parses ${ expr }, leaving its three symbols on the
// stack for the caller's rule to reduce.
func (p *parser) parseInterpTokens() *Interp {
	n := &Interp{Open: p.expect(DollarCurly)}
	n.X = p.parseExpr()
	n.Close = p.expectClose(RBrace, n.Open)
	return n
}

// parsePath parses path_start PATH_END or path_start
// string_parts_interpolated PATH_END. Nix's grammar allows at most one
// literal part between the first segment and the first interpolation.
func (p *parser) parsePath() *PathLit {
	mark := p.lr
	defer p.reduced(mark)
	n := &PathLit{Parts: []Node{&Fragment{Tok: p.next()}}}
	partsMark := p.lr // path_start
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
			if interps > 0 {
				p.lr = partsMark + 1
			}
		case DollarCurly:
			interps++
			n.Parts = append(n.Parts, p.parseInterpTokens())
			p.lr = partsMark + 1
		case PathEnd:
			if interps == 0 && strBeforeInterp > 0 {
				// Nix points at the path when it ends the file, else at the
				// literal part after the first segment.
				at := n.Parts[len(n.Parts)-1].Pos()
				if next := p.peekAt(1); next.Kind == EOF && next.Leading == "" {
					at = n.Parts[0].Pos()
				}
				p.fail(at, "syntax error: unexpected end of path, expecting '${'")
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
	p.grow(p.peek().Pos) // the empty binds
	bindsMark := p.lr
	var bs []Binding
	set := len(p.sets)
	p.sets = append(p.sets, nil)
	defer func() { p.sets[set] = bs }()
	for {
		p.lr = bindsMark // binds … ';' reduces to binds
		switch p.peek().Kind {
		case end, EOF:
			return bs // the caller reports a missing end
		case KwInherit:
			bs = append(bs, p.parseInherit())
		case Ident, KwOr, DQuote, DollarCurly:
			a := &Attr{Path: p.parseAttrPath()}
			a.Assign = p.expect(Assign)
			a.Value = p.parseExpr()
			if p.peek().Kind != Semi {
				p.missingSemi(a)
			}
			a.Semi = p.next()
			bs = append(bs, a)
		default:
			if end == KwIn {
				p.unexpected("an attribute name, 'inherit' or 'in'")
			}
			p.unexpected("an attribute name, 'inherit' or '}'")
		}
	}
}

// missingSemi reports a binding not followed by ';'. The usual cause is a
// forgotten ';' at the end of a line: the next binding's name was then read
// as an argument of this value, and the error shows up at its '='.
func (p *parser) missingSemi(a *Attr) {
	t := p.peek()
	if app, ok := a.Value.(*Apply); ok && (t.Kind == Assign || t.Kind == Dot) {
		arg := FirstToken(app.Arg)
		if prev := p.tokenBefore(arg); prev != nil && prev.End().Line < arg.Pos.Line {
			p.fail(t.Pos, "syntax error: unexpected %s, expecting ';' (is a ';' missing at the end of line %d?)", describe(t), prev.End().Line)
		}
	}
	if t.Kind == RBrace || t.Kind == KwIn || t.Kind == EOF {
		p.fail(p.errPos(t), "syntax error: unexpected %s, expecting ';' after the value of %s", describe(t), Text(a.Path))
	}
	p.unexpected("';'")
}

// tokenBefore returns the token preceding t in the stream.
func (p *parser) tokenBefore(t *Token) *Token {
	if i := p.toks.index(t); i > 0 {
		return p.toks.at(i - 1)
	}
	return nil
}

func (p *parser) parseInherit() *Inherit {
	n := &Inherit{Inherit: p.next()}
	if p.peek().Kind == LParen {
		from := &Paren{Open: p.next()}
		from.X = p.parseExpr()
		from.Close = p.expect(RParen)
		n.From = from
	}
	p.grow(p.peek().Pos) // the empty attrs
	attrsMark := p.lr
	for {
		p.lr = attrsMark
		switch p.peek().Kind {
		case Ident, KwOr, DQuote, DollarCurly:
			an := p.parseAttrName()
			n.Names = append(n.Names, an)
			// Nix rejects a dynamic name here as soon as it is read.
			p.closed = append(p.closed, closedCheck{LastToken(an).Pos.Offset, func(l *lowerer) {
				if l.attrName(an).expr != nil {
					l.fail(an.Pos(), "dynamic attributes not allowed in inherit")
				}
			}})
		case Semi:
			n.Semi = p.next()
			return n
		default:
			p.unexpected("an attribute name or ';'")
		}
	}
}

func (p *parser) parseAttrPath() *AttrPath {
	mark := p.lr
	defer p.reduced(mark)
	ap := &AttrPath{Names: []*AttrName{p.parseAttrName()}}
	for p.peek().Kind == Dot {
		ap.Dots = append(ap.Dots, p.next())
		ap.Names = append(ap.Names, p.parseAttrName())
		p.reduced(mark)
	}
	return ap
}

func (p *parser) parseAttrName() *AttrName {
	mark := p.lr
	defer p.reduced(mark)
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
