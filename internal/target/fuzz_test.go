package target

import (
	"strings"
	"testing"
)

// FuzzParseGenerations feeds ParseGenerations what a broken or hostile
// host might print for the generation list: it must not panic, and what
// it accepts must make sense: generations numbered from 1, each once, in
// order, each with a path, at most one of them current.
func FuzzParseGenerations(f *testing.F) {
	f.Add("current system-2-link\n10 1764100000 /nix/store/ccc-nixos-system\n1 1763632800 /nix/store/aaa-nixos-system\n2 1764118923 /nix/store/bbb-nixos-system\nx-1 1764118923 /nix/store/ddd-other\n")
	f.Add("current \n")
	f.Add("current system-1-link\n1 -5 /nix/store/\x1b]0;title\x07-x\n")
	f.Add("1 1 a\n1 2 b\n")
	f.Add("99999999999999999999 1 a\n-3 1 b\n")
	f.Fuzz(func(t *testing.T, out string) {
		gens, err := ParseGenerations(out)
		if err != nil {
			if len(err.Error()) > 2000 {
				t.Fatalf("an error of %d bytes quotes too much of the host's output", len(err.Error()))
			}
			return
		}
		current := 0
		for i, g := range gens {
			if g.Number < 1 || i > 0 && g.Number <= gens[i-1].Number {
				t.Fatalf("generation numbers out of order or below 1: %+v", gens)
			}
			if g.Path == "" || strings.ContainsAny(g.Path, " \t\n") {
				t.Fatalf("generation %d has path %q", g.Number, g.Path)
			}
			if g.Current {
				current++
			}
		}
		if current > 1 {
			t.Fatalf("%d current generations: %+v", current, gens)
		}
	})
}
