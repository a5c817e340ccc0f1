package secrets

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// nixherd reads secrets.nix itself first, with the fleet's static reader
// (fleet.ReadData). Anything beyond it is a *beyondStaticError at its
// position, and the file goes to nix, restricted to the fleet.

// beyondStaticError is a part of the rules the static reader does not follow.
type beyondStaticError struct{ *RulesError }

// withoutNix is the error to show when there is no nix to hand the file to.
func (e *beyondStaticError) withoutNix() *RulesError {
	re := *e.RulesError
	re.Msg += ": nix is not installed to evaluate it; install nix, or keep the rules to plain data (attribute sets, let bindings, ++, //, builtins.attrValues, imports of the fleet's files)"
	return &re
}

// staticRules reads the rules file with the fleet's static reader
// (fleet.ReadData, which check, deploy and machines use too): plain data,
// let bindings, ++, //, builtins.attrValues, imports of other files of the
// fleet (keys.nix). A part it cannot know is a *beyondStaticError.
func staticRules(abs, shown string) (map[string]json.RawMessage, error) {
	root := FleetRoot(filepath.Dir(abs))
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, err
	}
	v, err := fleet.ReadData(root, filepath.ToSlash(rel))
	var perr *nixlang.Error
	var unknown *fleet.UnknownError
	switch {
	case errors.As(err, &perr):
		file := shown
		if perr.File != filepath.ToSlash(rel) {
			file = perr.File // an imported file
		}
		return nil, &RulesError{File: file, Line: perr.Line, Col: perr.Col, Msg: perr.Msg}
	case errors.As(err, &unknown):
		file := shown
		if unknown.Pos.File != filepath.ToSlash(rel) {
			file = unknown.Pos.File
		}
		return nil, &beyondStaticError{&RulesError{File: file, Line: unknown.Pos.Line, Col: unknown.Pos.Col, Msg: unknown.What + " is beyond what nixherd reads on its own"}}
	case err != nil:
		return nil, &RulesError{File: shown, Msg: err.Error()}
	}
	if v.Kind != nixlang.AttrsValue {
		return nil, &RulesError{File: shown, Msg: "the rules must evaluate to an attribute set of secrets ({ \"name.age\".publicKeys = [ … ]; })"}
	}
	out := make(map[string]json.RawMessage, len(v.Attrs))
	for _, a := range v.Attrs {
		b, err := json.Marshal(a.Value.Interface())
		if err != nil {
			return nil, err
		}
		out[a.Name] = b
	}
	return out, nil
}

// keyNames maps each key string bound to a name in secrets.nix, or in a
// file of the fleet it reads with a path (`import ../keys.nix`), in a let or
// an attribute set (`alice = "ssh-ed25519 …";`), to that name, so list and
// the error messages can say "alice" instead of a key.
func keyNames(src []byte, dir string) map[string]string {
	names := map[string]string{}
	f, err := nixlang.ParseSyntax("secrets.nix", src)
	if err != nil {
		return names
	}
	scanKeyNames(f.Root, names)
	nixlang.Walk(f.Root, func(n nixlang.Node) bool {
		p, ok := n.(*nixlang.PathLit)
		if !ok || len(p.Parts) != 1 {
			return true
		}
		written := p.Parts[0].(*nixlang.Fragment).Tok.Text
		if filepath.IsAbs(written) || strings.HasPrefix(written, "~") {
			return true
		}
		file := filepath.Join(dir, written)
		if st, err := os.Stat(file); err == nil && st.IsDir() {
			file = filepath.Join(file, "default.nix")
		}
		if sub, err := nixlang.ReadFile(file); err == nil {
			if g, err := nixlang.ParseSyntax(file, sub); err == nil {
				scanKeyNames(g.Root, names)
			}
		}
		return true
	})
	return names
}

func scanKeyNames(root nixlang.Node, names map[string]string) {
	nixlang.Walk(root, func(n nixlang.Node) bool {
		a, ok := n.(*nixlang.Attr)
		if !ok || len(a.Path.Names) != 1 {
			return true
		}
		s, ok := a.Value.(*nixlang.String)
		if !ok {
			return true
		}
		name, ok1 := a.Path.Names[0].Name()
		key, ok2 := s.StaticString()
		if !ok1 || !ok2 {
			return true
		}
		k := strings.TrimSpace(key)
		if _, dup := names[k]; !dup && (strings.HasPrefix(k, "ssh-") || strings.HasPrefix(k, "age1")) {
			names[k] = name
		}
		return true
	})
}
