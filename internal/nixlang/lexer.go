package nixlang

import "strings"

// The lexer mirrors Nix's flex scanner (src/libexpr/lexer.l): the same
// start conditions (default, "…" strings, ''…'' strings, and the states
// inside an interpolated path), the same longest-match rule between
// patterns, and the same escapes. Every byte of the input ends up either in
// a token's Text or in the Leading trivia of the next token.

type lexState uint8

const (
	stDefault lexState = iota
	stString
	stIndString
	stInPath      // after a path segment that does not end in '/'
	stInPathSlash // after a path segment that ends in '/': only ${ or more path may follow
)

type lexer struct {
	src   string
	off   int
	pos   Pos
	stack []lexState // the start-condition stack; the current state is the top
	toks  tokenList

	// Positions up to which a pattern is known not to match, so that runs
	// like "a.a.a.a" or "-----" lex in linear time: every position inside
	// one run of path (or URI scheme) characters ends at the same place.
	noPathBefore   int
	noSchemeBefore int
	noCommentEnd   bool // no "*/" after the current position
}

// lex splits src into tokens; the last token is EOF and carries the trailing
// trivia. Lexical errors become Illegal tokens that the parser reports when
// it reaches them, as Nix does.
func lex(src string) *tokenList {
	lx := &lexer{src: src, pos: Pos{Line: 1, Col: 1}, stack: []lexState{stDefault}}
	lx.toks.first = make([]Token, 0, min(len(src)/6+2, tokenBlock))
	lx.run()
	return &lx.toks
}

func (lx *lexer) state() lexState { return lx.stack[len(lx.stack)-1] }
func (lx *lexer) push(s lexState) { lx.stack = append(lx.stack, s) }

// pop leaves the current start condition. Popping the last one is what
// flex reports as a stack underflow (an unbalanced '}'); we keep the default
// state and let the parser report the stray brace.
func (lx *lexer) pop() {
	if len(lx.stack) > 1 {
		lx.stack = lx.stack[:len(lx.stack)-1]
	}
}

func (lx *lexer) emit(kind TokenKind, leading string, n int) {
	start := advance(lx.pos, leading)
	text := lx.src[lx.off+len(leading) : lx.off+len(leading)+n]
	lx.toks.add(Token{Kind: kind, Leading: leading, Text: text, Pos: start})
	lx.off += len(leading) + n
	lx.pos = advance(start, text)
}

func (lx *lexer) emitErr(leading string, n int, msg string) {
	lx.emit(Illegal, leading, n)
	lx.toks.illegal = msg
}

func (lx *lexer) run() {
	for {
		if lx.toks.len() > 0 {
			if k := lx.toks.last().Kind; k == EOF || k == Illegal {
				if k == Illegal {
					// Keep the rest of the file as the EOF token's trivia so
					// the token stream still covers every byte.
					lx.toks.add(Token{Kind: EOF, Leading: lx.src[lx.off:], Pos: advance(lx.pos, lx.src[lx.off:])})
				}
				return
			}
		}
		switch lx.state() {
		case stDefault:
			lx.lexDefault()
		case stString:
			lx.lexString()
		case stIndString:
			lx.lexIndString()
		case stInPath, stInPathSlash:
			lx.lexInPath()
		}
	}
}

func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+'
}
func isIDStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIDChar(c byte) bool  { return isIDStart(c) || c >= '0' && c <= '9' || c == '\'' || c == '-' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isURIChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	switch c {
	case '%', '/', '?', ':', '@', '&', '=', '+', '$', ',', '-', '_', '.', '!', '~', '*', '\'':
		return true
	}
	return false
}

// The match* functions return the length of the longest match of one of
// lexer.l's patterns at the start of s, or 0.

func matchID(s string) int {
	if len(s) == 0 || !isIDStart(s[0]) {
		return 0
	}
	i := 1
	for i < len(s) && isIDChar(s[i]) {
		i++
	}
	return i
}

