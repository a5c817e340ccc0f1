package scaffold

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd"
	"github.com/nixherd/nixherd/internal/testenv"
)

// onDisk is the reference fleet as checked in, which the embedded copy and
// a default init must reproduce byte for byte.
var onDisk = os.DirFS("../../examples/fleet")

func filesOf(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = fs.ReadFile(fsys, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func rendered(t *testing.T, opts Options) map[string][]byte {
	t.Helper()
	files, err := Render(nixherd.ReferenceFleet, opts)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, f := range files {
		m[f.Path] = f.Data
	}
	return m
}

func sameFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for p, data := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("missing %s", p)
		} else if !bytes.Equal(g, data) {
			t.Errorf("%s differs", p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("extra %s", p)
		}
	}
}

func TestDefaultRenderIsTheReferenceFleet(t *testing.T) {
	want := filesOf(t, onDisk)
	sameFiles(t, filesOf(t, nixherd.ReferenceFleet), want)
	sameFiles(t, rendered(t, Options{Pull: true}), want)
	sameFiles(t, rendered(t, Options{User: DefaultUser, Machines: []string{"ephem", "devnix", "devmac"}, Pull: true}), want)
}

// TestPullIsOffUnlessAsked: by default init writes the agent module off on
// every machine and no machine pulled in deploy.nix; those are the only
// differences from the reference fleet, which has pull mode on.
func TestPullIsOffUnlessAsked(t *testing.T) {
	ref := filesOf(t, onDisk)
	got := rendered(t, Options{})
	if len(got) != len(ref) {
		t.Fatalf("%d files, the reference fleet has %d", len(got), len(ref))
	}
	changed := 0
	for p, b := range got {
		data, r := string(b), string(ref[p])
		if data == r {
			continue
		}
		changed++
		switch {
		case p == "deploy.nix":
			if strings.Contains(data, "pull = {") || strings.Count(r, "pull = { agent = ") != 3 {
				t.Errorf("deploy.nix still declares pulled machines:\n%s", data)
			}
		case strings.HasPrefix(p, "machines/"):
			if strings.Contains(data, agentOn) || !strings.Contains(data, agentOff) ||
				strings.ReplaceAll(r, agentOn, agentOff) != data {
				t.Errorf("%s: not just the agent turned off", p)
			}
		default:
			t.Errorf("%s differs from the reference fleet", p)
		}
	}
	if changed != 4 {
		t.Errorf("%d files differ, want deploy.nix and the three machines", changed)
	}
}

func TestWriteDefaultIsTheReferenceFleet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	if _, err := Write(context.Background(), nixherd.ReferenceFleet, dir, Options{Pull: true}, false); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, filesOf(t, os.DirFS(dir)), filesOf(t, onDisk))
	if info, err := os.Stat(filepath.Join(dir, "provision.sh")); err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("provision.sh is not executable: %v", info)
	}
}

func TestUserIsSubstitutedOnlyAsAToken(t *testing.T) {
	ref := filesOf(t, onDisk)
	got := rendered(t, Options{User: "alice", Pull: true})
	for p, data := range got {
		if !isText(p) {
			if !bytes.Equal(data, ref[p]) {
				t.Errorf("%s changed; only .nix and .md files may", p)
			}
			continue
		}
		if n := tokenLine(string(data), DefaultUser); n > 0 && !strings.HasSuffix(p, ".md") {
			t.Errorf("%s:%d still names %s", p, n, DefaultUser)
		}
	}
	for p, want := range map[string][]string{
		"flake.nix":                    {"users.alice = {"},
		"machines/devmac/default.nix":  {`system.primaryUser = "alice";`, `home = "/Users/alice";`, "home-manager.users.alice = {"},
		"machines/common/nixos-vm.nix": {"users.users.alice = {", `owner = "alice";`},
		"keys.nix":                     {`alice = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S alice@demo";`, "deploy = [ alice ];"},
		"secrets/secrets.nix":          {"inherit (import ../keys.nix) alice devmac devnix ephem;", "users = [ alice ];"},
	} {
		for _, s := range want {
			if !bytes.Contains(got[p], []byte(s)) {
				t.Errorf("%s lacks %q", p, s)
			}
		}
	}
	// Nothing but the user's name changes.
	for p, data := range got {
		if back := replaceToken(string(data), "alice", DefaultUser); back != string(ref[p]) {
			t.Errorf("%s: replacing alice back does not give the reference file", p)
		}
	}
}

