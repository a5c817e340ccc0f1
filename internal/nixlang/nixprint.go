package nixlang

import (
	"sort"
	"strconv"
	"strings"
)

// showExpr prints a lowered expression in the format of Nix 2.8's
// Expr::show (nix-instantiate --parse).
func showExpr(e nExpr, baseDir, home string) string {
	var b strings.Builder
	pr := &printer{baseDir: baseDir, home: home}
	pr.show(&b, e)
	return b.String()
}

// printer knows what relative and ~ paths resolve to.
type printer struct{ baseDir, home string }

func showString(b *strings.Builder, s string) { writeQuoted(b, s, true) }

// showIdentifier prints an attribute name bare when it reads as an
// identifier, quoted otherwise (Nix 2.8's printIdentifier, which quotes
// only the keyword "if").
func showIdentifier(b *strings.Builder, s string) {
	if s == "" || s == "if" || !isIDStart(s[0]) {
		showString(b, s)
		return
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			showString(b, s)
			return
		}
	}
	b.WriteString(s)
}

func (pr *printer) showAttrPath(b *strings.Builder, path []nAttrName) {
	for i, a := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		if a.expr == nil {
			showIdentifier(b, a.name)
		} else {
			b.WriteString(`"${`)
			pr.show(b, a.expr)
			b.WriteString(`}"`)
		}
	}
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', 6, 64)
}

func (pr *printer) show(b *strings.Builder, e nExpr) {
	switch n := e.(type) {
	case *nVar:
		b.WriteString(n.name)
	case *nInt:
		b.WriteString(strconv.FormatInt(n.v, 10))
	case *nFloat:
		b.WriteString(formatFloat(n.v))
	case *nString:
		showString(b, n.s)
	case *nPath:
		if n.home {
			b.WriteString(pr.home + n.raw[1:])
			break
		}
		b.WriteString(canonPath(n.raw, pr.baseDir))
		if strings.HasSuffix(n.raw, "/") && len(n.raw) > 1 {
			b.WriteByte('/') // Nix keeps the slash of a first segment
		}
	case *nPos:
		b.WriteString("__curPos")
	case *nSelect:
		b.WriteByte('(')
		pr.show(b, n.e)
		b.WriteString(").")
		pr.showAttrPath(b, n.path)
		if n.def != nil {
			b.WriteString(" or (")
			pr.show(b, n.def)
			b.WriteByte(')')
		}
	case *nHasAttr:
		b.WriteString("((")
		pr.show(b, n.e)
		b.WriteString(") ? ")
		pr.showAttrPath(b, n.path)
		b.WriteByte(')')
	case *nAttrs:
		if n.rec {
			b.WriteString("rec ")
		}
		b.WriteString("{ ")
		for _, name := range sortedNames(n.attrs) {
			d := n.attrs[name]
			if d.inherited {
				b.WriteString("inherit ")
				showIdentifier(b, name)
				b.WriteString(" ; ")
				continue
			}
			showIdentifier(b, name)
			b.WriteString(" = ")
			pr.show(b, d.e)
			b.WriteString("; ")
		}
		for _, d := range n.dyn {
			b.WriteString(`"${`)
			pr.show(b, d.name)
			b.WriteString(`}" = `)
			pr.show(b, d.value)
			b.WriteString("; ")
		}
		b.WriteByte('}')
	case *nList:
		b.WriteString("[ ")
		for _, x := range n.elems {
			b.WriteByte('(')
			pr.show(b, x)
			b.WriteString(") ")
		}
		b.WriteByte(']')
	case *nLambda:
		b.WriteByte('(')
		if n.hasForm {
			b.WriteString("{ ")
			fs := append([]nFormal(nil), n.formals...)
			sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
			for i, f := range fs {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(f.name)
				if f.def != nil {
					b.WriteString(" ? ")
					pr.show(b, f.def)
				}
			}
			if n.ellipsis {
				if len(fs) > 0 {
					b.WriteString(", ")
				}
				b.WriteString("...")
			}
			b.WriteString(" }")
			if n.arg != "" {
				b.WriteString(" @ ")
			}
		}
		b.WriteString(n.arg)
		b.WriteString(": ")
		pr.show(b, n.body)
		b.WriteByte(')')
	case *nCall:
		b.WriteByte('(')
		pr.show(b, n.fn)
		for _, a := range n.args {
			b.WriteByte(' ')
			pr.show(b, a)
		}
		b.WriteByte(')')
	case *nLet:
		b.WriteString("(let ")
		for _, name := range sortedNames(n.attrs.attrs) {
			d := n.attrs.attrs[name]
			if d.inherited {
				b.WriteString("inherit ")
				showIdentifier(b, name)
				b.WriteString("; ")
				continue
			}
			showIdentifier(b, name)
			b.WriteString(" = ")
			pr.show(b, d.e)
			b.WriteString("; ")
		}
		b.WriteString("in ")
		pr.show(b, n.body)
		b.WriteByte(')')
	case *nWith:
		b.WriteString("(with ")
		pr.show(b, n.attrs)
		b.WriteString("; ")
		pr.show(b, n.body)
		b.WriteByte(')')
	case *nIf:
		b.WriteString("(if ")
		pr.show(b, n.cond)
		b.WriteString(" then ")
		pr.show(b, n.then)
		b.WriteString(" else ")
		pr.show(b, n.els)
		b.WriteByte(')')
	case *nAssert:
		b.WriteString("assert ")
		pr.show(b, n.cond)
		b.WriteString("; ")
		pr.show(b, n.body)
	case *nNot:
		b.WriteString("(! ")
		pr.show(b, n.e)
		b.WriteByte(')')
	case *nBinOp:
		b.WriteByte('(')
		pr.show(b, n.a)
		b.WriteByte(' ')
		b.WriteString(n.op)
		b.WriteByte(' ')
		pr.show(b, n.b)
		b.WriteByte(')')
	case *nConcat:
		b.WriteByte('(')
		for i, p := range n.parts {
			if i > 0 {
				b.WriteString(" + ")
			}
			pr.show(b, p)
		}
		b.WriteByte(')')
	}
}