func matchInt(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// FLOAT: (([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?
func matchFloat(s string) int {
	i := 0
	switch {
	case len(s) > 0 && s[0] >= '1' && s[0] <= '9':
		i = 1
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '.' {
			return 0
		}
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		if i < len(s) && s[i] == '0' {
			i++
		}
		if i >= len(s) || s[i] != '.' {
			return 0
		}
		i++
		d := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == d {
			return 0
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		d := j
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j > d {
			i = j
		}
	}
	return i
}

func pathChars(s string, i int) int {
	for i < len(s) && isPathChar(s[i]) {
		i++
	}
	return i
}

// PATH: {PATH_CHAR}*(\/{PATH_CHAR}+)+\/?
func matchPath(s string) int {
	i := pathChars(s, 0)
	segs := 0
	for i < len(s) && s[i] == '/' {
		j := pathChars(s, i+1)
		if j == i+1 {
			break
		}
		i = j
		segs++
	}
	if segs == 0 {
		return 0
	}
	if i < len(s) && s[i] == '/' {
		i++
	}
	return i
}

// PATH_SEG: {PATH_CHAR}*\/
func matchPathSeg(s string) int {
	i := pathChars(s, 0)
	if i < len(s) && s[i] == '/' {
		return i + 1
	}
	return 0
}

// HPATH: \~(\/{PATH_CHAR}+)+\/?
func matchHPath(s string) int {
	if len(s) == 0 || s[0] != '~' {
		return 0
	}
	if len(s) < 2 || s[1] != '/' {
		return 0
	}
	n := matchPath(s[1:]) // "/seg…": no characters before the first slash
	if n == 0 {
		return 0
	}
	return n + 1
}

// SPATH: \<{PATH_CHAR}+(\/{PATH_CHAR}+)*\>
func matchSPath(s string) int {
	if len(s) == 0 || s[0] != '<' {
		return 0
	}
	i := pathChars(s, 1)
	if i == 1 {
		return 0
	}
	for i < len(s) && s[i] == '/' {
		j := pathChars(s, i+1)
		if j == i+1 {
			return 0
		}
		i = j
	}
	if i < len(s) && s[i] == '>' {
		return i + 1
	}
	return 0
}

// URI: [a-zA-Z][a-zA-Z0-9\+\-\.]*\:[a-zA-Z0-9\%\/\?\:\@\&\=\+\$\,\-\_\.\!\~\*\']+
func matchURI(s string) int {
	if len(s) == 0 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return 0
	}
	i := 1
	for i < len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '+' || c == '-' || c == '.' {
			i++
			continue
		}
		break
	}
	if i >= len(s) || s[i] != ':' {
		return 0
	}
	i++
	j := i
	for j < len(s) && isURIChar(s[j]) {
		j++
	}
	if j == i {
		return 0
	}
	return j
}

// skipTrivia returns the length of the whitespace and comments at the start
// of s. An unterminated /* is not a comment (Nix then sees '/' and '*').
func (lx *lexer) skipTrivia(s string) int {
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' && s[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if lx.noCommentEnd {
				return i
			}
			end := indexFrom(s, "*/", i+2)
			if end < 0 {
				lx.noCommentEnd = true
				return i
			}
			i = end + 2
		default:
			return i
		}
	}
	return i
}

func indexFrom(s, sub string, from int) int {
	if from > len(s) {
		return -1
	}
	if i := strings.Index(s[from:], sub); i >= 0 {
		return from + i
	}
	return -1
}

// twoCharOp returns the operator spelled ab, or EOF.
func twoCharOp(a, b byte) TokenKind {
	switch string([]byte{a, b}) {
	case "==":
		return Eq
	case "!=":
		return NotEq
	case "<=":
		return LessEq
	case ">=":
		return GreaterEq
	case "&&":
		return And
	case "||":
		return Or
	case "->":
		return Impl
	case "//":
		return Update
	case "++":
		return Concat
	}
	return EOF
}

// keywordKind returns the keyword spelled id, or Ident.
func keywordKind(id string) TokenKind {
	if len(id) < 2 || len(id) > 7 {
		return Ident
	}
	if k, ok := keywords[id]; ok {
		return k
	}
	return Ident
}

var oneCharOps = [256]TokenKind{
	'[': LBracket, ']': RBracket, '(': LParen, ')': RParen, ';': Semi, ':': Colon,
	'.': Dot, ',': Comma, '@': At, '=': Assign, '?': Question, '!': Not, '+': Plus,
	'-': Minus, '*': Star, '/': Slash, '<': Less, '>': Greater,
}

