package services

import (
	"fmt"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// The four places are found in the syntax tree each time an edit needs
// them, because every edit returns a freshly parsed file.

// lastName is the last static name of an attribute path ("serviceFlakes"
// for _module.args.serviceFlakes).
func lastName(p *nixlang.AttrPath) string {
	names, ok := p.Strings()
	if !ok || len(names) == 0 {
		return ""
	}
	return names[len(names)-1]
}

// topSet is the attribute set flake.nix evaluates to.
func topSet(f *nixlang.File) (*nixlang.AttrSet, error) {
	set, ok := nixlang.Body(f.Root).(*nixlang.AttrSet)
	if !ok {
		return nil, fmt.Errorf("%s: flake.nix is not an attribute set", f.Root.Pos())
	}
	return set, nil
}

// outputsLambda is the function bound to outputs in flake.nix, nil when it
// is not written as a function literal.
func outputsLambda(top *nixlang.AttrSet) *nixlang.Lambda {
	a := nixlang.Lookup(top, "outputs")
	if a == nil || a.Value == nil {
		return nil
	}
	l, _ := nixlang.Unparen(a.Value).(*nixlang.Lambda)
	return l
}

// serviceFlakeSets are the `serviceFlakes = { … };` set literals of
// flake.nix (normally one, in the NixOS machines' _module.args).
func serviceFlakeSets(f *nixlang.File) []*nixlang.AttrSet {
	var out []*nixlang.AttrSet
	nixlang.Walk(f.Root, func(n nixlang.Node) bool {
		if a, ok := n.(*nixlang.Attr); ok && lastName(a.Path) == "serviceFlakes" {
			if set, ok := nixlang.Unparen(a.Value).(*nixlang.AttrSet); ok {
				out = append(out, set)
				return false
			}
		}
		return true
	})
	return out
}

// servicesSet is the mkService table `services = { NAME = { port = …;
// index = …; }; … };` of the services file: the first set bound to
// `services` whose entries are all sets with a port or an index (an empty
// set counts, so that the first service can be added).
func servicesSet(f *nixlang.File) *nixlang.AttrSet {
	var found *nixlang.AttrSet
	nixlang.Walk(f.Root, func(n nixlang.Node) bool {
		if found != nil {
			return false
		}
		a, ok := n.(*nixlang.Attr)
		if !ok || lastName(a.Path) != "services" {
			return true
		}
		set, ok := nixlang.Unparen(a.Value).(*nixlang.AttrSet)
		if ok && isServiceTable(set) {
			found = set
			return false
		}
		return true
	})
	return found
}

func isServiceTable(set *nixlang.AttrSet) bool {
	for _, b := range set.Bindings {
		a, ok := b.(*nixlang.Attr)
		if !ok {
			return false
		}
		entry, ok := nixlang.Unparen(a.Value).(*nixlang.AttrSet)
		if !ok || (nixlang.Lookup(entry, "port") == nil && nixlang.Lookup(entry, "index") == nil) {
			return false
		}
	}
	return true
}

// mkServiceCall is an `mkService "NAME" CONFIG FLAKE` element of an imports
// list.
type mkServiceCall struct {
	list  *nixlang.List
	index int // in list.Elems
	name  string
	// config and flake are the variables the arguments select from
	// (services.NAME, serviceFlakes.NAME), empty when written otherwise.
	config, flake string
}

// mkServiceCalls finds every mkService call that is an element of a list.
func mkServiceCalls(f *nixlang.File) []mkServiceCall {
	var out []mkServiceCall
	nixlang.Walk(f.Root, func(n nixlang.Node) bool {
		l, ok := n.(*nixlang.List)
		if !ok {
			return true
		}
		for i, el := range l.Elems {
			if c, ok := asMkService(el); ok {
				c.list, c.index = l, i
				out = append(out, c)
			}
		}
		return true
	})
	return out
}

// asMkService recognises mkService "NAME" a.NAME b.NAME (in parentheses).
func asMkService(e nixlang.Expr) (mkServiceCall, bool) {
	var args []nixlang.Expr
	x := nixlang.Unparen(e)
	for {
		ap, ok := x.(*nixlang.Apply)
		if !ok {
			break
		}
		args = append([]nixlang.Expr{ap.Arg}, args...)
		x = ap.Fn
	}
	if v, ok := x.(*nixlang.Var); !ok || v.Name.Text != "mkService" || len(args) == 0 {
		return mkServiceCall{}, false
	}
	s, ok := nixlang.Unparen(args[0]).(*nixlang.String)
	if !ok {
		return mkServiceCall{}, false
	}
	name, ok := s.StaticString()
	if !ok {
		return mkServiceCall{}, false
	}
	c := mkServiceCall{name: name}
	if len(args) == 3 {
		c.config = selectHead(args[1])
		c.flake = selectHead(args[2])
	}
	return c, true
}

// selectHead is v for v.NAME, empty for anything else.
func selectHead(e nixlang.Expr) string {
	sel, ok := nixlang.Unparen(e).(*nixlang.Select)
	if !ok || sel.Default != nil {
		return ""
	}
	if v, ok := sel.X.(*nixlang.Var); ok {
		return v.Name.Text
	}
	return ""
}

// importsList is the list the mkService calls live in: the one holding
// the existing calls, else the `imports` list of the file's module.
func importsList(f *nixlang.File) *nixlang.List {
	if calls := mkServiceCalls(f); len(calls) > 0 {
		return calls[len(calls)-1].list
	}
	if a := nixlang.Lookup(nixlang.Body(f.Root), "imports"); a != nil && a.Value != nil {
		if l, ok := nixlang.Unparen(a.Value).(*nixlang.List); ok {
			return l
		}
	}
	return nil
}
