package services

import (
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// bindingsNamed are the bindings of set whose path starts with name
// (NAME = …; and NAME.url = …;).
func bindingsNamed(set *nixlang.AttrSet, name string) []nixlang.Node {
	var out []nixlang.Node
	for _, b := range set.Bindings {
		a, ok := b.(*nixlang.Attr)
		if !ok {
			continue
		}
		if n, ok := a.Path.Names[0].Name(); ok && n == name {
			out = append(out, a)
		}
	}
	return out
}

// Remove computes the edit that removes service name from the fleet in
// root: the reverse of Add. The flake input goes too unless flake.nix
// still uses it elsewhere.
func Remove(root, name string) (*Change, error) {
	ff, err := load(root)
	if err != nil {
		return nil, err
	}
	f := ff.fleet
	ch := &Change{Root: root, Service: Spec{Name: name, Index: -1}}
	found := false
	for _, s := range f.Services {
		if s.Name == name {
			found = true
			ch.Service = Spec{Name: name, Port: s.Port, Index: s.Index, Secrets: s.Secrets}
		}
	}
	sf, hasFlake := f.ServiceFlakes[name]
	calls := 0
	for _, c := range mkServiceCalls(ff.services) {
		if c.name == name {
			calls++
		}
	}
	if !found && !hasFlake && calls == 0 {
		var names []string
		for _, s := range f.Services {
			names = append(names, s.Name)
		}
		known := "the fleet has none"
		if len(names) > 0 {
			known = "services: " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("no service %s in %s (%s)", name, root, known)
	}

	// git-services.nix: the services entry and the mkService import.
	var cuts []nixlang.Node
	if set := servicesSet(ff.services); set != nil {
		cuts = append(cuts, bindingsNamed(set, name)...)
	}
	for _, c := range mkServiceCalls(ff.services) {
		if c.name == name {
			cuts = append(cuts, c.list.Elems[c.index])
		}
	}
	newServices, err := ff.services.Cut(cuts...)
	if err != nil {
		return nil, err
	}

	// flake.nix: the serviceFlakes entry, then the input and the outputs
	// argument when nothing else uses them.
	flake := ff.flake
	cuts = nil
	for _, set := range serviceFlakeSets(flake) {
		cuts = append(cuts, bindingsNamed(set, name)...)
	}
	if flake, err = flake.Cut(cuts...); err != nil {
		return nil, err
	}
	if hasFlake && sf.Input != "" {
		input := sf.Input
		if where := inputUse(flake, input); where != "" {
			ch.KeptInput = fmt.Sprintf("flake.nix still uses input %s (%s), so it stays", input, where)
		} else if flake, err = removeInput(flake, input); err != nil {
			return nil, err
		} else {
			ch.Input = input
		}
	}
	ch.Files = []FileChange{
		{Path: FlakeFile, Old: ff.flakeSrc, New: []byte(flake.Src)},
		{Path: ff.servicesPath, Old: ff.servicesSrc, New: []byte(newServices.Src)},
	}
	return ch, nil
}

// inputUse says where flake.nix's outputs uses input (as an argument
// variable or inputs.NAME), empty when nowhere.
func inputUse(file *nixlang.File, input string) string {
	top, err := topSet(file)
	if err != nil {
		return ""
	}
	l := outputsLambda(top)
	if l == nil {
		return ""
	}
	where := ""
	nixlang.Walk(l.Body, func(n nixlang.Node) bool {
		if where != "" {
			return false
		}
		switch n := n.(type) {
		case *nixlang.Var:
			if n.Name.Text == input {
				where = n.Pos().String()
			}
		case *nixlang.Select:
			if v, ok := n.X.(*nixlang.Var); ok && l.Arg != nil && v.Name.Text == l.Arg.Text {
				if first, ok := n.Path.Names[0].Name(); ok && first == input {
					where = n.Pos().String()
				}
			}
		}
		return true
	})
	return where
}

// removeInput removes an input's bindings (inputs.NAME.url = …; or its
// entry in inputs = { … };) and the outputs argument that receives it.
func removeInput(file *nixlang.File, input string) (*nixlang.File, error) {
	top, err := topSet(file)
	if err != nil {
		return nil, err
	}
	var cuts []nixlang.Node
	for _, b := range top.Bindings {
		a, ok := b.(*nixlang.Attr)
		if !ok {
			continue
		}
		names, ok := a.Path.Strings()
		if !ok || names[0] != "inputs" {
			continue
		}
		if len(names) == 1 {
			if set, ok := nixlang.Unparen(a.Value).(*nixlang.AttrSet); ok {
				cuts = append(cuts, bindingsNamed(set, input)...)
			}
		} else if names[1] == input {
			cuts = append(cuts, a)
		}
	}
	if file, err = file.Cut(cuts...); err != nil {
		return nil, err
	}
	if top, err = topSet(file); err != nil {
		return nil, err
	}
	if l := outputsLambda(top); l != nil && l.Formals != nil {
		for _, fm := range l.Formals.Items {
			if fm.Name.Text == input {
				return file.RemoveFormal(l.Formals, input)
			}
		}
	}
	return file, nil
}