func (lx *lexer) lexDefault() {
	rest := lx.src[lx.off:]
	nt := lx.skipTrivia(rest)
	leading := rest[:nt]
	s := rest[nt:]
	if len(s) == 0 {
		lx.emit(EOF, leading, 0)
		return
	}
	if s[0] == 0 {
		// Flex returns a NUL byte as token 0, which the parser takes for the
		// end of the input: Nix ignores everything after it.
		lx.toks.add(Token{Kind: EOF, Leading: rest, Pos: advance(lx.pos, rest)})
		lx.off = len(lx.src)
		return
	}

	// Fast paths for the common tokens that no longer pattern can extend.
	switch c := s[0]; {
	case c == ';' || c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '@' || c == '?' || c == ':':
		lx.emit(oneCharOps[c], leading, 1)
		return
	case isIDStart(c):
		// A path or URI can only be longer than the identifier if the
		// character after it continues a path or a URI scheme.
		n := matchID(s)
		if n == len(s) || !(s[n] == '.' || s[n] == '+' || s[n] == '/' || s[n] == ':') {
			lx.emit(keywordKind(s[:n]), leading, n)
			return
		}
	case isDigit(c):
		n := matchInt(s)
		if n == len(s) || !(isPathChar(s[n]) || s[n] == '/') {
			if !fitsInt64(s[:n]) {
				lx.emitErr(leading, n, "invalid integer '"+s[:n]+"'")
				return
			}
			lx.emit(Int, leading, n)
			return
		}
	}

	// Longest match; on equal length the pattern listed first in lexer.l wins,
	// which is the order of the candidates below.
	best, kind := 0, Other
	try := func(n int, k TokenKind) {
		if n > best {
			best, kind = n, k
		}
	}
	if n := matchID(s); n > 0 {
		try(n, keywordKind(s[:n]))
	}
	if len(s) >= 3 && s[:3] == "..." {
		try(3, Ellipsis)
	}
	if len(s) >= 2 {
		if k := twoCharOp(s[0], s[1]); k != EOF {
			try(2, k)
		}
	}
	try(matchInt(s), Int)
	try(matchFloat(s), Float)
	if len(s) >= 2 && s[:2] == "${" {
		try(2, DollarCurly)
	}
	switch s[0] {
	case '{':
		try(1, LBrace)
	case '}':
		try(1, RBrace)
	case '"':
		try(1, DQuote)
	}
	if len(s) >= 2 && s[:2] == "''" {
		n := 2
		for n < len(s) && s[n] == ' ' {
			n++
		}
		if n < len(s) && s[n] == '\n' {
			try(n+1, IndOpen)
		} else {
			try(2, IndOpen)
		}
	}
	// {PATH_SEG}\$\{ and {HPATH_START}\$\{ start an interpolated path; the
	// match includes the "${" but only the segment becomes the token.
	abs := lx.off + nt
	pathPossible := abs >= lx.noPathBefore
	if pathPossible {
		if r := pathChars(s, 0); r < len(s) && s[r] != '/' || r == len(s) {
			lx.noPathBefore = abs + r
			pathPossible = false
		}
	}
	uriPossible := abs >= lx.noSchemeBefore
	if uriPossible {
		r := 0
		for r < len(s) && (isIDStart(s[r]) && s[r] != '_' || r > 0 && (isDigit(s[r]) || s[r] == '+' || s[r] == '-' || s[r] == '.')) {
			r++
		}
		if r == len(s) || s[r] != ':' {
			lx.noSchemeBefore = abs + r
			if r == 0 {
				lx.noSchemeBefore = abs + 1
			}
			uriPossible = false
		}
	}
	interpSeg := 0
	if !pathPossible {
		// neither PATH nor PATH_SEG can match here
	} else if n := matchPathSeg(s); n > 0 && len(s) >= n+2 && s[n:n+2] == "${" {
		try(n+2, Path)
		if best == n+2 {
			interpSeg = n
		}
	}
	if len(s) >= 4 && s[:4] == "~/${" {
		try(4, HPath)
		if best == 4 && kind == HPath {
			interpSeg = 2
		}
	}
	if !pathPossible {
	} else if n := matchPath(s); n > best {
		interpSeg = 0
		try(n, Path)
	}
	if n := matchHPath(s); n > best {
		interpSeg = 0
		try(n, HPath)
	}
	if n := matchSPath(s); n > best {
		interpSeg = 0
		try(n, SPath)
	}
	if !uriPossible {
	} else if n := matchURI(s); n > best {
		interpSeg = 0
		try(n, URI)
	}
	if best == 0 {
		best, kind = 1, oneCharOps[s[0]]
		if kind == EOF {
			kind = Other
		}
	}

	switch kind {
	case Path, HPath:
		n := best
		if interpSeg > 0 {
			n = interpSeg
		}
		lx.emit(kind, leading, n)
		if s[n-1] == '/' {
			lx.push(stInPathSlash)
		} else {
			lx.push(stInPath)
		}
		return
	case Int:
		if !fitsInt64(s[:best]) {
			lx.emitErr(leading, best, "invalid integer '"+s[:best]+"'")
			return
		}
	case Float:
		if !validFloat(s[:best]) {
			lx.emitErr(leading, best, "invalid float '"+s[:best]+"'")
			return
		}
	case DollarCurly, LBrace:
		lx.push(stDefault)
	case RBrace:
		lx.pop()
	case DQuote:
		lx.push(stString)
	case IndOpen:
		lx.push(stIndString)
	}
	lx.emit(kind, leading, best)
}

