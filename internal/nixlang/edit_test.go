package nixlang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("test.nix", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

const flakeSrc = `{
  description = "fleet";

  inputs = {
    # the package set
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";
    home-manager = {
      url = "github:nix-community/home-manager"; # pinned by the lock
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = { self, nixpkgs, ... }: { };
}
`

func TestSetAttrAddsInsideNestedSetWithSiblingIndentation(t *testing.T) {
	f := mustParse(t, flakeSrc)
	g, err := f.SetAttr(f.Root, []string{"inputs", "web", "url"}, `"path:./web"`)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(flakeSrc, "      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n",
		"      inputs.nixpkgs.follows = \"nixpkgs\";\n    };\n    web.url = \"path:./web\";\n", 1)
	if string(g.Bytes()) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", g.Bytes(), want)
	}
	back, err := g.RemoveAttr(g.Root, []string{"inputs", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if string(back.Bytes()) != flakeSrc {
		t.Fatalf("add then remove changed the file:\n%s", back.Bytes())
	}
}

func TestSetAttrReplacesValueKeepingComments(t *testing.T) {
	f := mustParse(t, flakeSrc)
	g, err := f.SetAttr(f.Root, []string{"inputs", "home-manager", "url"}, `"github:nix-community/home-manager/release-24.05"`)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(flakeSrc, `url = "github:nix-community/home-manager"; # pinned`, `url = "github:nix-community/home-manager/release-24.05"; # pinned`, 1)
	if string(g.Bytes()) != want {
		t.Fatalf("got:\n%s", g.Bytes())
	}
	// A dotted binding is found too.
	g, err = f.SetAttr(f.Root, []string{"inputs", "nixpkgs", "url"}, `"github:NixOS/nixpkgs/nixos-unstable"`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(g.Bytes()), "    # the package set\n    nixpkgs.url = \"github:NixOS/nixpkgs/nixos-unstable\";\n") {
		t.Fatalf("got:\n%s", g.Bytes())
	}
}

func TestRemoveAttrTakesCommentAboveAndDottedBindings(t *testing.T) {
	f := mustParse(t, flakeSrc)
	g, err := f.RemoveAttr(f.Root, []string{"inputs", "nixpkgs"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(flakeSrc, "    # the package set\n    nixpkgs.url = \"github:NixOS/nixpkgs/nixos-24.05\";\n", "", 1)
	if string(g.Bytes()) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", g.Bytes(), want)
	}
	if _, err := f.RemoveAttr(f.Root, []string{"inputs", "nope"}); err == nil {
		t.Fatal("removing a missing attribute should fail")
	}
}

func TestSetAttrOneLineAndEmptySets(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{ a = 1; }", "{ a = 1; b = 2; }"},
		{"{ }", "{ b = 2; }"},
		{"{}", "{ b = 2; }"},
		{"{\n}\n", "{\n  b = 2;\n}\n"},
		{"{ # note\n}\n", "{ # note\n  b = 2;\n}\n"},
		{"let\n  a = 1;\nin a", "let\n  a = 1;\n  b = 2;\nin a"},
		{"{ x = { }; }", "{ x = { }; b = 2; }"},
	} {
		f := mustParse(t, tc.src)
		set := f.Root
		g, err := f.SetAttr(set, []string{"b"}, "2")
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if string(g.Bytes()) != tc.want {
			t.Errorf("%q: got %q want %q", tc.src, g.Bytes(), tc.want)
		}
	}
}

func TestSetAttrQuotesNamesAndIndentsMultiLineValues(t *testing.T) {
	f := mustParse(t, "{\n  services = {\n    a = { port = 1; };\n  };\n}\n")
	g, err := f.SetAttr(f.Root, []string{"services", "my-svc.v2"}, "{\n  port = 8060;\n  index = 5;\n}")
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  services = {\n    a = { port = 1; };\n    \"my-svc.v2\" = {\n      port = 8060;\n      index = 5;\n    };\n  };\n}\n"
	if string(g.Bytes()) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", g.Bytes(), want)
	}
}

func TestEditsThatBreakTheFileFail(t *testing.T) {
	f := mustParse(t, "{ a = 1; }")
	if _, err := f.SetAttr(f.Root, []string{"b"}, "undefinedThing"); err == nil {
		t.Fatal("an edit introducing an undefined variable must fail")
	}
	if _, err := f.SetAttr(f.Root, []string{"b"}, "1 +"); err == nil {
		t.Fatal("an edit with a syntax error must fail")
	}
	if _, err := f.SetAttr(f.Root, []string{"a", "x"}, "1"); err == nil {
		t.Fatal("setting under a non-set value must fail")
	}
}

func TestListAppendAndRemove(t *testing.T) {
	for _, tc := range []struct{ src, elem, want string }{
		{"[ a b ]", "c", "[ a b c ]"},
		{"[ ]", "c", "[ c ]"},
		{"[\n  ./a.nix # first\n  ./b.nix\n]", "./c.nix", "[\n  ./a.nix # first\n  ./b.nix\n  ./c.nix\n]"},
		{"[\n]", "./c.nix", "[\n  ./c.nix\n]"},
		{"[ ]", "f x", "[ (f x) ]"},
	} {
		f, err := ParseWith("t.nix", []byte("let a = 1; b = 2; c = 3; f = x: x; x = 1; in "+tc.src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		list := Body(f.Root).(*List)
		g, err := f.AppendElem(list, tc.elem)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		got := strings.TrimPrefix(string(g.Bytes()), "let a = 1; b = 2; c = 3; f = x: x; x = 1; in ")
		if got != tc.want {
			t.Errorf("%q: got %q want %q", tc.src, got, tc.want)
		}
		gl := Body(g.Root).(*List)
		back, err := g.RemoveElem(gl, len(gl.Elems)-1)
		if err != nil {
			t.Fatal(err)
		}
		if string(back.Bytes()) != string(f.Bytes()) {
			t.Errorf("%q: append then remove gave %q", tc.src, back.Bytes())
		}
	}
}

func TestRemoveInheritName(t *testing.T) {
	f := mustParse(t, "let a = 1; b = 2; in { inherit a b; c = 3; }")
	g, err := f.RemoveAttr(Body(f.Root), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(g.Bytes()); got != "let a = 1; b = 2; in { inherit b; c = 3; }" {
		t.Fatalf("got %q", got)
	}
	g, err = g.RemoveAttr(Body(g.Root), []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(g.Bytes()); got != "let a = 1; b = 2; in { c = 3; }" {
		t.Fatalf("got %q", got)
	}
}

// TestAddRemoveRoundTripOverCorpus adds an attribute to every attribute set
// and an element to every list of every accepted corpus file, removes it
// again and requires the original bytes.
func TestAddRemoveRoundTripOverCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/ok_*.nix")
	checked := 0
	defer func() {
		if checked < 50 {
			t.Errorf("only %d add/remove round trips checked", checked)
		}
	}()
	for _, name := range files {
		src, _ := os.ReadFile(name)
		f, err := ParseWith(name, src, Options{Dialect: Nix28})
		if err != nil {
			t.Fatal(err)
		}
		var sets []int
		var lists []int
		i := 0
		Walk(f.Root, func(n Node) bool {
			switch n := n.(type) {
			case *AttrSet:
				if len(n.Bindings) > 0 || n.Open.Pos.Line != n.Close.Pos.Line || n.Close.Leading != "" {
					sets = append(sets, i)
				}
			case *List:
				if len(n.Elems) > 0 || n.Open.Pos.Line != n.Close.Pos.Line || n.Close.Leading != "" {
					lists = append(lists, i)
				}
			}
			i++
			return true
		})
		nth := func(g *File, k int) Node {
			var found Node
			j := 0
			Walk(g.Root, func(n Node) bool {
				if j == k {
					found = n
				}
				j++
				return found == nil
			})
			return found
		}
		for _, k := range sets {
			set := nth(f, k)
			g, err := f.SetAttr(set, []string{"zzAdded"}, "42")
			if err != nil {
				continue // e.g. a set whose names clash; not what this test is about
			}
			back, err := g.RemoveAttr(nth(g, k), []string{"zzAdded"})
			if err != nil {
				t.Errorf("%s: remove after add: %v", name, err)
				continue
			}
			checked++
			if string(back.Bytes()) != string(src) {
				t.Errorf("%s: set #%d: add+remove gave\n%s", name, k, back.Bytes())
			}
		}
		for _, k := range lists {
			l := nth(f, k).(*List)
			g, err := f.AppendElem(l, "42")
			if err != nil {
				t.Errorf("%s: append: %v", name, err)
				continue
			}
			gl := nth(g, k).(*List)
			back, err := g.RemoveElem(gl, len(gl.Elems)-1)
			if err != nil {
				t.Errorf("%s: remove after append: %v", name, err)
				continue
			}
			checked++
			if string(back.Bytes()) != string(src) {
				t.Errorf("%s: list #%d: append+remove gave\n%s", name, k, back.Bytes())
			}
		}
	}
}
