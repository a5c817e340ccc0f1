package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape makes text that came from a host (a store path, a generation
// name, an error line) safe to print on one line of a terminal: control
// characters (ESC, BEL, CR, backspace, newline, tab), C1 controls, bytes
// that are not UTF-8 and the invisible characters that reorder or break
// text (bidirectional controls, line and paragraph separators) are written
// as visible escapes (\x1b, \u202e). Everything else is left as it is,
// non-ASCII letters included. A path with `ESC]0;…BEL` in its name can
// then no longer retitle the terminal, move the cursor or hide a line.
func Escape(s string) string { return escape(s, false) }

// EscapeText is Escape for text of several lines (an error with a host's
// output): newlines and tabs stay.
func EscapeText(s string) string { return escape(s, true) }

func escape(s string, text bool) string {
	if !needsEscape(s, text) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case text && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unsafeRune(r):
			if r < 0x80 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string, text bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) && !(text && (r == '\n' || r == '\t')) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports whether r changes how a terminal shows what follows.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidirectional controls
	case r == 0x2028, r == 0x2029:
		return true // line and paragraph separators
	}
	return false
}
