package update

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/testenv"
)

func TestCommandByVersion(t *testing.T) {
	nix := []string{"nix", "--extra-experimental-features", "nix-command flakes"}
	cases := []struct {
		version string
		inputs  []string
		want    []string
	}{
		{"nix (Nix) 2.8.0", nil, append(nix, "flake", "update")},
		{"nix (Nix) 2.8.0", []string{"a", "b"}, append(nix, "flake", "lock", "--update-input", "a", "--update-input", "b")},
		{"nix (Nix) 2.18.9", []string{"a"}, append(nix, "flake", "lock", "--update-input", "a")},
		{"nix (Nix) 2.19.0", []string{"a", "b"}, append(nix, "flake", "update", "a", "b")},
		{"nix (Nix) 2.24.10", []string{"a"}, append(nix, "flake", "update", "a")},
		{"nix (Lix, like Nix) 2.91.1", []string{"a"}, append(nix, "flake", "lock", "--update-input", "a")},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.version)
		if err != nil {
			t.Fatal(err)
		}
		if got := Command(v, c.inputs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v: %q, want %q", c.version, c.inputs, got, c.want)
		}
	}
	for version, want := range map[string]string{
		"nix (Nix) 2.8.0":            "show-config",
		"nix (Nix) 2.19.3":           "show-config",
		"nix (Nix) 2.20.0":           "config show",
		"nix (Lix, like Nix) 2.91.1": "show-config",
	} {
		v, _ := ParseVersion(version)
		if got := strings.Join(ShowConfigCommand(v), " "); got != want {
			t.Errorf("%s: %q, want %q", version, got, want)
		}
	}
	if _, err := ParseVersion("garbage"); err == nil {
		t.Error("ParseVersion accepted garbage")
	}
}

func TestWithAccessTokenAppendsToNixConfig(t *testing.T) {
	env := WithAccessToken([]string{"HOME=/root", "NIX_CONFIG=substituters =", "PATH=/bin"}, "github.com=ghp_x")
	want := []string{"HOME=/root", "PATH=/bin", "NIX_CONFIG=substituters =\naccess-tokens = github.com=ghp_x"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("got %q, want %q", env, want)
	}
	env = WithAccessToken([]string{"HOME=/root"}, "github.com=ghp_x")
	if env[len(env)-1] != "NIX_CONFIG=access-tokens = github.com=ghp_x" {
		t.Errorf("got %q", env)
	}
}

func TestRedactorHidesTokenAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	r := &redactor{w: &out, secrets: tokenParts("github.com=ghp_secret")}
	r.Write([]byte("error: token ghp_se"))
	r.Write([]byte("cret refused\nlast ghp_secret"))
	r.Flush()
	if strings.Contains(out.String(), "ghp_secret") || strings.Count(out.String(), "[redacted]") != 2 {
		t.Errorf("output %q", out.String())
	}
}

