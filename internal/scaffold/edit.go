package scaffold

import (
	"fmt"
	"regexp"
	"strings"
)

// A token is a run of the characters Nix identifiers, login names and host
// names share. The user's name is replaced only where it is a whole token,
// so "dylan" changes in `users.dylan`, "/Users/dylan" and "dylan@demo" but
// not inside a longer word.
func isTokenByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// tokenIndexes returns the byte offsets where word occurs as a whole token.
func tokenIndexes(text, word string) []int {
	var at []int
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return at
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !isTokenByte(text[start-1])) && (end == len(text) || !isTokenByte(text[end])) {
			at = append(at, start)
		}
		i = start + 1
	}
}

func replaceToken(text, old, new string) string {
	at := tokenIndexes(text, old)
	if len(at) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, i := range at {
		b.WriteString(text[last:i])
		b.WriteString(new)
		last = i + len(old)
	}
	b.WriteString(text[last:])
	return b.String()
}

// tokenLine returns the 1-based line of word's first occurrence as a token
// outside comment lines, or 0.
func tokenLine(text, word string) int {
	for n, line := range strings.Split(text, "\n") {
		if isComment(line) {
			continue
		}
		if len(tokenIndexes(line, word)) > 0 {
			return n + 1
		}
	}
	return 0
}

func isComment(line string) bool { return strings.HasPrefix(strings.TrimSpace(line), "#") }

var (
	listLiteral = regexp.MustCompile(`\[([^\[\]]*)\]`)
	emptySet    = regexp.MustCompile(`(?m)^(\s*[\w.-]+ = )\{\n\s*\};`)
	// inheritFrom is a one-line `inherit (source) a b c;`.
	inheritFrom = regexp.MustCompile(`^(\s*inherit\s+\([^()]*\)\s+)([^;]*);\s*$`)
)

// dropMachine removes machine from a Nix file laid out like the reference
// fleet's: its binding (`machine = ...;` on one line, or `machine = {`
// through the `};` at the same indentation), its name in one-line lists
// (`[ devmac machine ]`) and in one-line inherits (`inherit (x) a machine;`).
// If the name is still used afterwards, the file is laid out differently
// than expected and the error says where.
func dropMachine(text, machine string) (string, error) {
	binding := regexp.MustCompile(`^(\s*)` + regexp.QuoteMeta(machine) + `\s*=`)
	lines := strings.Split(text, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if isComment(line) {
			out = append(out, line)
			continue
		}
		if m := binding.FindStringSubmatch(line); m != nil {
			end, err := bindingEnd(lines, i, m[1])
			if err != nil {
				return "", err
			}
			i = end
			// Keep one blank line where the binding stood between two.
			if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == "" {
				i++
			}
			continue
		}
		if m := inheritFrom.FindStringSubmatch(line); m != nil {
			if names := without(strings.Fields(m[2]), machine); len(names) > 0 {
				out = append(out, m[1]+strings.Join(names, " ")+";")
			}
			continue
		}
		out = append(out, listLiteral.ReplaceAllStringFunc(line, func(list string) string {
			kept := without(strings.Fields(list[1:len(list)-1]), machine)
			if len(kept) == 0 {
				return "[ ]"
			}
			return "[ " + strings.Join(kept, " ") + " ]"
		}))
	}
	// An attribute set left without bindings reads better on one line.
	result := emptySet.ReplaceAllString(strings.Join(out, "\n"), "$1{ };")
	if n := tokenLine(result, machine); n > 0 {
		return "", fmt.Errorf("%d: machine %q is still referred to after removing its binding; remove it by hand", n, machine)
	}
	return result, nil
}

// bindingEnd returns the index of the last line of the binding starting at
// line start with the given indentation.
func bindingEnd(lines []string, start int, indent string) (int, error) {
	first := strings.TrimSpace(lines[start])
	if strings.HasSuffix(first, ";") {
		return start, nil
	}
	if strings.HasSuffix(first, "{") || strings.HasSuffix(first, "[") {
		for j := start + 1; j < len(lines); j++ {
			l := lines[j]
			if strings.HasPrefix(l, indent) && !strings.HasPrefix(l, indent+" ") && !strings.HasPrefix(l, indent+"\t") {
				if t := strings.TrimSpace(l); t == "};" || t == "];" {
					return j, nil
				}
				break
			}
		}
	}
	return 0, fmt.Errorf("%d: cannot tell where the binding %q ends; remove it by hand", start+1, first)
}

// without returns the items other than item.
func without(items []string, item string) []string {
	var kept []string
	for _, x := range items {
		if x != item {
			kept = append(kept, x)
		}
	}
	return kept
}
