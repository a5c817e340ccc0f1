package nixlang

import (
	"fmt"
	"sort"
	"strings"
)

// Edits are text splices on the file's source: the bytes around an edit
// are never touched, so comments and formatting survive. Every edit returns
// a new *File parsed from the edited text (with the options of the original
// parse) and fails, leaving nothing changed, if that text does not parse.
// Adding an attribute or element and then removing it gives back the
// original bytes, except that an empty {} or [] comes back as { } or [ ].

type splice struct {
	start, end int
	text       string
}

func (f *File) apply(splices ...splice) (*File, error) {
	sort.Slice(splices, func(i, j int) bool { return splices[i].start > splices[j].start })
	src := f.Src
	for _, s := range splices {
		src = src[:s.start] + s.text + src[s.end:]
	}
	nf, err := f.reparse([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("edit would not parse: %w", err)
	}
	return nf, nil
}

func (f *File) reparse(src []byte) (*File, error) {
	if f.syntaxOnly {
		return ParseSyntax(f.Name, src)
	}
	return ParseWith(f.Name, src, f.opts)
}

// Splice replaces the bytes [start, end) of the source with text.
func (f *File) Splice(start, end int, text string) (*File, error) {
	if start < 0 || end > len(f.Src) || start > end {
		return nil, fmt.Errorf("splice %d..%d out of range", start, end)
	}
	return f.apply(splice{start, end, text})
}

// Replace replaces the text of node n with src. Lines of src after the
// first are indented like the line n starts on.
func (f *File) Replace(n Node, src string) (*File, error) {
	indent := f.lineIndent(n.Pos().Offset)
	return f.apply(splice{n.Pos().Offset, n.End().Offset, reindent(src, indent)})
}

// SetAttr binds path to the Nix expression valueSrc in set (an attribute
// set, let or legacy let of f). An existing binding of exactly that path has
// its value replaced; otherwise a binding is added after the last one of the
// innermost set literal the path leads into, e.g. setting services.web
// where services = { … }; exists adds `web = …;` inside that set.
func (f *File) SetAttr(set Node, path []string, valueSrc string) (*File, error) {
	if len(path) == 0 {
		return nil, fmt.Errorf("empty attribute path")
	}
	target, rest, existing, err := findSetTarget(set, path)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return f.Replace(existing.Value, valueSrc)
	}
	open, close, items, err := containerOf(target)
	if err != nil {
		return nil, err
	}
	text := formatAttrPath(rest) + " = " + strings.TrimSpace(valueSrc) + ";"
	return f.apply(f.insertItem(open, close, items, text))
}

// findSetTarget walks the bindings of set along path. It returns the
// container to add to and the rest of the path, or the binding that already
// binds exactly path.
func findSetTarget(set Node, path []string) (target Node, rest []string, existing *Attr, err error) {
	bs, ok := BindingsOf(set)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%T is not an attribute set or let", set)
	}
	if e, ok := set.(Expr); ok {
		set = Unparen(e)
	}
	for _, b := range bs {
		switch b := b.(type) {
		case *Attr:
			names, ok := b.Path.Strings()
			if !ok {
				continue
			}
			k := commonPrefix(names, path)
			if k == 0 {
				continue
			}
			switch {
			case k == len(names) && k == len(path):
				return set, path, b, nil
			case k == len(names):
				if inner, ok := Unparen(b.Value).(*AttrSet); ok {
					return findSetTarget(inner, path[k:])
				}
				return nil, nil, nil, fmt.Errorf("%s: %s is not an attribute set literal", b.Pos(), strings.Join(names, "."))
			case k == len(path):
				return nil, nil, nil, fmt.Errorf("%s: %s is already defined through %s", b.Pos(), strings.Join(path, "."), strings.Join(names, "."))
			}
		case *Inherit:
			for _, an := range b.Names {
				if n, ok := an.Name(); ok && n == path[0] {
					return nil, nil, nil, fmt.Errorf("%s: %s is inherited", an.Pos(), n)
				}
			}
		}
	}
	return set, path, nil, nil
}

