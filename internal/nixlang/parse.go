package nixlang

import (
	"io"
	"os"
	"path/filepath"
)

// Dialect is the Nix version whose parse-time rules apply.
type Dialect uint8

const (
	// NixCurrent is current Nix (what users of 2.18 and later run): more
	// builtins, and a = { … }; a = { … }; merges recursively, dynamic
	// attributes included.
	NixCurrent Dialect = iota
	// Nix28 is Nix 2.8, the Nix of Debian 12: the second set's nested sets
	// clash instead of merging, and its dynamic attributes are dropped.
	Nix28
)

// Options change what Parse accepts.
type Options struct {
	// Dialect selects the Nix version to agree with (default NixCurrent).
	Dialect Dialect
	// Globals are the names in scope everywhere; nil means the dialect's
	// (GlobalsCurrent or GlobalsNix28).
	Globals []string
	// NoScopeCheck skips the undefined-variable check (duplicate attributes
	// are still rejected), for tools that look at fragments.
	NoScopeCheck bool
}

// Parse parses a Nix file and applies the checks nix-instantiate --parse
// does: syntax, duplicate attributes and formals, dynamic attributes in let
// and inherit, and undefined variables (a variable inside a with is never
// undefined). Errors are *Error.
func Parse(filename string, src []byte) (*File, error) {
	return ParseWith(filename, src, Options{})
}

// ParseWith is Parse with options.
func ParseWith(filename string, src []byte, opts Options) (*File, error) {
	f, err := parseSyntax(filename, src, opts.Dialect)
	if err != nil {
		return nil, err
	}
	f.opts = opts
	if err := f.check(opts); err != nil {
		return nil, err
	}
	f.opts, f.syntaxOnly = opts, false
	return f, nil
}

// ParseFile reads and parses a file.
func ParseFile(filename string) (*File, error) {
	src, err := ReadFile(filename)
	if err != nil {
		return nil, err
	}
	return Parse(filename, src)
}

// MaxFileSize is the largest Nix file nixherd reads. Parsing takes about
// 40 to 90 bytes of memory per byte of input (tokens that keep every byte,
// the syntax tree, Nix's expression tree for the checks), so this bounds a
// parse at well under a gigabyte; hand-written files are a few kilobytes
// and generated ones rarely reach a megabyte.
const MaxFileSize = 8 << 20

// tooLarge is the error for src that is over MaxFileSize.
func tooLarge(filename string, size int64) *Error {
	return newError(filename, Pos{Line: 1, Col: 1}, "the file is %.1f MiB, more than the %d MiB nixherd reads from one Nix file", float64(size)/(1<<20), MaxFileSize>>20)
}

// ReadFile reads a Nix file of at most MaxFileSize bytes; a larger one is
// an *Error naming the file and the limit, found without reading it all.
func ReadFile(filename string) ([]byte, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		size := int64(len(src))
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		return nil, tooLarge(filename, size)
	}
	return src, nil
}

// lower builds Nix's expression tree for the file (once: check and
// PrintNix share it; nothing changes it after lowering).
func (f *File) lower() (e nExpr, err error) {
	if f.lowered != nil {
		return f.lowered, nil
	}
	l := &lowerer{file: f.Name, dialect: f.opts.Dialect}
	p := &parser{file: f.Name}
	err = p.guard(func() { e = l.expr(f.Root) })
	if err == nil {
		f.lowered = e
	}
	return e, err
}

func (f *File) check(opts Options) error {
	e, err := f.lower()
	if err != nil {
		return err
	}
	if opts.NoScopeCheck {
		return nil
	}
	globals := opts.Globals
	if globals == nil {
		globals = GlobalsCurrent()
		if opts.Dialect == Nix28 {
			globals = GlobalsNix28()
		}
	}
	base := globalScope(globals)
	var first *undefinedVar
	bindVars(e, base, func(u undefinedVar) {
		if first == nil || u.pos.Offset < first.pos.Offset {
			first = &u
		}
	})
	if first != nil {
		return newError(f.Name, first.pos, "undefined variable '%s'", first.name)
	}
	return nil
}

// PrintNix prints the file the way `nix-instantiate --parse` (Nix 2.8)
// prints it: the desugared expression, relative paths made absolute against
// baseDir and ~ replaced by home. Attributes of sets are sorted by name as
// Nix sorts them; let bindings and formals are also sorted by name (Nix 2.8
// prints them in an order that depends on memory addresses).
func PrintNix(f *File, baseDir, home string) (string, error) {
	if baseDir == "" && f.Name != "" {
		abs, err := filepath.Abs(f.Name)
		if err == nil {
			baseDir = filepath.Dir(abs)
		}
	}
	e, err := f.lower()
	if err != nil {
		return "", err
	}
	return showExpr(e, baseDir, home), nil
}
