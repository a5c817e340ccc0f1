package nixlang

import "fmt"

// Error is a syntax or scope error at a position in a file. It prints as
// file:line:col: message, the form editors and compilers use.
type Error struct {
	File string
	Line int
	Col  int
	Pos  Pos
	Msg  string
}

func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = "<input>"
	}
	return fmt.Sprintf("%s:%d:%d: %s", file, e.Line, e.Col, e.Msg)
}

func newError(file string, p Pos, format string, args ...any) *Error {
	return &Error{File: file, Line: p.Line, Col: p.Col, Pos: p, Msg: fmt.Sprintf(format, args...)}
}
