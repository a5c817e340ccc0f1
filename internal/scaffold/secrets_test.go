package scaffold

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/check"
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/testenv"
)

var update = flag.Bool("update", false, "write subset-secrets with the real age CLI")

const demoKeys = "../../testdata/demo-keys"

// properSubsets are the machine selections of `init --machines` that drop
// a machine, in the reference fleet's order.
func properSubsets() [][]string {
	var out [][]string
	for mask := 1; mask < 1<<len(Machines)-1; mask++ {
		var kept []string
		for i, m := range Machines {
			if mask&(1<<i) != 0 {
				kept = append(kept, m.Name)
			}
		}
		out = append(out, kept)
	}
	return out
}

// writeTree writes rendered files into a new folder.
func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// decrypt decrypts an age file with a demo key using the real age CLI.
func decrypt(t *testing.T, file, key string) ([]byte, error) {
	t.Helper()
	age := testenv.NeedTool(t, "age")
	return exec.Command(age, "-d", "-i", filepath.Join(demoKeys, key), file).Output()
}

// Every smaller fleet init writes passes check: its example secrets are
// encrypted to exactly the keys its secrets.nix lists, and they hold the
// reference fleet's demo values.
func TestSubsetSecrets(t *testing.T) {
	if *update {
		writeSubsetSecrets(t)
	}
	for _, kept := range properSubsets() {
		dir := writeTree(t, rendered(t, Options{Machines: kept}))
		f, err := fleet.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range check.Fleet(f, check.Env{}).Findings {
			if fd.Severity == check.Error || fd.Rule != "flake-lock" {
				t.Errorf("init --machines %s: %s [%s]", strings.Join(kept, ","), fd, fd.Rule)
			}
		}
		ages, _ := filepath.Glob(filepath.Join(dir, "secrets", "*.age"))
		if len(ages) != 4 {
			t.Fatalf("init --machines %s wrote secrets %v", strings.Join(kept, ","), ages)
		}
		for _, p := range ages {
			got, err := decrypt(t, p, "dylan")
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			want, err := decrypt(t, filepath.Join("../../examples/fleet/secrets", filepath.Base(p)), "dylan")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("init --machines %s: %s holds %q, want the reference value %q", strings.Join(kept, ","), filepath.Base(p), got, want)
			}
		}
	}
}

// writeSubsetSecrets encrypts the demo values of the reference secrets to
// the keys each smaller fleet lists, into subset-secrets/.
func writeSubsetSecrets(t *testing.T) {
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	age := testenv.NeedTool(t, "age")
	testenv.NixEnv(t)
	keepReferenceSecrets = true
	defer func() { keepReferenceSecrets = false }()
	if err := os.RemoveAll("subset-secrets"); err != nil {
		t.Fatal(err)
	}
	for _, kept := range properSubsets() {
		dir := writeTree(t, rendered(t, Options{Machines: kept}))
		out, err := exec.Command(nixInstantiate, "--eval", "--strict", "--json", filepath.Join(dir, "secrets", "secrets.nix")).Output()
		if err != nil {
			t.Fatalf("evaluating the rules of %v: %v", kept, err)
		}
		var rules map[string]struct {
			PublicKeys []string `json:"publicKeys"`
			Armor      bool     `json:"armor"`
		}
		if err := json.Unmarshal(out, &rules); err != nil {
			t.Fatal(err)
		}
		to := filepath.Join("subset-secrets", subsetKey(kept))
		if err := os.MkdirAll(to, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, rule := range rules {
			plain, err := decrypt(t, filepath.Join("../../examples/fleet/secrets", name), "dylan")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			recipients := filepath.Join(t.TempDir(), "recipients")
			if err := os.WriteFile(recipients, []byte(strings.Join(rule.PublicKeys, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"-e", "-R", recipients, "-o", filepath.Join(to, name)}
			if rule.Armor {
				args = append(args, "-a")
			}
			cmd := exec.Command(age, args...)
			cmd.Stdin = bytes.NewReader(plain)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("age %v: %v\n%s", args, err, out)
			}
		}
	}
}
