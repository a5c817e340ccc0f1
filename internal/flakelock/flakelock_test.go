package flakelock

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

func TestParseRef(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
	}{
		{"github:NixOS/nixpkgs/nixos-unstable", map[string]string{"type": "github", "owner": "NixOS", "repo": "nixpkgs", "ref": "nixos-unstable"}},
		{"github:nix-darwin/nix-darwin", map[string]string{"type": "github", "owner": "nix-darwin", "repo": "nix-darwin"}},
		{"github:a/b/0123456789abcdef0123456789abcdef01234567", map[string]string{"type": "github", "owner": "a", "repo": "b", "rev": "0123456789abcdef0123456789abcdef01234567"}},
		{"github:a/b?dir=sub", map[string]string{"type": "github", "owner": "a", "repo": "b", "dir": "sub"}},
		{"git+ssh://git@github.com/user/my-service.git", map[string]string{"type": "git", "url": "ssh://git@github.com/user/my-service.git"}},
		{"git+file:///src/x?ref=main&rev=0123456789abcdef0123456789abcdef01234567", map[string]string{"type": "git", "url": "file:///src/x", "ref": "main", "rev": "0123456789abcdef0123456789abcdef01234567"}},
		{"path:/tmp/x", map[string]string{"type": "path", "path": "/tmp/x"}},
		{"/tmp/x", map[string]string{"type": "path", "path": "/tmp/x"}},
		{"https://example.org/x.tar.gz", map[string]string{"type": "tarball", "url": "https://example.org/x.tar.gz"}},
		{"nixpkgs", map[string]string{"type": "indirect", "id": "nixpkgs"}},
		{"nixpkgs/nixos-24.05", map[string]string{"type": "indirect", "id": "nixpkgs", "ref": "nixos-24.05"}},
	}
	for _, c := range cases {
		got, err := ParseRef(c.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseRef(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "github:onlyowner", "svn+https://x"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted a bad reference", bad)
		}
	}
}

func TestParseFollowsAndFlakeFalse(t *testing.T) {
	l, err := Parse([]byte(`{"nodes":{
		"a":{"locked":{"rev":"0123456789abcdef0123456789abcdef01234567","type":"git","url":"file:///a"},"original":{"type":"git","url":"file:///a"},"inputs":{"x":["b"]}},
		"b":{"flake":false,"locked":{"narHash":"sha256-x","type":"path","path":"/b"},"original":{"type":"path","path":"/b"}},
		"root":{"inputs":{"a":"a","b":"b","c":["a"]}}},"root":"root","version":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.RootInputs(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("RootInputs = %v", got)
	}
	ref, node, ok := l.Input("c")
	if !ok || !ref.IsFollows() || node != l.Nodes["a"] {
		t.Errorf("Input(c) = %v %v %v, want follows to a", ref, node, ok)
	}
	if _, node, _ := l.Input("b"); node.Flake {
		t.Error("b should be flake = false")
	}
	if _, _, ok := l.Input("zzz"); ok {
		t.Error("unknown input reported as locked")
	}
	if got := l.Nodes["a"].Rev(); got != "0123456789ab" {
		t.Errorf("Rev = %q", got)
	}
	if _, err := Parse([]byte(`{"nodes":{}}`)); err == nil {
		t.Error("a lock without a root node was accepted")
	}
}

// TestOriginalMatchesNix locks local inputs with the real nix and checks
// that ParseRef of each URL is what nix recorded as "original".
func TestOriginalMatchesNix(t *testing.T) {
	nix := testenv.NixEnv(t)
	testenv.NeedTool(t, "git")
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	plain := filepath.Join(dir, "plain")
	for _, d := range []string{repo, plain, filepath.Join(dir, "flake")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(repo, "flake.nix"), `{ outputs = _: { }; }`)
	write(t, filepath.Join(plain, "x"), "x")
	run(t, repo, "git", "init", "-q", "-b", "main")
	run(t, repo, "git", "add", ".")
	run(t, repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
	urls := map[string]string{
		"gitref": "git+file://" + repo + "?ref=main",
		"git":    "git+file://" + repo,
		"path":   "path:" + plain,
		"bare":   plain,
	}
	flake := "{ inputs = {\n"
	for name, u := range urls {
		flake += "  " + name + " = { url = \"" + u + "\"; flake = " + map[bool]string{true: "true", false: "false"}[name[0] == 'g'] + "; };\n"
	}
	flake += "  f.follows = \"git\";\n}; outputs = _: { }; }\n"
	write(t, filepath.Join(dir, "flake", "flake.nix"), flake)
	run(t, filepath.Join(dir, "flake"), nix, "--extra-experimental-features", "nix-command flakes", "flake", "lock")

	l, err := Read(filepath.Join(dir, "flake", "flake.lock"))
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range urls {
		_, node, ok := l.Input(name)
		if !ok || node == nil {
			t.Fatalf("input %s not in lock", name)
		}
		want, err := ParseRef(u)
		if err != nil {
			t.Fatal(err)
		}
		if !SameSource(want, node.Original) {
			t.Errorf("%s: ParseRef(%q) = %v, nix recorded %v", name, u, want, node.Original)
		}
		if node.Flake != (name[0] == 'g') {
			t.Errorf("%s: Flake = %v", name, node.Flake)
		}
	}
	ref, _, _ := l.Input("f")
	if !reflect.DeepEqual(ref.Follows, []string{"git"}) {
		t.Errorf("f follows %v, want [git]", ref.Follows)
	}
	other, _ := ParseRef("git+file://" + repo + "?ref=other")
	_, node, _ := l.Input("gitref")
	if SameSource(other, node.Original) {
		t.Error("a different ref compared as the same source")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
