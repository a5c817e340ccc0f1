package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// Read reads the fleet whose flake.nix is in root.
func Read(root string) (*Fleet, error) {
	if _, err := os.Stat(filepath.Join(root, "flake.nix")); err != nil {
		return nil, fmt.Errorf("%s is not a fleet: %w", root, err)
	}
	paths, err := nixFiles(root)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Root: root, Files: map[string]*File{}, ServiceFlakes: map[string]ServiceFlake{}}
	r := &reader{f: f, trees: map[string]nixlang.Expr{}, modules: map[string]*value{}, imports: map[string]*Import{}}
	r.parseAll(paths)
	r.ev = &evaluator{root: root, load: r.tree}

	f.Lock, f.LockErr = flakelock.Read(filepath.Join(root, "flake.lock"))
	if errors.Is(f.LockErr, os.ErrNotExist) {
		f.Lock, f.LockErr = nil, nil
	}
	for _, p := range paths {
		r.scanImports(p)
	}
	r.readFlake()
	r.readServices(paths)
	r.readSecrets()
	r.readSecretUses(paths)
	r.machineFiles()
	sort.SliceStable(f.Imports, func(i, j int) bool { return posLess(f.Imports[i].Pos, f.Imports[j].Pos) })
	return f, nil
}

// ParseFile parses one .nix file on its own (`nixherd check FILE.nix`) and
// returns what is wrong with it; shown is the name used in positions.
func ParseFile(path, shown string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	file, _ := parse(shown, src)
	return file, nil
}

type reader struct {
	f     *Fleet
	trees map[string]nixlang.Expr
	ev    *evaluator
	// modules caches each module file's top-level value: a file shared by
	// many machines is evaluated once.
	modules map[string]*value
	imports map[string]*Import
}

func (r *reader) tree(file string) nixlang.Expr { return r.trees[file] }

func (r *reader) note(p nixlang.Position, format string, args ...any) {
	r.f.Notes = append(r.f.Notes, Note{Pos: p, Message: fmt.Sprintf(format, args...)})
}