func (lx *lexer) lexString() {
	s := lx.src[lx.off:]
	if len(s) == 0 {
		lx.emit(EOF, "", 0)
		return
	}
	switch {
	case s[0] == '"':
		lx.pop()
		lx.emit(DQuote, "", 1)
		return
	case len(s) >= 2 && s[:2] == "${":
		lx.push(stDefault)
		lx.emit(DollarCurly, "", 2)
		return
	}
	// ([^\$\"\\]|\$[^\{\"\\]|\\{ANY}|\$\\{ANY})+, or the same followed by a
	// '$' that directly precedes the closing quote.
	j := 0
loop:
	for j < len(s) {
		switch s[j] {
		case '"':
			break loop
		case '\\':
			if j+1 >= len(s) {
				break loop
			}
			j += 2
		case '$':
			if j+1 >= len(s) {
				break loop
			}
			switch s[j+1] {
			case '{':
				break loop
			case '"':
				j++
				break loop
			case '\\':
				if j+2 >= len(s) {
					break loop
				}
				j += 3
			default:
				j += 2
			}
		default:
			j++
		}
	}
	if j == 0 {
		// A lone '$' or '\' right before the end of the file: Nix's lexer
		// returns end-of-file here and the parser reports it.
		lx.toks.add(Token{Kind: EOF, Leading: s, Pos: advance(lx.pos, s)})
		lx.off = len(lx.src)
		return
	}
	lx.emit(Str, "", j)
}

func (lx *lexer) lexIndString() {
	s := lx.src[lx.off:]
	if len(s) == 0 {
		lx.emit(EOF, "", 0)
		return
	}
	j := 0
	for j < len(s) {
		c := s[j]
		if c == '$' {
			if j+1 < len(s) && s[j+1] != '{' && s[j+1] != '\'' {
				j += 2
				continue
			}
			break
		}
		if c == '\'' {
			if j+1 < len(s) && s[j+1] != '\'' && s[j+1] != '$' {
				j += 2
				continue
			}
			break
		}
		j++
	}
	if j > 0 {
		lx.emit(IndStr, "", j)
		return
	}
	switch {
	case len(s) >= 3 && (s[:3] == "''$" || s[:3] == "'''"):
		lx.emit(IndStr, "", 3)
	case len(s) >= 4 && s[:3] == "''\\":
		lx.emit(IndStr, "", 4)
	case len(s) >= 2 && s[:2] == "${":
		lx.push(stDefault)
		lx.emit(DollarCurly, "", 2)
	case len(s) >= 2 && s[:2] == "''":
		lx.pop()
		lx.emit(IndClose, "", 2)
	default: // a lone '$' or '\''
		lx.emit(IndStr, "", 1)
	}
}

func (lx *lexer) lexInPath() {
	s := lx.src[lx.off:]
	slash := lx.state() == stInPathSlash
	if len(s) >= 2 && s[:2] == "${" {
		lx.pop()
		lx.push(stInPath)
		lx.push(stDefault)
		lx.emit(DollarCurly, "", 2)
		return
	}
	n := matchPath(s)
	if m := matchPathSeg(s); m > n {
		n = m
	}
	if m := pathChars(s, 0); m > n {
		n = m
	}
	if n > 0 {
		lx.pop()
		if s[n-1] == '/' {
			lx.push(stInPathSlash)
		} else {
			lx.push(stInPath)
		}
		lx.emit(Str, "", n)
		return
	}
	lx.pop()
	if slash {
		// Nix reports this at the character after the slash, or at the
		// end of the file at the path part that ends in the slash.
		at := lx.pos
		if len(s) == 0 {
			at = lx.toks.last().Pos
		}
		lx.emitErr("", 0, "path has a trailing slash")
		lx.toks.last().Pos = at
		return
	}
	lx.emit(PathEnd, "", 0)
}
