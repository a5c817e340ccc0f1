package closure

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct{ in, pname, version string }{
		{"/nix/store/5860haxadsynqxdjzsgjdk1dypqzk0ac-hello-2.10", "hello", "2.10"},
		{"/nix/store/5860haxadsynqxdjzsgjdk1dypqzk0ac-hello-2.12-man", "hello", "2.12"},
		{"/nix/store/5860haxadsynqxdjzsgjdk1dypqzk0ac-python3.11-requests-2.31.0", "python3.11-requests", "2.31.0"},
		{"/nix/store/5860haxadsynqxdjzsgjdk1dypqzk0ac-nixos-system-web1-24.05.20240101.abcdef", "nixos-system-web1", "24.05.20240101.abcdef"},
		{"/nix/store/5860haxadsynqxdjzsgjdk1dypqzk0ac-etc", "etc", ""},
		{"/nix/store/5860haxadsynqxdjzsgjdk1dypqzk0ac-unit-nginx.service", "unit-nginx.service", ""},
		{"openssl-3.0.13-bin", "openssl", "3.0.13"},
		{"2048-in-terminal-2022", "2048-in-terminal", "2022"},
	} {
		p, v := ParseName(tc.in)
		if p != tc.pname || v != tc.version {
			t.Errorf("ParseName(%q) = %q, %q; want %q, %q", tc.in, p, v, tc.pname, tc.version)
		}
	}
}

func TestParsePathInfoReadsBothFormats(t *testing.T) {
	for _, f := range []string{"path-info-2.8.json", "path-info-2.19.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParsePathInfo(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(c) != 3 || c.Size() != 456 {
			t.Errorf("%s: %d paths, %d bytes; want 3 paths, 456 bytes (the top path's closureSize)", f, len(c), c.Size())
		}
	}
	if _, err := ParsePathInfo([]byte("error: path is not valid")); err == nil {
		t.Error("non-JSON output accepted")
	}
}

func closureOf(paths map[string]int64) Closure {
	c := Closure{}
	for p, n := range paths {
		p = "/nix/store/" + strings.Repeat("a", 32) + "-" + p
		c[p] = Path{p, n}
	}
	return c
}

func TestCompare(t *testing.T) {
	old := closureOf(map[string]int64{
		"hello-2.10": 100, "openssl-3.0.12": 1000, "openssl-1.1.1w": 900,
		"curl-8.4.0": 50, "etc": 10, "zlib-1.3": 5,
	})
	new := closureOf(map[string]int64{
		"hello-2.12": 120, "openssl-3.0.13": 1010,
		"ripgrep-14.0.3": 300, "etc": 12, "zlib-1.3": 5, "system-units": 1,
	})
	d := Compare(old, new)
	got := d.String()
	want := `Version changes:
  [C] hello  2.10 -> 2.12
  [C] openssl  1.1.1w, 3.0.12 -> 3.0.13
Added packages:
  [A] ripgrep  14.0.3
Removed packages:
  [R] curl  8.4.0
Closure size: 6 paths (2.0 KiB) -> 6 paths (1.4 KiB), -617 B
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d.SizeDelta() != 1448-2065 {
		t.Errorf("SizeDelta = %d", d.SizeDelta())
	}
}

func TestCompareIdenticalVersionsIsEmpty(t *testing.T) {
	a := closureOf(map[string]int64{"hello-2.10": 1, "etc": 1})
	b := Closure{}
	for p, v := range a {
		b[strings.Replace(p, "aaaa", "bbbb", 1)] = v // rebuilt: new hashes, same versions
	}
	if d := Compare(a, b); !d.Empty() || !strings.Contains(d.String(), "No package changes.") {
		t.Errorf("got %s", d)
	}
}

// TestQueryRealClosures builds two small systems with the real nix and
// diffs their closures as `nixherd diff` does.
func TestQueryRealClosures(t *testing.T) {
	testenv.NixEnv(t)
	dir := t.TempDir()
	expr := filepath.Join(dir, "systems.nix")
	os.WriteFile(expr, []byte(`
let
  mk = name: deps: builtins.derivation {
    inherit name; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "echo ${builtins.concatStringsSep " " deps} ${name} > $out" ];
  };
in {
  old = mk "nixos-system-t-1" [ "${mk "hello-2.10" []}" "${mk "curl-8.4.0" []}" ];
  new = mk "nixos-system-t-2" [ "${mk "hello-2.12" []}" "${mk "ripgrep-14.0.3" []}" ];
}`), 0o644)
	build := func(attr string) string {
		out, err := exec.Command("nix-build", "--no-out-link", expr, "-A", attr).Output()
		if err != nil {
			t.Fatalf("nix-build %s: %v", attr, err)
		}
		return strings.TrimSpace(string(out))
	}
	oldPath, newPath := build("old"), build("new")

	ctx := context.Background()
	oldC, err := Query(ctx, Local{}, oldPath)
	if err != nil {
		t.Fatal(err)
	}
	newC, err := Query(ctx, Local{}, newPath)
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(oldC, newC)
	s := d.String()
	for _, want := range []string{"[C] hello  2.10 -> 2.12", "[A] ripgrep  14.0.3", "[R] curl  8.4.0", "[C] nixos-system-t  1 -> 2"} {
		if !strings.Contains(s, want) {
			t.Errorf("diff lacks %q:\n%s", want, s)
		}
	}

	none, err := Query(ctx, Local{}, "/nix/store/"+strings.Repeat("0", 32)+"-never-deployed")
	if err != nil || len(none) != 0 {
		t.Fatalf("missing current system: %v, %d paths", err, len(none))
	}
}
