package nixlang

import (
	"reflect"
	"testing"
)

func TestLookupMergesDottedAndNestedBindings(t *testing.T) {
	f := mustParse(t, flakeSrc)
	inputs := Lookup(f.Root, "inputs")
	if inputs == nil {
		t.Fatal("inputs not found")
	}
	var names []string
	for _, a := range inputs.Attrs {
		names = append(names, a.Name)
	}
	if !reflect.DeepEqual(names, []string{"nixpkgs", "home-manager"}) {
		t.Fatalf("inputs = %v", names)
	}
	url := Lookup(f.Root, "inputs", "nixpkgs", "url")
	if url == nil || url.Value == nil {
		t.Fatal("inputs.nixpkgs.url not found")
	}
	if v, ok := url.Value.(*String).StaticString(); !ok || v != "github:NixOS/nixpkgs/nixos-24.05" || url.Value.Pos().Line != 6 || url.Value.Pos().Col != 19 {
		t.Fatalf("url = %q at %v", v, url.Value.Pos())
	}
	follows := inputs.Get("home-manager", "inputs", "nixpkgs", "follows")
	if follows == nil {
		t.Fatal("follows not found")
	}
	if s, _ := follows.Value.(*String).StaticString(); s != "nixpkgs" {
		t.Fatalf("follows = %q", s)
	}
	if Lookup(f.Root, "inputs", "missing") != nil {
		t.Fatal("found a missing input")
	}
}

func TestBodyFindsModuleAttrSet(t *testing.T) {
	f := mustParse(t, "{ config, ... }:\nlet services = { web = { port = 8060; }; };\nin { imports = [ ./a.nix ]; }")
	body := Body(f.Root)
	if Lookup(body, "imports") == nil {
		t.Fatal("imports not found in the module body")
	}
	let := f.Root.(*Lambda).Body.(*Let)
	if Lookup(let, "services", "web", "port") == nil {
		t.Fatal("services.web.port not found in the let")
	}
}

func TestResolveLetBoundNames(t *testing.T) {
	f := mustParse(t, `let
  web = import ./web.nix;
  db = { port = 5432; };
  inherit (builtins) map;
in { config, ... }: { imports = [ web db config ]; x = map; }`)
	imports := Lookup(Body(f.Root), "imports").Value.(*List)
	names, values := f.ResolveNames(imports)
	if !reflect.DeepEqual(names, []string{"web", "db", "config"}) {
		t.Fatalf("names = %v", names)
	}
	if _, ok := values[0].(*Apply); !ok {
		t.Fatalf("web resolves to %T", values[0])
	}
	if port := Lookup(values[1], "port"); port == nil || port.Value.(*IntLit).Value != 5432 {
		t.Fatal("db does not resolve to its set")
	}
	if values[2] != nil {
		t.Fatal("config is a lambda formal, not a let value")
	}
	def, _ := f.Resolve(imports.Elems[2].(*Var))
	if _, ok := def.(*Formal); !ok {
		t.Fatalf("config resolves to %T, want *Formal", def)
	}
	x := Lookup(Body(f.Root), "x").Value.(*Var)
	if def, _ := f.Resolve(x); def == nil {
		t.Fatal("inherited map not resolved")
	}
}

// TestErrorPositions pins messages and positions; positions follow Nix's
// (at the end of the file Nix points at the last token or blank run).
func TestErrorPositions(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{\n  a = 1\n}", "f.nix:3:1: syntax error: unexpected '}', expecting ';' after the value of a"},
		{"{\n  a = 1\n  b = 2;\n}", "f.nix:3:5: syntax error: unexpected '=', expecting ';' (is a ';' missing at the end of line 2?)"},
		{"{\n  a = [ 1 2\n  ;\n}", "f.nix:3:3: syntax error: unexpected ';', expecting ']'"},
		{"let\n  a = {\n    b = 1;\n  ;\nin a", "f.nix:4:3: syntax error: unexpected ';', expecting an attribute name, 'inherit' or '}'"},
		{"{\n  a = {\n    b = 1;\n  };\n", "f.nix:4:5: syntax error: unexpected end of file, expecting '}' to close the '{' at 1:1"},
		{"let x = 1; in\n  y", "f.nix:2:3: undefined variable 'y'"},
		{"{\n  a = 1;\n  a = 2;\n}", "f.nix:3:3: attribute 'a' already defined at 2:3"},
		{"\"abc", "f.nix:1:2: syntax error: unexpected end of file in the string that starts at 1:1"},
		{"./a/", "f.nix:1:1: path has a trailing slash"},
		{"{ a, a }: a", "f.nix:1:6: duplicate formal function argument 'a'"},
	} {
		_, err := Parse("f.nix", []byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.src, err, tc.want)
		}
		if e, ok := err.(*Error); !ok || e.File != "f.nix" || e.Line == 0 {
			t.Errorf("%q: error is %T %+v", tc.src, err, err)
		}
	}
}
