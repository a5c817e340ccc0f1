package ui

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nixherd/nixherd/internal/report"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/abc-hello-2.12":         "/nix/store/abc-hello-2.12",
		"/nix/store/abc-\x1b]0;pwned\x07-x": `/nix/store/abc-\x1b]0;pwned\x07-x`,
		"a\rb\bc\x7fd":                      `a\x0db\x08c\x7fd`,
		"two\nlines\tand a tab":             `two\x0alines\x09and a tab`,
		"\xc2\x9b2J csi in UTF-8, \x9b raw": `\u009b2J csi in UTF-8, \x9b raw`,
		"txt.\u202eexe":                     `txt.\u202eexe`,
		"naïve café 日本":                     "naïve café 日本",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := EscapeText("error:\n\tline \x1b[2J\r"); got != "error:\n\tline \\x1b[2J\\x0d" {
		t.Errorf("EscapeText kept or lost the wrong characters: %q", got)
	}
}

// A host's text reaches the terminal through the views and tables escaped.
func TestHostTextIsEscapedInEveryView(t *testing.T) {
	evil := "/nix/store/x-\x1b]0;pwned\x07\x1b[2J"
	var live, plain, table bytes.Buffer
	c := &clock{t0}
	l := newLive(&live, func() int { return 200 }, c.now)
	p := NewPlain(&plain, "h")
	for _, v := range []report.Reporter{l, p} {
		v.Event(report.Event{Machine: "h", Phase: "copy", Detail: evil, Time: c.t})
		v.Event(report.Event{Machine: "h", Phase: report.PhaseFailed, Err: errors.New("activate said:\n" + evil), Time: c.t})
	}
	l.Printf("host says %s", evil)
	l.Close()
	WriteSummary(&table, report.NewSummary([]report.Result{
		{Machine: "h", Outcome: report.Switched, Path: evil, WouldCopy: []string{evil}},
		{Machine: "g", Outcome: report.Failed, Error: evil},
	}, 1))
	for name, out := range map[string]string{"live": ansi.ReplaceAllString(live.String(), ""), "plain": plain.String(), "table": table.String()} {
		if strings.ContainsAny(out, "\x07") || strings.Contains(out, "\x1b]") || strings.Contains(out, "\x1b[2J") {
			t.Errorf("%s view printed the host's escape sequences: %q", name, out)
		}
		if !strings.Contains(out, `\x1b]0;pwned\x07`) {
			t.Errorf("%s view does not show them escaped: %q", name, out)
		}
	}
}

// FuzzEscape: whatever a host sends, the escaped text has no byte that a
// terminal acts on, is valid UTF-8, and text that needed nothing is left
// as it was.
func FuzzEscape(f *testing.F) {
	f.Add("/nix/store/abc-\x1b]0;t\x07")
	f.Add("naïve \u202e \xc2\x9b \xff")
	f.Add("line\nnext\ttab")
	f.Fuzz(func(t *testing.T, s string) {
		for _, text := range []bool{false, true} {
			got := escape(s, text)
			if !utf8.ValidString(got) {
				t.Fatalf("escape(%q, %v) = %q: not UTF-8", s, text, got)
			}
			for _, r := range got {
				if unsafeRune(r) && !(text && (r == '\n' || r == '\t')) {
					t.Fatalf("escape(%q, %v) = %q keeps %U", s, text, got, r)
				}
			}
			if !needsEscape(s, text) && got != s {
				t.Fatalf("escape(%q, %v) changed clean text to %q", s, text, got)
			}
		}
	})
}
