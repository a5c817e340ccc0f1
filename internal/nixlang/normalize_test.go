package nixlang

import (
	"sort"
	"strings"
)

// normalizeShown makes the output of nix-instantiate --parse comparable:
// Nix 2.8 prints let bindings and lambda formals in an order that depends on
// memory addresses, so both are sorted here. Everything else is compared
// exactly as printed.
func normalizeShown(s string) string {
	toks := showTokens(s)
	g, _ := groupTokens(toks, 0)
	var b strings.Builder
	writeGroup(&b, normalizeGroup(g))
	return strings.TrimSpace(b.String())
}

// sgroup is a bracketed group of printed tokens, or a single token.
type sgroup struct {
	tok  string // a leaf when kids == nil and open == ""
	open string
	kids []*sgroup
}

func showTokens(s string) []string {
	var toks []string
	dynNames := 0 // open "${ … }" attribute names
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case strings.HasPrefix(s[i:], `"${`):
			// A dynamic attribute name: Nix prints "${expr}" (a "${ inside
			// a string literal is always escaped).
			toks = append(toks, `"${`)
			dynNames++
			i += 3
		case dynNames > 0 && strings.HasPrefix(s[i:], `}"`):
			toks = append(toks, `}"`)
			dynNames--
			i += 2
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j < len(s) {
				j++
			}
			if j > len(s) {
				j = len(s)
			}
			toks = append(toks, s[i:j])
			i = j
		case strings.IndexByte("()[]{};,", c) >= 0:
			toks = append(toks, s[i:i+1])
			i++
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '"' && strings.IndexByte("()[]{};,", s[j]) < 0 {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

var closers = map[string]string{"(": ")", "[": "]", "{": "}", `"${`: `}"`}

func groupTokens(toks []string, i int) (*sgroup, int) {
	g := &sgroup{open: "root"}
	for i < len(toks) {
		t := toks[i]
		if cl, ok := closers[t]; ok {
			sub, j := groupTokens(toks, i+1)
			sub.open = t
			_ = cl
			g.kids = append(g.kids, sub)
			i = j
			continue
		}
		if t == ")" || t == "]" || t == "}" || t == `}"` {
			return g, i + 1
		}
		g.kids = append(g.kids, &sgroup{tok: t})
		i++
	}
	return g, i
}

func (g *sgroup) str() string {
	var b strings.Builder
	writeGroup(&b, g)
	return b.String()
}

func writeGroup(b *strings.Builder, g *sgroup) {
	if g.open == "" {
		b.WriteString(g.tok)
		b.WriteByte(' ')
		return
	}
	if g.open != "root" {
		b.WriteString(g.open)
		b.WriteByte(' ')
	}
	for _, k := range g.kids {
		writeGroup(b, k)
	}
	if g.open != "root" {
		b.WriteString(closers[g.open])
		b.WriteByte(' ')
	}
}

func normalizeGroup(g *sgroup) *sgroup {
	for _, k := range g.kids {
		if k.open != "" {
			normalizeGroup(k)
		}
	}
	if g.open == "(" && len(g.kids) > 0 && g.kids[0].tok == "let" {
		// (let b1; b2; … in body): sort the bindings.
		in := -1
		for i, k := range g.kids {
			if k.tok == "in" {
				in = i
				break
			}
		}
		if in > 0 {
			items := splitItems(g.kids[1:in], ";")
			sort.Strings(items)
			g.kids = append([]*sgroup{{tok: "let"}, {tok: strings.Join(items, " ; ")}}, g.kids[in:]...)
		}
	}
	if g.open == "(" && len(g.kids) >= 2 && g.kids[0].open == "{" {
		if t := g.kids[1].tok; t == ":" || t == "@" || strings.HasSuffix(t, ":") {
			items := splitItems(g.kids[0].kids, ",")
			sort.Strings(items)
			g.kids[0] = &sgroup{open: "{", kids: []*sgroup{{tok: strings.Join(items, " , ")}}}
		}
	}
	return g
}

// splitItems splits a group's children at sep, keeping an assert's own ';'.
func splitItems(kids []*sgroup, sep string) []string {
	var items []string
	var cur strings.Builder
	asserts := 0
	for _, k := range kids {
		if k.tok == "assert" {
			asserts++
		}
		if k.open == "" && k.tok == sep {
			if sep == ";" && asserts > 0 {
				asserts--
				cur.WriteString("; ")
				continue
			}
			items = append(items, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteString(k.str())
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		items = append(items, s)
	}
	return items
}
