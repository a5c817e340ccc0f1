package nixherd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

// TestFlake checks nixherd's own flake.nix, the package `nix run
// github:nixherd/nixherd` builds, as far as it can be without nixpkgs: it
// parses, its outputs evaluate against a stand-in nixpkgs to the package
// wanted (version stamped into internal/buildinfo, cmd/nixherd, tests off),
// the stamp really sets what `nixherd version` prints, and vendorHash is the
// hash of `go mod vendor`'s output for go.sum's modules, as buildGoModule
// computes it.
func TestFlake(t *testing.T) {
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	nix := testenv.NeedTool(t, "nix")
	testenv.NixEnv(t)
	if out, err := exec.Command(nixInstantiate, "--parse", "flake.nix").CombinedOutput(); err != nil {
		t.Fatalf("nix-instantiate --parse flake.nix: %v\n%s", err, out)
	}

	eval := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(nixInstantiate, append([]string{"--eval", "--strict", "--json", "testdata/stub-nixpkgs-flake.nix"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("evaluating flake.nix: %v\n%s", err, stderrOf(err))
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	got := eval("--argstr", "shortRev", "0123abc")
	want := map[string]any{
		"pname": "nixherd", "version": "0123abc", "subPackages": []any{"cmd/nixherd"}, "go": "1.26", "doCheck": false,
		"mainProgram": "nixherd", "same": true,
		"systems": []any{"aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"},
		"ldflags": []any{"-s", "-w", "-X github.com/nixherd/nixherd/internal/buildinfo.version=0123abc"},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("flake package %s = %v, want %v", k, got[k], w)
		}
	}
	if v := eval("--arg", "shortRev", "null")["version"]; v != "dirty" {
		t.Errorf("version of a dirty tree = %v, want dirty", v)
	}

	// The -X the flake passes sets what `nixherd version` prints.
	bin := filepath.Join(t.TempDir(), "nixherd")
	build := exec.Command("go", "build", "-ldflags", got["ldflags"].([]any)[2].(string), "-o", bin, "./cmd/nixherd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "nixherd 0123abc") {
		t.Errorf("nixherd version of the flake's build: %q, %v", out, err)
	}

	// vendorHash: go mod vendor from the module cache (no network), hashed
	// as nix hashes a fixed-output derivation's output.
	vendor := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command("go", "mod", "vendor", "-o", vendor)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	out, err := exec.Command(nix, "--extra-experimental-features", "nix-command", "hash", "path", vendor).Output()
	if err != nil {
		t.Fatalf("nix hash path: %v\n%s", err, stderrOf(err))
	}
	hash := strings.TrimSpace(string(out))
	if got["vendorHash"] != hash {
		t.Errorf("flake.nix's vendorHash is %v, but go mod vendor hashes to %s: run scripts/vendor-hash.sh and put that in flake.nix", got["vendorHash"], hash)
	}
	if !regexp.MustCompile(`^sha256-[A-Za-z0-9+/]{43}=$`).MatchString(hash) {
		t.Errorf("nix hash path printed %q", hash)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
