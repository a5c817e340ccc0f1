package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/nixlang"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReadDataPlainAndComputed(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"keys.nix": `{ alice = "ssh-ed25519 AAAAalice"; hosts = { web = "ssh-ed25519 AAAAweb"; db = "ssh-ed25519 AAAAdb"; }; }`,
		"deploy.nix": `let
  keys = import ./keys.nix;
  common = { buildOn = "local"; tags = [ "prod" ]; };
  port = 2222;
in {
  machines = {
    web = common // { target = "root@10.0.0.1:${toString port}"; tags = common.tags ++ [ "eu" ]; };
    laptop.target = "local";
  };
  enabled = true;
  nothing = null;
  n = 3;
  s = ''
    line
  '';
  p = ./hosts;
  recipients = builtins.attrValues keys.hosts;
  names = builtins.attrNames keys.hosts;
}`,
	})
	v, err := ReadData(root, "deploy.nix")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"machines": map[string]any{
			"web":    map[string]any{"target": "root@10.0.0.1:2222", "tags": []any{"prod", "eu"}, "buildOn": "local"},
			"laptop": map[string]any{"target": "local"},
		},
		"enabled": true, "nothing": nil, "n": int64(3), "s": "line\n", "p": "hosts",
		"recipients": []any{"ssh-ed25519 AAAAdb", "ssh-ed25519 AAAAweb"},
		"names":      []any{"db", "web"},
	}
	if got := v.Interface(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if p := v.Get("machines").Get("laptop").Get("target").Pos; p != (nixlang.Position{File: "deploy.nix", Line: 8, Col: 21}) {
		t.Fatalf("laptop.target at %v", p)
	}
	if p := v.Get("recipients").List[0].Pos; p.File != "keys.nix" {
		t.Fatalf("an imported value is at %v, want keys.nix", p)
	}
}

func TestReadDataRefusesWhatItCannotKnow(t *testing.T) {
	for src, want := range map[string]string{
		`{ a = builtins.readFile /etc/passwd; }`:                 "deploy.nix:1:7",
		`{ a = import ../outside.nix; }`:                         "deploy.nix:1:7",
		`{ ${builtins.getEnv "X"} = 1; }`:                        "deploy.nix:1:1",
		`{ f = x: x; }`:                                          "a function",
		`let pkgs = import <nixpkgs> {}; in { a = pkgs.hello; }`: "pkgs.hello",
	} {
		root := writeFiles(t, map[string]string{"deploy.nix": src, "../outside.nix": "{}"})
		_, err := ReadData(root, "deploy.nix")
		var ue *UnknownError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want an UnknownError with %q", src, err, want)
		}
	}
	root := writeFiles(t, map[string]string{"deploy.nix": "{ a = 1 }"})
	var perr *nixlang.Error
	if _, err := ReadData(root, "deploy.nix"); !errors.As(err, &perr) {
		t.Errorf("a syntax error: %v", err)
	}
}

// A file of the fleet that is a link out of it is not read: an error must
// not show another file's contents.
func TestReadDataDoesNotFollowLinksOut(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("ghp_SUPERSECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := writeFiles(t, map[string]string{"deploy.nix": "import ./keys.nix"})
	if err := os.Symlink(secret, filepath.Join(root, "keys.nix")); err != nil {
		t.Fatal(err)
	}
	_, err := ReadData(root, "deploy.nix")
	if err == nil || strings.Contains(err.Error(), "SUPERSECRET") || !strings.Contains(err.Error(), "out of the fleet") {
		t.Fatalf("error %v", err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "direct.nix")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadData(root, "direct.nix"); err == nil || strings.Contains(err.Error(), "SUPERSECRET") {
		t.Fatalf("reading a link out directly: %v", err)
	}
}