// parseAll parses every file in parallel: on a fleet of thousands of files
// parsing is most of the work of a check.
func (r *reader) parseAll(paths []string) {
	type result struct {
		file *File
		tree nixlang.Expr
	}
	results := make([]result, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				src, err := nixlang.ReadFile(filepath.Join(r.f.Root, filepath.FromSlash(paths[i])))
				if err != nil {
					results[i].file = &File{Path: paths[i], Problems: []Problem{{Pos: nixlang.Position{File: paths[i]}, Kind: "syntax", Message: err.Error()}}}
					continue
				}
				file, tree := parse(paths[i], src)
				results[i] = result{file, tree}
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, p := range paths {
		r.f.Files[p] = results[i].file
		if results[i].tree != nil {
			r.trees[p] = results[i].tree
		}
	}
}

// parse parses src with the checks nix-instantiate --parse does. A file
// that fails only those scope checks (an undefined variable, a duplicate
// attribute) still yields its tree, so the rest of the fleet model can use
// it; a file with a syntax error yields none.
func parse(name string, src []byte) (*File, nixlang.Expr) {
	file := &File{Path: name, Src: src}
	tree, err := nixlang.Parse(name, src)
	if err == nil {
		return file, tree.Root
	}
	tree, synErr := nixlang.ParseSyntax(name, src)
	if synErr != nil {
		file.Problems = problems(name, synErr, "syntax")
		return file, nil
	}
	file.Problems = problems(name, err, "")
	return file, tree.Root
}

// problems turns parser errors into Problems.
func problems(name string, err error, kind string) []Problem {
	var errs []error
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		errs = multi.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []Problem
	for _, e := range errs {
		var ne *nixlang.Error
		if errors.As(e, &ne) {
			k := kind
			if k == "" {
				k = scopeKind(ne.Msg)
			}
			out = append(out, Problem{Pos: nixlang.Position{File: name, Line: ne.Line, Col: ne.Col}, Kind: k, Message: ne.Msg})
		} else {
			out = append(out, Problem{Pos: nixlang.Position{File: name}, Kind: kind, Message: e.Error()})
		}
	}
	return out
}

// scopeKind names the scope check a message comes from.
func scopeKind(msg string) string {
	switch {
	case strings.Contains(msg, "undefined variable"):
		return "undefined-variable"
	case strings.Contains(msg, "already defined"):
		return "duplicate-attribute"
	}
	return "syntax"
}

func posLess(a, b nixlang.Position) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

// lastName is the last attribute name of a binding's path, when static.
func lastName(p *nixlang.AttrPath) string {
	if p == nil || len(p.Names) == 0 {
		return ""
	}
	an := p.Names[len(p.Names)-1]
	if an.Ident != nil {
		return an.Ident.Text
	}
	if an.Str != nil && len(an.Str.Parts) == 1 {
		if fr, ok := an.Str.Parts[0].(*nixlang.Fragment); ok {
			return fr.Tok.Text
		}
	}
	return ""
}

// headName is the name of the variable an expression selects from or
// applies, and the last attribute selected: `pkgs.callPackage` →
// ("pkgs", "callPackage"), `import` → ("import", "import").
func headName(x nixlang.Expr) (head, last string) {
	switch n := x.(type) {
	case *nixlang.Var:
		return n.Name.Text, n.Name.Text
	case *nixlang.Select:
		h, _ := headName(n.X)
		return h, lastName(n.Path)
	case *nixlang.Paren:
		return headName(n.X)
	}
	return "", ""
}

// scanImports records the file references of one file: the elements of
// every `imports` list, `import ./x` and `callPackage ./x`.
func (r *reader) scanImports(file string) {
	root := r.trees[file]
	if root == nil {
		return
	}
	nixlang.Walk(root, func(n nixlang.Node) bool {
		switch n := n.(type) {
		case *nixlang.Attr:
			if lastName(n.Path) == "imports" {
				for _, el := range listElems(n.Value) {
					if p, ok := unparen(el).(*nixlang.PathLit); ok {
						r.addImport(file, ModuleImport, p)
					}
				}
			}
		case *nixlang.Apply:
			_, last := headName(n.Fn)
			if last == "import" || last == "callPackage" || last == "callPackages" {
				if p, ok := unparen(n.Arg).(*nixlang.PathLit); ok {
					kind := PlainImport
					if last != "import" {
						kind = CallPackage
					}
					r.addImport(file, kind, p)
				}
			}
		}
		return true
	})
}

// listElems returns the elements of a list literal, also through
// parentheses, ++ and the conditional helpers lib.optional(s) and lib.mkIf.
func listElems(x nixlang.Expr) []nixlang.Expr {
	switch n := unparen(x).(type) {
	case *nixlang.List:
		var out []nixlang.Expr
		for _, el := range n.Elems {
			if a, ok := unparen(el).(*nixlang.Apply); ok {
				if _, last := headName(applyHead(a)); last == "mkIf" {
					out = append(out, listElems(a.Arg)...)
					continue
				}
			}
			out = append(out, el)
		}
		return out
	case *nixlang.Binary:
		if n.Op.Text == "++" {
			return append(listElems(n.X), listElems(n.Y)...)
		}
	case *nixlang.Apply:
		switch _, last := headName(applyHead(n)); last {
		case "optional":
			return []nixlang.Expr{n.Arg}
		case "optionals", "mkIf":
			return listElems(n.Arg)
		}
	}
	return nil
}

// applyHead is the function of a (curried) application: f in f a b.
func applyHead(a *nixlang.Apply) nixlang.Expr {
	fn := a.Fn
	for {
		inner, ok := unparen(fn).(*nixlang.Apply)
		if !ok {
			return fn
		}
		fn = inner.Fn
	}
}

func unparen(x nixlang.Expr) nixlang.Expr {
	for {
		p, ok := x.(*nixlang.Paren)
		if !ok {
			return x
		}
		x = p.X
	}
}

// addImport records a reference by a path literal; interpolated paths
// are skipped (they are resolved where their variables are known).
func (r *reader) addImport(file string, kind ImportKind, p *nixlang.PathLit) {
	if len(p.Parts) != 1 {
		return
	}
	written := nixlang.Text(p)
	r.addImportPath(file, kind, written, posOf(file, p))
}

func (r *reader) addImportPath(file string, kind ImportKind, written string, pos nixlang.Position) *Import {
	if strings.HasPrefix(written, "<") {
		return nil
	}
	to, exists, outside := resolve(r.f.Root, file, written)
	if outside {
		return nil
	}
	// A helper function in flake.nix names a module once for many machines.
	key := pos.String() + " " + to
	if im, seen := r.imports[key]; seen {
		return im
	}
	im := &Import{From: file, Kind: kind, Written: written, To: to, Exists: exists, Pos: pos}
	r.f.Imports = append(r.f.Imports, im)
	r.imports[key] = im
	return im
}
