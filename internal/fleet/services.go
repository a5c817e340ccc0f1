package fleet

import (
	"bytes"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// walkScoped walks a file like nixlang.Walk and gives fn the environment of
// the let bindings around each node (built only when asked for), so that a
// value such as `services` bound in a let can be read with its neighbours
// resolved.
func (r *reader) walkScoped(file string, fn func(n nixlang.Node, scope func() *env) bool) {
	root := r.trees[file]
	if root == nil {
		return
	}
	var walk func(n nixlang.Node, lets [][]nixlang.Binding)
	walk = func(n nixlang.Node, lets [][]nixlang.Binding) {
		nixlang.Walk(n, func(c nixlang.Node) bool {
			if l, ok := c.(*nixlang.Let); ok {
				inner := append(lets[:len(lets):len(lets)], l.Bindings)
				for _, b := range l.Bindings {
					walk(b, inner)
				}
				walk(l.Body, inner)
				return false
			}
			return fn(c, func() *env {
				e := &env{}
				for _, bs := range lets {
					e = r.ev.letEnv(bs, e, file)
				}
				return e
			})
		})
	}
	walk(root, nil)
}

// readServices finds the mkService pattern in every file: the attribute set
// `services = { NAME = { port = …; index = …; }; … };` and the
// `mkService "NAME" …` calls that import them.
func (r *reader) readServices(paths []string) {
	imported := map[string]bool{}
	for _, file := range paths {
		if r.trees[file] == nil || !containsService(r.f.Files[file].Src) {
			continue
		}
		r.walkScoped(file, func(n nixlang.Node, scope func() *env) bool {
			switch n := n.(type) {
			case *nixlang.Attr:
				if lastName(n.Path) == "services" && looksLikeServices(n.Value) {
					r.ev.steps, r.ev.depth = 0, 0
					r.addServices(r.ev.eval(n.Value, scope(), file))
					return false
				}
			case *nixlang.Apply:
				// mkService "NAME" cfg flake: the innermost application
				// carries the name.
				if head, _ := headName(n.Fn); head == "mkService" {
					if s, ok := unparen(n.Arg).(*nixlang.String); ok {
						if v := r.ev.eval(s, &env{}, file); v.kind == strVal {
							imported[v.s] = true
						}
					}
				}
			}
			return true
		})
	}
	for _, s := range r.f.Services {
		s.Imported = imported[s.Name]
	}
}

// containsService is a cheap filter: only files that mention services can
// hold the table or the calls.
func containsService(src []byte) bool { return bytes.Contains(src, []byte("ervice")) }

// looksLikeServices tells the mkService table from NixOS's own `services`
// option: every entry is an attribute set with a port or an index.
func looksLikeServices(x nixlang.Expr) bool {
	set, ok := unparen(x).(*nixlang.AttrSet)
	if !ok || len(set.Bindings) == 0 {
		return false
	}
	for _, b := range set.Bindings {
		a, ok := b.(*nixlang.Attr)
		if !ok || len(a.Path.Names) != 1 {
			return false
		}
		inner, ok := unparen(a.Value).(*nixlang.AttrSet)
		if !ok {
			return false
		}
		found := false
		for _, ib := range inner.Bindings {
			if ia, ok := ib.(*nixlang.Attr); ok {
				if n := lastName(ia.Path); n == "port" || n == "index" {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (r *reader) addServices(set *value) {
	if set.kind != attrsVal {
		return
	}
	for _, name := range set.attrs.names {
		v := r.ev.force(set.attrs.vals[name])
		s := &Service{Name: name, Pos: set.attrs.keys[name]}
		s.PortPos, s.IndexPos = s.Pos, s.Pos
		if v.kind != attrsVal {
			continue
		}
		get := func(k string) *value {
			if t, ok := v.attrs.vals[k]; ok {
				return r.ev.force(t)
			}
			return nil
		}
		if p := get("port"); p != nil {
			s.PortPos = p.pos()
			if p.kind == intVal {
				s.Port, s.HasPort = int(p.i), true
			}
		}
		if i := get("index"); i != nil {
			s.IndexPos = i.pos()
			if i.kind == intVal {
				s.Index, s.HasIndex = int(i.i), true
			}
		}
		if l := get("secrets"); l != nil {
			for _, el := range l.list {
				if el.kind == strVal {
					s.Secrets = append(s.Secrets, el.s)
				}
			}
		}
		if e := get("environment"); e != nil && e.kind == attrsVal {
			s.Environment = map[string]string{}
			for _, k := range e.attrs.names {
				if ev := r.ev.force(e.attrs.vals[k]); ev.kind == strVal || ev.kind == intVal {
					s.Environment[k] = scalarText(ev)
				}
			}
		}
		r.f.Services = append(r.f.Services, s)
	}
}