func commonPrefix(a, b []string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// formatAttrPath writes names as an attribute path, quoting names that are
// not identifiers.
func formatAttrPath(path []string) string {
	parts := make([]string, len(path))
	for i, n := range path {
		parts[i] = FormatAttrName(n)
	}
	return strings.Join(parts, ".")
}

// FormatAttrName returns name as it must be written in an attribute path:
// bare when it is an identifier, quoted otherwise.
func FormatAttrName(name string) string {
	if n := matchID(name); n == len(name) && n > 0 {
		if _, kw := keywords[name]; !kw || name == "or" {
			return name
		}
	}
	var b strings.Builder
	writeQuoted(&b, name, false)
	return b.String()
}

// writeQuoted writes s as a Nix "…" literal. Source text only needs `$`
// escaped before `{`; nix-instantiate --parse escapes every `$`, and the
// printer that imitates it asks for that with allDollars.
func writeQuoted(b *strings.Builder, s string, allDollars bool) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '$':
			if allDollars || i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// QuoteString returns s as a Nix "…" string literal.
func QuoteString(s string) string {
	q := FormatAttrName(s)
	if q[0] != '"' {
		return `"` + s + `"`
	}
	return q
}

// RemoveAttr removes what binds path in set: the binding of exactly that
// path, every binding of a longer path under it (a.b.c = … when removing
// a.b), or the name from an inherit. A comment on the lines directly above
// a removed binding, and one after it on its line, go with it.
func (f *File) RemoveAttr(set Node, path []string) (*File, error) {
	var splices []splice
	if err := f.collectRemovals(set, path, &splices); err != nil {
		return nil, err
	}
	if len(splices) == 0 {
		return nil, fmt.Errorf("%s is not defined here", strings.Join(path, "."))
	}
	return f.apply(splices...)
}

func (f *File) collectRemovals(set Node, path []string, out *[]splice) error {
	bs, ok := BindingsOf(set)
	if !ok {
		return fmt.Errorf("%T is not an attribute set or let", set)
	}
	for _, b := range bs {
		switch b := b.(type) {
		case *Attr:
			names, ok := b.Path.Strings()
			if !ok {
				continue
			}
			k := commonPrefix(names, path)
			switch {
			case k == 0:
			case k == len(path):
				*out = append(*out, f.removeItem(b))
			case k == len(names):
				if inner, ok := Unparen(b.Value).(*AttrSet); ok {
					if err := f.collectRemovals(inner, path[k:], out); err != nil {
						return err
					}
				}
			}
		case *Inherit:
			if len(path) != 1 {
				continue
			}
			for i, an := range b.Names {
				if n, ok := an.Name(); !ok || n != path[0] {
					continue
				}
				if len(b.Names) == 1 {
					*out = append(*out, f.removeItem(b))
				} else {
					// Drop the name and the whitespace before it.
					start := an.Pos().Offset
					if i == 0 {
						start = b.Names[0].Pos().Offset
						end := b.Names[1].Pos().Offset
						*out = append(*out, splice{start, end, ""})
					} else {
						prevEnd := b.Names[i-1].End().Offset
						*out = append(*out, splice{prevEnd, an.End().Offset, ""})
					}
				}
			}
		}
	}
	return nil
}

// AppendElem adds the Nix expression elemSrc as the last element of list,
// on its own line like the other elements when the list is written one per
// line. An expression that is not a simple term (f x, a + b, x: y, …) is
// put in parentheses, as a list element must be.
func (f *File) AppendElem(list *List, elemSrc string) (*File, error) {
	elemSrc = strings.TrimSpace(elemSrc)
	if needsParens(elemSrc) {
		elemSrc = "(" + elemSrc + ")"
	}
	items := make([]Node, len(list.Elems))
	for i, e := range list.Elems {
		items[i] = e
	}
	return f.apply(f.insertItem(list.Open, list.Close, items, elemSrc))
}

// RemoveElem removes the i'th element of list, with its line when it has
// one of its own.
func (f *File) RemoveElem(list *List, i int) (*File, error) {
	if i < 0 || i >= len(list.Elems) {
		return nil, fmt.Errorf("list has no element %d", i)
	}
	return f.apply(f.removeItem(list.Elems[i]))
}

// needsParens reports whether src must be parenthesized to be one list
// element.
func needsParens(src string) bool {
	pf, err := ParseSyntax("", []byte(src))
	if err != nil {
		return false // let the reparse report it
	}
	switch pf.Root.(type) {
	case *Apply, *Binary, *Unary, *Lambda, *Let, *If, *With, *Assert, *HasAttr:
		return true
	}
	return false
}

func containerOf(n Node) (open, close *Token, items []Node, err error) {
	switch n := n.(type) {
	case *AttrSet:
		return n.Open, n.Close, bindingNodes(n.Bindings), nil
	case *LegacyLet:
		return n.Open, n.Close, bindingNodes(n.Bindings), nil
	case *Let:
		return n.Let, n.In, bindingNodes(n.Bindings), nil
	case *List:
		items := make([]Node, len(n.Elems))
		for i, e := range n.Elems {
			items[i] = e
		}
		return n.Open, n.Close, items, nil
	}
	return nil, nil, nil, fmt.Errorf("cannot add to %T", n)
}

func bindingNodes(bs []Binding) []Node {
	out := make([]Node, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

// insertItem computes the splice that adds text after the last item of a
// container delimited by open and close.
func (f *File) insertItem(open, close *Token, items []Node, text string) splice {
	if len(items) > 0 {
		last := items[len(items)-1]
		if f.startsLine(last.Pos().Offset) {
			at := f.lineContentEnd(last.End().Offset)
			indent := f.lineIndent(last.Pos().Offset)
			return splice{at, at, "\n" + indent + reindent(text, indent)}
		}
		at := last.End().Offset
		return splice{at, at, " " + reindent(text, f.lineIndent(at))}
	}
	at := open.End().Offset
	if open.Pos.Line == close.Pos.Line {
		pad := ""
		if close.Leading == "" {
			pad = " "
		}
		return splice{at, at, " " + reindent(text, f.lineIndent(at)) + pad}
	}
	at = f.lineContentEnd(at)
	indent := f.lineIndent(close.Pos.Offset)
	if close.Kind == KwIn {
		indent = f.lineIndent(open.Pos.Offset)
	}
	indent += indentUnit(f.Src)
	return splice{at, at, "\n" + indent + reindent(text, indent)}
}

// removeItem computes the splice that removes item: on a line of its own,
// the line (and comment lines directly above it) goes; otherwise the item
// and the blanks before it.
func (f *File) removeItem(item Node) splice {
	return f.itemSpan(item.Pos().Offset, item.End().Offset, true)
}

// itemSpan is the splice that removes the item spanning [start, end): its
// line when it has one of its own (with a comment after it on that line,
// and with commentsAbove the comment lines directly above it), otherwise
// the item and the blanks before it.
func (f *File) itemSpan(start, end int, commentsAbove bool) splice {
	if !f.startsLine(start) {
		for start > 0 && (f.Src[start-1] == ' ' || f.Src[start-1] == '\t') {
			start--
		}
		return splice{start, end, ""}
	}
	end = f.lineContentEnd(end)
	ls := f.lineStart(start)
	for commentsAbove && ls > 0 {
		prev := f.lineStart(ls - 1)
		if !strings.HasPrefix(strings.TrimSpace(f.Src[prev:ls]), "#") {
			break
		}
		ls = prev
	}
	start = ls
	if start > 0 {
		start-- // the newline that ends the previous line
		if start > 0 && f.Src[start] == '\n' && f.Src[start-1] == '\r' {
			start--
		}
	}
	return splice{start, end, ""}
}

// lineStart returns the offset of the first byte of the line containing off.
func (f *File) lineStart(off int) int {
	for off > 0 && f.Src[off-1] != '\n' && f.Src[off-1] != '\r' {
		off--
	}
	return off
}

// startsLine reports whether only blanks precede off on its line.
func (f *File) startsLine(off int) bool {
	ls := f.lineStart(off)
	return strings.Trim(f.Src[ls:off], " \t") == ""
}

// lineIndent returns the blanks at the start of the line containing off.
func (f *File) lineIndent(off int) string {
	ls := f.lineStart(off)
	i := ls
	for i < len(f.Src) && (f.Src[i] == ' ' || f.Src[i] == '\t') {
		i++
	}
	return f.Src[ls:i]
}

// lineContentEnd moves off past blanks and a # comment on the same line.
func (f *File) lineContentEnd(off int) int {
	i := off
	for i < len(f.Src) && (f.Src[i] == ' ' || f.Src[i] == '\t') {
		i++
	}
	if i < len(f.Src) && f.Src[i] == '#' {
		for i < len(f.Src) && f.Src[i] != '\n' && f.Src[i] != '\r' {
			i++
		}
		return i
	}
	if i < len(f.Src) && (f.Src[i] == '\n' || f.Src[i] == '\r') {
		return i
	}
	return off
}

// reindent indents every line of s after the first with indent.
func reindent(s, indent string) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			lines[i] = indent + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// indentUnit guesses the file's indentation step from its first indented
// line (two spaces when there is none).
func indentUnit(src string) string {
	for _, line := range strings.Split(src, "\n") {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			i := 0
			for i < len(line) && line[i] == line[0] {
				i++
			}
			if i < len(line) {
				return line[:i]
			}
		}
	}
	return "  "
}