func TestTokenSetting(t *testing.T) {
	for in, want := range map[string]string{
		"ghp_abc\n":                                        "github.com=ghp_abc",
		"access-tokens = github.com=ghp_abc\n":             "github.com=ghp_abc",
		"access-tokens = github.com=a gitlab.com=OAuth2:b": "github.com=a gitlab.com=OAuth2:b",
		"github.com=ghp_abc":                               "github.com=ghp_abc",
		"gitlab.example.com/group=PAT:x-y_z":               "gitlab.example.com/group=PAT:x-y_z",
	} {
		if got, err := TokenSetting(in); err != nil || got != want {
			t.Errorf("TokenSetting(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// A secret that is not a token is refused, and the error shows none of it:
// a line break in it became a nix setting of its own.
func TestTokenSettingRefusesWhatIsNotAToken(t *testing.T) {
	for _, in := range []string{
		"ghp_SECRETX\nallow-unsafe-native-code-during-evaluation = true",
		"github.com=ghp_SECRETX\rextra-substituters = http://evil",
		"access-tokens = github.com=ghp_SECRETX\npost-build-hook = /tmp/x",
		"ghp_SECRETX extra",
		"ghp_SECRETX\x1b[2J",
		"github.com=ghp_SECRETX =ghp_SECRETY",
		"-bad=ghp_SECRETX",
		"github.com=",
		"",
	} {
		got, err := TokenSetting(in)
		if !errors.Is(err, ErrBadToken) {
			t.Errorf("TokenSetting(%q) = %q, %v; want ErrBadToken", in, got, err)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "allow-unsafe") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

func TestKeepOldLockRestoresATornLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flake.lock")
	old := []byte(`{"nodes":{"root":{}},"root":"root","version":7}`)
	os.WriteFile(path, []byte(`{"nodes":{"ro`), 0o644)
	if err := keepOldLock(path, old); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("lock is %q, want the old one back", got)
	}
	valid := []byte(`{"nodes":{"root":{"inputs":{}}},"root":"root","version":7}`)
	os.WriteFile(path, valid, 0o644)
	keepOldLock(path, old)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, valid) {
		t.Errorf("a complete new lock was replaced")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestRateLimitAdvice(t *testing.T) {
	msg := "error: unable to download 'https://api.github.com/repos/NixOS/nixpkgs/commits/x': HTTP error 403\n\n       response body:\n\n       {\"message\":\"API rate limit exceeded for 1.2.3.4.\"}"
	if !rateLimited(msg) {
		t.Fatal("rate limit not recognised")
	}
	if rateLimited("error: cannot find flake 'flake:nope'") {
		t.Fatal("an unrelated error looked like a rate limit")
	}
	err := rateLimitAdvice(false)
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "nixherd secrets edit github-token") {
		t.Errorf("advice: %v", err)
	}
}

// TestUpdateOneInput locks a flake with two local git inputs using the real
// nix, commits to both, updates one and checks only its lock moved.
func TestUpdateOneInput(t *testing.T) {
	nix := testenv.NixEnv(t)
	testenv.NeedTool(t, "git")
	dir := t.TempDir()
	a, b := newRepo(t, dir, "a"), newRepo(t, dir, "b")
	flake := filepath.Join(dir, "flake")
	os.MkdirAll(flake, 0o755)
	os.WriteFile(filepath.Join(flake, "flake.nix"), []byte(`{
  inputs.a = { url = "git+file://`+a+`"; flake = false; };
  inputs.b = { url = "git+file://`+b+`"; flake = false; };
  outputs = _: { };
}
`), 0o644)
	var log bytes.Buffer
	res, err := Run(context.Background(), Options{Dir: flake, Nix: nix, Stderr: &log})
	if err != nil {
		t.Fatalf("first lock: %v\n%s", err, log.String())
	}
	if len(res.Changes) != 2 || res.Changes[0].Old != "" {
		t.Fatalf("first lock changes: %+v", res.Changes)
	}
	before, _ := flakelock.Read(filepath.Join(flake, "flake.lock"))
	commit(t, a, "two")
	commit(t, b, "two")

	res, err = Run(context.Background(), Options{Dir: flake, Nix: nix, Inputs: []string{"a"}, Stderr: &log})
	if err != nil {
		t.Fatalf("update a: %v\n%s", err, log.String())
	}
	after, _ := flakelock.Read(filepath.Join(flake, "flake.lock"))
	_, ab, _ := before.Input("a")
	_, aa, _ := after.Input("a")
	_, bb, _ := before.Input("b")
	_, ba, _ := after.Input("b")
	if ab.Rev() == aa.Rev() {
		t.Error("a was not updated")
	}
	if bb.Rev() != ba.Rev() {
		t.Error("b was updated although only a was asked for")
	}
	if len(res.Changes) != 1 || res.Changes[0].Input != "a" || res.Changes[0].Old != ab.Rev() || res.Changes[0].New != aa.Rev() {
		t.Errorf("changes: %+v", res.Changes)
	}
}

func newRepo(t *testing.T, dir, name string) string {
	t.Helper()
	repo := filepath.Join(dir, name)
	os.MkdirAll(repo, 0o755)
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "one")
	return repo
}

func commit(t *testing.T, repo, content string) {
	t.Helper()
	os.WriteFile(filepath.Join(repo, "file"), []byte(content), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", content)
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
