package fleet

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// UnknownError is a part of a data file that cannot be known without
// evaluating it with Nix: a function call, an import from outside the
// fleet, a computed attribute name.
type UnknownError struct {
	Pos  nixlang.Position
	What string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%s: %s cannot be read without evaluating it", e.Pos, e.What)
}

// ReadData reads a fleet file that holds plain data (deploy.nix,
// secrets.nix) with nixherd's static evaluator, the one `check` reads the
// whole fleet with: let bindings, attribute sets, lists and ++, //,
// strings with known interpolations, builtins.attrValues and attrNames,
// functions defined in the fleet, and `import` of other files of the fleet
// (keys.nix). Nothing is run and nothing outside root is read. file is
// relative to root; positions in errors and values are too. A syntax error
// is a *nixlang.Error; something beyond what can be known statically is an
// *UnknownError at its position.
func ReadData(root, file string) (*nixlang.Value, error) {
	l := &dataLoader{root: root, trees: map[string]nixlang.Expr{}}
	tree, err := l.parse(file)
	if err != nil {
		return nil, err
	}
	ev := &evaluator{root: root, load: l.load}
	v := ev.top(tree, file)
	if l.err != nil {
		return nil, l.err
	}
	return toData(ev, v, 0)
}

// dataLoader parses the files a data file imports, on demand; the first
// one that fails to parse is the error of the whole read.
type dataLoader struct {
	root  string
	mu    sync.Mutex
	trees map[string]nixlang.Expr
	err   error
}

// parse reads and parses a file of the fleet. A file that is, or leads
// through a symlink, outside the root is not read: a data file must not
// make nixherd read (and print, in an error) the user's other files.
func (l *dataLoader) parse(file string) (nixlang.Expr, error) {
	abs := filepath.Join(l.root, filepath.FromSlash(file))
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(l.root)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, &outsideError{file: file}
	}
	src, err := nixlang.ReadFile(real)
	if err != nil {
		return nil, err
	}
	f, err := nixlang.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return f.Root, nil
}

// outsideError is a file that leads out of the fleet's folder.
type outsideError struct{ file string }

func (e *outsideError) Error() string {
	return e.file + ": a symbolic link out of the fleet's folder; nixherd reads only the fleet's own files"
}

// load is the evaluator's `import`: files of the fleet only.
func (l *dataLoader) load(file string) nixlang.Expr {
	if p := path.Clean(file); p == ".." || path.IsAbs(p) || len(p) > 2 && p[:3] == "../" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.trees[file]; ok {
		return t
	}
	t, err := l.parse(file)
	var perr *nixlang.Error
	var oerr *outsideError
	if (errors.As(err, &perr) || errors.As(err, &oerr)) && l.err == nil {
		l.err = err
	}
	l.trees[file] = t
	return t
}

// maxDataDepth bounds the nesting of data read statically.
const maxDataDepth = 100

// toData turns a statically known value into plain data, forcing what is
// left lazy.
func toData(ev *evaluator, v *value, depth int) (*nixlang.Value, error) {
	pos := v.pos()
	out := &nixlang.Value{Pos: pos}
	if depth > maxDataDepth {
		return nil, &UnknownError{Pos: pos, What: "data nested this deep"}
	}
	switch v.kind {
	case strVal:
		out.Kind, out.Str = nixlang.StringValue, v.s
	case pathVal:
		out.Kind, out.Str = nixlang.PathValue, v.s
	case intVal:
		out.Kind, out.Int = nixlang.IntValue, v.i
	case boolVal:
		out.Kind, out.Bool = nixlang.BoolValue, v.b
	case nullVal:
		out.Kind = nixlang.NullValue
	case listVal:
		out.Kind = nixlang.ListValue
		for _, el := range v.list {
			d, err := toData(ev, el, depth+1)
			if err != nil {
				return nil, err
			}
			out.List = append(out.List, d)
		}
	case attrsVal:
		if v.attrs.partial {
			return nil, &UnknownError{Pos: pos, What: "an attribute set with computed names"}
		}
		out.Kind = nixlang.AttrsValue
		for _, name := range v.attrs.names {
			d, err := toData(ev, ev.force(v.attrs.vals[name]), depth+1)
			if err != nil {
				return nil, err
			}
			out.Attrs = append(out.Attrs, &nixlang.AttrValue{Name: name, Pos: v.attrs.keys[name], Value: d})
		}
	case lambdaVal:
		return nil, &UnknownError{Pos: pos, What: "a function"}
	default:
		return nil, &UnknownError{Pos: pos, What: describe(v)}
	}
	return out, nil
}