func TestBadUserNames(t *testing.T) {
	for _, user := range []string{"Bob", "1abc", "-x", "a b", "devnix", "nixpkgs", "config", "let", "root", strings.Repeat("a", 33)} {
		if _, err := Render(nixherd.ReferenceFleet, Options{User: user}); err == nil {
			t.Errorf("user %q accepted", user)
		}
	}
}

func TestMachinesSubset(t *testing.T) {
	for _, tt := range []struct {
		keep    []string
		dropped []string
		common  bool
	}{
		{[]string{"devmac"}, []string{"devnix", "ephem"}, false},
		{[]string{"devnix"}, []string{"devmac", "ephem"}, true},
		{[]string{"ephem", "devmac"}, []string{"devnix"}, true},
		{[]string{"devnix", "ephem"}, []string{"devmac"}, true},
	} {
		got := rendered(t, Options{Machines: tt.keep})
		for p, data := range got {
			for _, m := range tt.dropped {
				if strings.HasPrefix(p, "machines/"+m+"/") {
					t.Errorf("keep %v: %s written", tt.keep, p)
				}
				if p == "flake.nix" || p == "keys.nix" || p == "secrets/secrets.nix" || p == "deploy.nix" {
					if n := tokenLine(string(data), m); n > 0 {
						t.Errorf("keep %v: %s:%d still names %s", tt.keep, p, n, m)
					}
				}
			}
		}
		for _, m := range tt.keep {
			if _, ok := got["machines/"+m+"/default.nix"]; !ok {
				t.Errorf("keep %v: machines/%s missing", tt.keep, m)
			}
			if !bytes.Contains(got["flake.nix"], []byte(m+" = ")) || !bytes.Contains(got["keys.nix"], []byte(m+" = ")) {
				t.Errorf("keep %v: %s's flake output or host key missing", tt.keep, m)
			}
		}
		if _, ok := got["machines/common/nixos-vm.nix"]; ok != tt.common {
			t.Errorf("keep %v: machines/common written = %v, want %v", tt.keep, ok, tt.common)
		}
		checkWithNix(t, got, tt.keep)
	}
}

// checkWithNix parses every .nix file of a rendered fleet with the real
// nix-instantiate and evaluates its secrets.nix.
func checkWithNix(t *testing.T, files map[string][]byte, keep []string) {
	t.Helper()
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	testenv.NixEnv(t)
	dir := writeTree(t, files)
	for p := range files {
		if strings.HasSuffix(p, ".nix") {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if out, err := exec.Command(nixInstantiate, "--parse", full).CombinedOutput(); err != nil {
				t.Errorf("%s does not parse: %v\n%s", p, err, out)
			}
		}
	}
	// The flake itself, with stub inputs: every machine kept evaluates.
	stub, _ := filepath.Abs("../../testdata/stub-flake-eval.nix")
	expr := "let o = (import " + stub + " { fleet = " + dir + "; }).outputs; hosts = s: map (c: c.config.networking.hostName) (builtins.attrValues s); in hosts o.darwinConfigurations ++ hosts o.nixosConfigurations"
	if out, err := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "--expr", expr).CombinedOutput(); err != nil {
		t.Errorf("flake.nix does not evaluate with stub inputs: %v\n%s", err, out)
	} else {
		var hosts []string
		json.Unmarshal(out, &hosts)
		if len(hosts) != len(keep) {
			t.Errorf("flake outputs hosts %v, want %v", hosts, keep)
		}
	}
	for _, p := range []string{"secrets/secrets.nix", "deploy.nix"} {
		if out, err := exec.Command(nixInstantiate, "--eval", "--strict", filepath.Join(dir, p)).CombinedOutput(); err != nil {
			t.Errorf("%s does not evaluate: %v\n%s", p, err, out)
		}
	}
}

func TestUnknownMachine(t *testing.T) {
	_, err := Render(nixherd.ReferenceFleet, Options{Machines: []string{"devnix", "laptop"}})
	if err == nil || !strings.Contains(err.Error(), `unknown machine "laptop"`) || !strings.Contains(err.Error(), "devmac, devnix, ephem") {
		t.Errorf("err = %v", err)
	}
}

