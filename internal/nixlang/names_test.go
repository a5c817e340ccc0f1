package nixlang

import (
	"strings"
	"testing"
)

func TestFormatAttrNameAndQuoteStringRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"web", "web"},
		{"my-svc", "my-svc"},
		{"or", "or"},
		{"if", `"if"`},
		{"a.b", `"a.b"`},
		{"1x", `"1x"`},
		{"", `""`},
		{`q"${x}\`, `"q\"\${x}\\"`},
		{"$5", `"$5"`},
	} {
		if got := FormatAttrName(tc.name); got != tc.want {
			t.Errorf("FormatAttrName(%q) = %s, want %s", tc.name, got, tc.want)
		}
		// Whatever we write must read back as the same name.
		f, err := Parse("t.nix", []byte("{ "+FormatAttrName(tc.name)+" = 1; }"))
		if err != nil {
			t.Fatalf("%q: %v", tc.name, err)
		}
		if a := Attrs(f.Root); len(a) != 1 || a[0].Name != tc.name {
			t.Errorf("%q does not read back", tc.name)
		}
		g, err := Parse("t.nix", []byte(QuoteString(tc.name)))
		if err != nil {
			t.Fatalf("%q: %v", tc.name, err)
		}
		if str, ok := g.Root.(*String); !ok {
			t.Errorf("QuoteString(%q) is a %T", tc.name, g.Root)
		} else if v, ok := str.StaticString(); !ok || v != tc.name {
			t.Errorf("QuoteString(%q) reads back as %q", tc.name, v)
		}
	}
}

func TestGlobalsDependOnNixVersion(t *testing.T) {
	src := []byte(`__warn "x" (builtins.map toString [ true false null ])`)
	if _, err := Parse("t.nix", src); err != nil {
		t.Fatalf("current Nix has __warn: %v", err)
	}
	_, err := ParseWith("t.nix", src, Options{Dialect: Nix28})
	if err == nil || err.(*Error).Msg != "undefined variable '__warn'" {
		t.Fatalf("Nix 2.8 has no __warn: %v", err)
	}
	if _, err := ParseWith("t.nix", []byte("undefinedThing"), Options{NoScopeCheck: true}); err != nil {
		t.Fatalf("NoScopeCheck: %v", err)
	}
	if _, err := ParseWith("t.nix", []byte("{ a = 1; a = 2; }"), Options{NoScopeCheck: true}); err == nil {
		t.Fatal("NoScopeCheck must still reject duplicate attributes")
	}
}

func TestPositionsOnEveryNode(t *testing.T) {
	src := "let\n  x = 1;\nin\n  { y = [ x \"s\" ]; }\n"
	f := mustParse(t, src)
	Walk(f.Root, func(n Node) bool {
		p, e := n.Pos(), n.End()
		if p.Line == 0 || p.Col == 0 || e.Offset < p.Offset {
			t.Errorf("%T at %+v..%+v", n, p, e)
		}
		if got := src[p.Offset:e.Offset]; got != Text(n) {
			t.Errorf("%T: offsets give %q, Text gives %q", n, got, Text(n))
		}
		return true
	})
	l := Lookup(Body(f.Root), "y").Value.(*List)
	if p := l.Elems[1].Pos(); p.Line != 4 || p.Col != 13 || p.Offset != 28 {
		t.Errorf("\"s\" at %+v", p)
	}
}

func TestSetMergingDependsOnDialect(t *testing.T) {
	nested := []byte("{ a = { b.c = 1; }; a = { b.d = 2; }; }")
	if _, err := ParseWith("t.nix", nested, Options{Dialect: Nix28}); err == nil {
		t.Error("Nix 2.8 merges one level only: a.b clashes")
	}
	f, err := Parse("t.nix", nested)
	if err != nil {
		t.Fatalf("current Nix merges recursively: %v", err)
	}
	if s, _ := PrintNix(f, "/", "/"); s != "{ a = { b = { c = 1; d = 2; }; }; }" {
		t.Errorf("merged to %s", s)
	}
	// Dynamic attributes of the second set: dropped unchecked by 2.8, kept
	// (so their variables must be defined) by current Nix.
	dyn := []byte("{ a = {}; a = { ${undefinedName} = 1; }; }")
	if _, err := ParseWith("t.nix", dyn, Options{Dialect: Nix28}); err != nil {
		t.Errorf("Nix 2.8: %v", err)
	}
	if _, err := Parse("t.nix", dyn); err == nil {
		t.Error("current Nix checks the merged dynamic attribute")
	}
	if _, err := Parse("t.nix", []byte("{ a = { b = 1; }; a = { b = 2; }; }")); err == nil {
		t.Error("a.b defined twice must fail in every dialect")
	}
}

func TestIndentedStringEmptyPartsDependOnDialect(t *testing.T) {
	// ''  ''$'' strips to "" + "$": Nix 2.8 keeps the empty part, so the
	// name is an interpolation (not allowed in let); current Nix drops it
	// and the name is the plain string "$".
	src := []byte("let ${''  ''$''} = 1; in 1")
	if _, err := ParseWith("t.nix", src, Options{Dialect: Nix28}); err == nil || !strings.Contains(err.Error(), "dynamic attributes not allowed in let") {
		t.Errorf("Nix 2.8: %v", err)
	}
	if _, err := Parse("t.nix", src); err != nil {
		t.Errorf("current Nix: %v", err)
	}
}
