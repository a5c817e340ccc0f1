package nixlang

import "testing"

// AddFormal then RemoveFormal gives back the original bytes, whatever the
// layout of the formals.
func TestFormalsRoundTrip(t *testing.T) {
	for _, src := range []string{
		"{ self, nixpkgs }: { }",
		"{ self, nixpkgs, ... }: { }",
		"{ ... }: { }",
		"{ }: { }",
		"{\n  self,\n  nixpkgs,\n}: { }",
		"{ self, nixpkgs ? null }: { }",
	} {
		f := mustParse(t, src)
		added, err := f.AddFormal(f.Root.(*Lambda).Formals, "extra")
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		removed, err := added.RemoveFormal(added.Root.(*Lambda).Formals, "extra")
		if err != nil {
			t.Fatalf("%q: %v", added.Src, err)
		}
		if removed.Src != src {
			t.Errorf("%q: add and remove gave %q (after adding: %q)", src, removed.Src, added.Src)
		}
	}
}

// Cut removes items as the editor inserts them and keeps the comment above.
func TestCutKeepsTheCommentAbove(t *testing.T) {
	f := mustParse(t, "{\n  # services\n  a = 1;\n  b = 2; # the b\n  c = 3;\n}")
	set := f.Root.(*AttrSet)
	got, err := f.Cut(set.Bindings[0], set.Bindings[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  # services\n  c = 3;\n}"; got.Src != want {
		t.Fatalf("got %q, want %q", got.Src, want)
	}
}

func TestInsertAfterFollowsTheLayout(t *testing.T) {
	f := mustParse(t, "{\n  inputs.a.url = \"x\"; # pinned\n  outputs = _: { };\n}")
	got, err := f.InsertAfter(f.Root.(*AttrSet).Bindings[0], `inputs.b.url = "y";`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  inputs.a.url = \"x\"; # pinned\n  inputs.b.url = \"y\";\n  outputs = _: { };\n}"; got.Src != want {
		t.Fatalf("got %q", got.Src)
	}
	g := mustParse(t, "{ a = 1; }")
	got, err = g.InsertAfter(g.Root.(*AttrSet).Bindings[0], "b = 2;")
	if err != nil || got.Src != "{ a = 1; b = 2; }" {
		t.Fatalf("inline: %q, %v", got.Src, err)
	}
}
