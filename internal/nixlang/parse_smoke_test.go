package nixlang

import "testing"

func TestSmokeRoundTrip(t *testing.T) {
	for _, src := range []string{
		"{ a = 1; b = \"x${y}z\"; c = ''\n  a ''$ ''' ''\\n\n''; }",
		"# c\nlet x = 1; /* y */ in x + -2 * 3 // { } ++ [ 1 2.5 ./a/${b}/c ~/x <nixpkgs/lib> http://x.org ]\n",
		"{ a, b ? 1, ... }@args: with args; assert a -> b; if a ? b.c then a.b or 1 else f or",
	} {
		f, err := ParseSyntax("t.nix", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := string(f.Bytes()); got != src {
			t.Fatalf("round trip: got %q want %q", got, src)
		}
	}
}
