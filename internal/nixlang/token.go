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
	Illegal           // a lexer error; Token.Text holds the offending bytes, Token.Err the message

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
	Err     string // for Illegal: what is wrong
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
