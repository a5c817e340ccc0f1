package services

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/nixlang"
)

// span is a byte range of a file's source to cut.
type span struct{ start, end int }

// cut removes spans from file and parses the result.
func cut(file *nixlang.File, spans []span) (*nixlang.File, error) {
	sort.Slice(spans, func(i, j int) bool { return spans[i].start > spans[j].start })
	src := file.Src
	last := len(src) + 1
	for _, s := range spans {
		if s.end > last {
			continue // inside a span already cut
		}
		src = src[:s.start] + src[s.end:]
		last = s.start
	}
	nf, err := nixlang.Parse(file.Name, []byte(src))
	if err != nil {
		return nil, fmt.Errorf("the edit would not parse: %w", err)
	}
	return nf, nil
}

// bindingSpans are the spans of the bindings of set whose path starts with
// name (NAME = …; and NAME.url = …;).
func bindingSpans(src string, set *nixlang.AttrSet, name string) []span {
	var out []span
	for _, b := range set.Bindings {
		a, ok := b.(*nixlang.Attr)
		if !ok {
			continue
		}
		if n, ok := a.Path.Names[0].Name(); ok && n == name {
			s, e := removeSpan(src, a.Pos().Offset, a.End().Offset)
			out = append(out, span{s, e})
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
	var spans []span
	src := ff.services.Src
	if set := servicesSet(ff.services); set != nil {
		spans = append(spans, bindingSpans(src, set, name)...)
	}
	for _, c := range mkServiceCalls(ff.services) {
		if c.name == name {
			el := c.list.Elems[c.index]
			s, e := removeSpan(src, el.Pos().Offset, el.End().Offset)
			spans = append(spans, span{s, e})
		}
	}
	newServices, err := cut(ff.services, spans)
	if err != nil {
		return nil, err
	}

	// flake.nix: the serviceFlakes entry, then the input and the outputs
	// argument when nothing else uses them.
	flake := ff.flake
	spans = nil
	for _, set := range serviceFlakeSets(flake) {
		spans = append(spans, bindingSpans(flake.Src, set, name)...)
	}
	if flake, err = cut(flake, spans); err != nil {
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

// removeInput removes the input's bindings from inputs and its argument
// from the outputs function's formals: the inverse of addFormal.
func removeInput(file *nixlang.File, input string) (*nixlang.File, error) {
	top, err := topSet(file)
	if err != nil {
		return nil, err
	}
	src := file.Src
	var spans []span
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
				spans = append(spans, bindingSpans(src, set, input)...)
			}
		} else if names[1] == input {
			s, e := removeSpan(src, a.Pos().Offset, a.End().Offset)
			spans = append(spans, span{s, e})
		}
	}
	if l := outputsLambda(top); l != nil && l.Formals != nil {
		items := l.Formals.Items
		for i, fm := range items {
			if fm.Name.Text != input {
				continue
			}
			start, end := fm.Pos().Offset, fm.End().Offset
			switch {
			case startsLine(src, start):
				s, e := removeSpan(src, start, end)
				spans = append(spans, span{s, e})
			case fm.Comma == nil && i > 0:
				// the last formal, written ", NAME"
				spans = append(spans, span{items[i-1].Name.End().Offset, end})
				if items[i-1].Default != nil {
					spans[len(spans)-1].start = items[i-1].Default.End().Offset
				}
			case i == 0:
				// the first formal inline: NAME and the blanks after its comma
				next := l.Formals.Close.Pos.Offset
				if len(items) > 1 {
					next = items[1].Pos().Offset
				} else if l.Formals.Ellipsis != nil {
					next = l.Formals.Ellipsis.Pos.Offset
				}
				spans = append(spans, span{start, next})
			default:
				s, e := removeSpan(src, start, end)
				spans = append(spans, span{s, e})
			}
		}
	}
	return cut(file, spans)
}
