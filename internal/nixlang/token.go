package nixlang

import "fmt"

// Pos is a position in a source file. Line and Col are 1-based and count
// bytes, as Nix does (a CR, LF or CRLF ends a line); Offset is 0-based.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// TokenKind says what a token is. The kinds follow Nix's lexer.
type TokenKind uint8

const (
	EOF     TokenKind = iota
	Illegal           // a lexer error; Token.Text holds the offending bytes

	Ident  // x, or-less identifiers
	Int    // 42
	Float  // 1.5, .5, 1.e3
	Path   // ./a, /a, a/b, and the first segment ending in "/" of an interpolated path
	HPath  // ~/a
	SPath  // <nixpkgs>
	URI    // https://example.org
	Str    // literal text inside "…" or inside an interpolated path
	IndStr // literal text or an escape inside ''…''

	DQuote      // "
	IndOpen     // '' with the spaces and newline that directly follow it
	IndClose    // ''
	DollarCurly // ${
	PathEnd     // zero-width end of a path

	LBrace    // {
	RBrace    // }
	LBracket  // [
	RBracket  // ]
	LParen    // (
	RParen    // )
	Semi      // ;
	Colon     // :
	Dot       // .
	Comma     // ,
	At        // @
	Assign    // =
	Question  // ?
	Not       // !
	Plus      // +
	Minus     // -
	Star      // *
	Slash     // /
	Less      // <
	Greater   // >
	Eq        // ==
	NotEq     // !=
	LessEq    // <=
	GreaterEq // >=
	And       // &&
	Or        // ||
	Impl      // ->
	Update    // //
	Concat    // ++
	Ellipsis  // ...

	KwIf
	KwThen
	KwElse
	KwAssert
	KwWith
	KwLet
	KwIn
	KwRec
	KwInherit
	KwOr

	Other // any other single byte; always a syntax error
)

var kindNames = [...]string{
	EOF: "end of file", Illegal: "invalid token",
	Ident: "identifier", Int: "integer", Float: "float", Path: "path", HPath: "path",
	SPath: "<path>", URI: "URI", Str: "string text", IndStr: "string text",
	DQuote: `'"'`, IndOpen: "''", IndClose: "''", DollarCurly: "'${'", PathEnd: "end of path",
	LBrace: "'{'", RBrace: "'}'", LBracket: "'['", RBracket: "']'", LParen: "'('", RParen: "')'",
	Semi: "';'", Colon: "':'", Dot: "'.'", Comma: "','", At: "'@'", Assign: "'='", Question: "'?'",
	Not: "'!'", Plus: "'+'", Minus: "'-'", Star: "'*'", Slash: "'/'", Less: "'<'", Greater: "'>'",
	Eq: "'=='", NotEq: "'!='", LessEq: "'<='", GreaterEq: "'>='", And: "'&&'", Or: "'||'",
	Impl: "'->'", Update: "'//'", Concat: "'++'", Ellipsis: "'...'",
	KwIf: "'if'", KwThen: "'then'", KwElse: "'else'", KwAssert: "'assert'", KwWith: "'with'",
	KwLet: "'let'", KwIn: "'in'", KwRec: "'rec'", KwInherit: "'inherit'", KwOr: "'or'",
	Other: "character",
}

func (k TokenKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("TokenKind(%d)", k)
}

var keywords = map[string]TokenKind{
	"if": KwIf, "then": KwThen, "else": KwElse, "assert": KwAssert, "with": KwWith,
	"let": KwLet, "in": KwIn, "rec": KwRec, "inherit": KwInherit, "or": KwOr,
}

// Token is one lexical token with the whitespace and comments before it, so
// that concatenating Leading+Text of every token reproduces the file.
type Token struct {
	Kind    TokenKind
	Leading string // whitespace and comments between the previous token and this one
	Text    string // the token's bytes exactly as written
	Pos     Pos    // position of Text's first byte
}

// End is the position just after the token's text.
func (t *Token) End() Pos { return advance(t.Pos, t.Text) }

// advance moves p over s, counting lines the way Nix does.
func advance(p Pos, s string) Pos {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
				p.Offset++
			}
			fallthrough
		case '\n':
			p.Line++
			p.Col = 1
		default:
			p.Col++
		}
		p.Offset++
	}
	return p
}

// Position is a place in a named file, as error messages show it:
// file:line:col (Pos is a place within a file being parsed). Line and Col
// are 1-based; a position about a whole file has Line 0.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Position) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// IsValid reports whether the position names a file.
func (p Position) IsValid() bool { return p.File != "" }

// tokenBlock is how many tokens one allocation of a tokenList holds.
const tokenBlock = 4096

// tokenList holds a file's tokens in blocks that never move, so that the
// syntax tree can point into them and a large file grows its list without
// copying it (a slice doubling on append would hold up to three times the
// tokens during the copy).
type tokenList struct {
	first []Token   // a small file's tokens fit here, sized from the file
	rest  [][]Token // then blocks of tokenBlock
	n     int
	// illegal is what is wrong with the Illegal token: the lexer stops at
	// the first, so there is at most one.
	illegal string
}

func (l *tokenList) add(t Token) {
	switch {
	case len(l.rest) == 0 && len(l.first) < cap(l.first):
		l.first = append(l.first, t)
	case len(l.rest) == 0 || len(l.rest[len(l.rest)-1]) == tokenBlock:
		b := make([]Token, 1, tokenBlock)
		b[0] = t
		l.rest = append(l.rest, b)
	default:
		l.rest[len(l.rest)-1] = append(l.rest[len(l.rest)-1], t)
	}
	l.n++
}

func (l *tokenList) len() int { return l.n }

func (l *tokenList) at(i int) *Token {
	if i < len(l.first) {
		return &l.first[i]
	}
	i -= len(l.first)
	return &l.rest[i/tokenBlock][i%tokenBlock]
}

func (l *tokenList) last() *Token { return l.at(l.n - 1) }

// index returns the position of t in the list, or -1.
func (l *tokenList) index(t *Token) int {
	for i := l.n - 1; i >= 0; i-- {
		if l.at(i) == t {
			return i
		}
	}
	return -1
}
