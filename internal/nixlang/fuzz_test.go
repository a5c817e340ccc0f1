package nixlang

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the parser: it must never panic or
// hang, whatever it accepts must print back byte for byte, and the helpers
// that work on an accepted tree (PrintNix, Static, Attrs, an edit) must not
// panic either.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.nix")
	for _, name := range files {
		src, _ := os.ReadFile(name)
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		file, err := ParseSyntax("fuzz.nix", src)
		if err == nil {
			if got := file.Bytes(); !bytes.Equal(got, src) {
				t.Fatalf("round trip differs:\n got %q\nwant %q", got, src)
			}
		} else if _, ok := err.(*Error); !ok {
			t.Fatalf("error is %T, want *Error: %v", err, err)
		}
		full, err := ParseWith("fuzz.nix", src, Options{})
		if err == nil {
			if _, err := PrintNix(full, "/base", "/home"); err != nil {
				t.Fatalf("PrintNix of an accepted file: %v", err)
			}
			edited := false
			Walk(full.Root, func(n Node) bool {
				if _, ok := n.(*AttrSet); ok && !edited {
					edited = true
					Attrs(n)
					if g, err := full.SetAttr(n, []string{"fuzzAdded"}, "1"); err == nil {
						if _, err := g.RemoveAttr(g.Root, []string{"fuzzAdded"}); err != nil && g.Root == nil {
							t.Fatal("unreachable")
						}
					}
				}
				return true
			})
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(src), d)
		}
	})
}