func TestDropMachine(t *testing.T) {
	in := "let\n  inherit (import ./keys.nix) a box other;\n  inherit (x) box;\nin {\n  a = 1;\n  box = import ./box;\n  deploy = {\n    box = {\n      target = \"root@box\";\n    };\n    other = { };\n  };\n  all = [ a box other ];\n  # box is gone\n}\n"
	want := "let\n  inherit (import ./keys.nix) a other;\nin {\n  a = 1;\n  deploy = {\n    other = { };\n  };\n  all = [ a other ];\n  # box is gone\n}\n"
	// (a blank line on both sides of a dropped binding becomes one)
	got, err := dropMachine(in, "box")
	if err != nil || got != want {
		t.Errorf("dropMachine = %q, %v\nwant %q", got, err, want)
	}
	// A layout the edit does not understand is refused with its line.
	for _, in := range []string{"{\n  x = box;\n}\n", "{\n  box =\n    1;\n}\n"} {
		if _, err := dropMachine(in, "box"); err == nil || !strings.HasPrefix(err.Error(), "2: ") {
			t.Errorf("dropMachine(%q) err = %v, want one naming line 2", in, err)
		}
	}
}

func TestWriteRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Write(context.Background(), nixherd.ReferenceFleet, dir, Options{}, false)
	var notEmpty *NotEmptyError
	if !errors.As(err, &notEmpty) {
		t.Fatalf("err = %v, want NotEmptyError", err)
	}
	if got := filesOf(t, os.DirFS(dir)); len(got) != 1 || string(got["flake.nix"]) != "mine" {
		t.Errorf("dir changed: %v", got)
	}
	assertNoStaging(t, filepath.Dir(dir))
	assertNoStaging(t, dir)
}

func TestWriteForce(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "flake.nix"), []byte("mine"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o644)
	if _, err := Write(context.Background(), nixherd.ReferenceFleet, dir, Options{Pull: true}, true); err != nil {
		t.Fatal(err)
	}
	got := filesOf(t, os.DirFS(dir))
	if string(got["notes.txt"]) != "keep me" {
		t.Error("--force removed a file the fleet does not have")
	}
	delete(got, "notes.txt")
	sameFiles(t, got, filesOf(t, onDisk))
	assertNoStaging(t, filepath.Dir(dir))
	assertNoStaging(t, dir)
}

func TestWriteForceRefusesFolderInTheWay(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "flake.nix"), 0o755)
	if _, err := Write(context.Background(), nixherd.ReferenceFleet, dir, Options{}, true); err == nil {
		t.Fatal("a folder named flake.nix was replaced")
	}
	if got := filesOf(t, os.DirFS(dir)); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
	assertNoStaging(t, filepath.Dir(dir))
	assertNoStaging(t, dir)
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	// Bad options fail before anything is created.
	dir := filepath.Join(parent, "fleet")
	if _, err := Write(context.Background(), nixherd.ReferenceFleet, dir, Options{Machines: []string{"nope"}}, false); err == nil {
		t.Fatal("unknown machine accepted")
	}
	// A parent that is a file cannot hold the fleet.
	blocker := filepath.Join(parent, "file")
	os.WriteFile(blocker, nil, 0o644)
	if _, err := Write(context.Background(), nixherd.ReferenceFleet, filepath.Join(blocker, "fleet"), Options{}, false); err == nil {
		t.Fatal("wrote below a file")
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func assertNoStaging(t *testing.T, parent string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".nixherd-init-") {
			t.Errorf("staging folder %s left behind", e.Name())
		}
	}
}

// An existing empty folder, even the working directory, gets the fleet in
// place (it is not replaced by another folder).
func TestWriteIntoEmptyWorkingDirectory(t *testing.T) {
	want := filesOf(t, onDisk) // a relative path: read before changing folders
	dir := t.TempDir()
	t.Chdir(dir)
	before, _ := os.Stat(".")
	if _, err := Write(context.Background(), nixherd.ReferenceFleet, ".", Options{Pull: true}, false); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(dir)
	if !os.SameFile(before, after) {
		t.Error("the folder was replaced, not filled")
	}
	sameFiles(t, filesOf(t, os.DirFS(dir)), want)
	assertNoStaging(t, dir)
}
