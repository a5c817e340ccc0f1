package nixlang

import (
	"fmt"
	"strings"
)

// Cut removes items (bindings of sets and lets, list elements) in one edit,
// each exactly as the editor inserts one: its line when it has a line of its
// own (with a comment after it on that line), otherwise the item and the
// blanks before it. Unlike RemoveAttr and RemoveElem, a comment above an
// item stays: in a file people maintain it may describe more than this one
// entry.
func (f *File) Cut(items ...Node) (*File, error) {
	var splices []splice
	for _, it := range items {
		splices = append(splices, f.cutItem(it.Pos().Offset, it.End().Offset))
	}
	return f.apply(nonOverlapping(splices)...)
}

func (f *File) cutItem(start, end int) splice { return f.itemSpan(start, end, false) }

// nonOverlapping drops splices inside others (an item cut with the set that
// holds it).
func nonOverlapping(ss []splice) []splice {
	var out []splice
	for _, s := range ss {
		inside := false
		for _, o := range ss {
			if o != s && o.start <= s.start && s.end <= o.end && (o.start != s.start || o.end != s.end) {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, s)
		}
	}
	return out
}

// InsertAfter adds text after the item n (a binding, list element or
// formal): on a line of its own with n's indentation when n starts its
// line, otherwise after n on the same line.
func (f *File) InsertAfter(n Node, text string) (*File, error) {
	start, end := n.Pos().Offset, n.End().Offset
	if f.startsLine(start) {
		at := f.lineContentEnd(end)
		indent := f.lineIndent(start)
		return f.apply(splice{at, at, "\n" + indent + reindent(text, indent)})
	}
	return f.apply(splice{end, end, " " + reindent(text, f.lineIndent(end))})
}

// AddFormal adds name to a function's formals ({ a, b, ... }:), after the
// last one and written like it: on a line of its own with a trailing comma
// when the formals are one per line, inline otherwise.
func (f *File) AddFormal(fs *Formals, name string) (*File, error) {
	if len(fs.Items) == 0 {
		if fs.Ellipsis != nil {
			at := fs.Ellipsis.Pos.Offset
			return f.apply(splice{at, at, name + ", "})
		}
		at := fs.Close.Pos.Offset
		return f.apply(splice{at, at, name + " "})
	}
	last := fs.Items[len(fs.Items)-1]
	switch {
	case last.Comma == nil:
		at := last.End().Offset
		return f.apply(splice{at, at, ", " + name})
	case f.startsLine(last.Pos().Offset):
		at := f.lineContentEnd(last.Comma.End().Offset)
		return f.apply(splice{at, at, "\n" + f.lineIndent(last.Pos().Offset) + name + ","})
	}
	at := last.Comma.End().Offset
	return f.apply(splice{at, at, " " + name + ","})
}

// RemoveFormal removes the formal called name from fs, the reverse of
// AddFormal, keeping the commas of the others right.
func (f *File) RemoveFormal(fs *Formals, name string) (*File, error) {
	items := fs.Items
	for i, fm := range items {
		if fm.Name.Text != name {
			continue
		}
		start, end := fm.Pos().Offset, fm.End().Offset
		switch {
		case f.startsLine(start):
			return f.apply(f.cutItem(start, end))
		case fm.Comma == nil && i > 0:
			// the last formal, written ", NAME"
			from := items[i-1].Name.End().Offset
			if items[i-1].Default != nil {
				from = items[i-1].Default.End().Offset
			}
			return f.apply(splice{from, end, ""})
		case i == 0:
			// the first formal inline: NAME and the blanks after its comma
			next := fs.Close.Pos.Offset
			if len(items) > 1 {
				next = items[1].Pos().Offset
			} else if fs.Ellipsis != nil {
				next = fs.Ellipsis.Pos.Offset
			}
			return f.apply(splice{start, next, ""})
		}
		return f.apply(f.cutItem(start, end))
	}
	return nil, fmt.Errorf("the function has no argument %s", name)
}

// IndentUnitOf is one step of indentation inside the set, let or list that
// opens with open and whose first item is first (nil when empty), relative
// to the line of open: how an item added to it is indented further.
func (f *File) IndentUnitOf(open *Token, first Node) string {
	outer := f.lineIndent(open.Pos.Offset)
	if first != nil && f.startsLine(first.Pos().Offset) {
		inner := f.lineIndent(first.Pos().Offset)
		if strings.HasPrefix(inner, outer) && len(inner) > len(outer) {
			return inner[len(outer):]
		}
	}
	return "  "
}
