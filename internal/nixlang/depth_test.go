package nixlang

import (
	"strings"
	"testing"
)

// TestNestingLimitMatchesNix checks the emulated limit of Nix's parser
// stack: the deepest nesting of each shape that nix-instantiate --parse
// (2.8) accepts was measured with the real binary; one level more fails.
// Where bison's GLR parser splits on '{' we may accept a little more (slack).
func TestNestingLimitMatchesNix(t *testing.T) {
	rep := strings.Repeat
	manyFormals := func(n int) string {
		names := make([]string, n)
		for i := range names {
			names[i] = "a" + rep("x", i%7) + string(rune('a'+i%26)) + rep("y", i/26)
		}
		return "{ " + strings.Join(names, ", ") + " }: 1"
	}
	for _, tc := range []struct {
		name  string
		gen   func(n int) string
		maxOK int
		slack int
	}{
		{"parens", func(n int) string { return rep("(", n) + "1" + rep(")", n) }, 9995, 0},
		{"lists", func(n int) string { return rep("[", n) + rep("]", n) }, 4998, 0},
		{"negation", func(n int) string { return rep("- ", n) + "1" }, 9996, 0},
		{"not", func(n int) string { return rep("! ", n) + "true" }, 9996, 0},
		{"lambdas", func(n int) string { return rep("x: ", n) + "1" }, 4998, 0},
		{"concat", func(n int) string { return rep("1 ++ ", n) + "[]" }, 4997, 0},
		{"lets", func(n int) string { return rep("let a = 1; in ", n) + "1" }, 3331, 0},
		{"ifs", func(n int) string { return rep("if true then ", n) + "1" + rep(" else 1", n) }, 3331, 0},
		{"interpolation", func(n int) string { return rep(`"${`, n) + "1" + rep(`}"`, n) }, 4997, 0},
		{"many formals", manyFormals, 4998, 0},
		{"rec sets", func(n int) string { return rep("rec {a=", n) + "1" + rep(";}", n) }, 1999, 0},
		{"sets in lists", func(n int) string { return rep("[{a=", n) + "1" + rep(";}]", n) }, 1665, 0},
		{"list in a set", func(n int) string { return "{ a = { b = " + rep("[", n) + rep("]", n) + "; }; }" }, 4994, 0},
		{"list in a default", func(n int) string { return "{ a, b ? " + rep("[", n) + rep("]", n) + " }: 1" }, 4995, 0},
		{"sets", func(n int) string { return rep("{a=", n) + "1" + rep(";}", n) }, 2496, 2},
		{"formals", func(n int) string { return rep("{ a, b }: ", n) + "1" }, 2497, 2},
		{"sets in parens", func(n int) string { return rep("{a=(", n) + "1" + rep(");}", n) }, 1997, 2},
	} {
		ok := func(n int) bool {
			_, err := ParseWith("deep.nix", []byte(tc.gen(n)), Options{NoScopeCheck: true})
			return err == nil
		}
		if !ok(tc.maxOK) || ok(tc.maxOK+tc.slack+1) {
			lo, hi := 1, 12000
			for hi-lo > 1 {
				if mid := (lo + hi) / 2; ok(mid) {
					lo = mid
				} else {
					hi = mid
				}
			}
			t.Errorf("%s: deepest accepted is %d, nix accepts %d (slack %d)", tc.name, lo, tc.maxOK, tc.slack)
		}
	}
	if _, err := Parse("deep.nix", []byte(rep("(", 20000)+"1"+rep(")", 20000))); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("20000 parentheses: %v", err)
	}
}
