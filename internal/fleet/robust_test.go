package fleet

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReaderSurvivesCorpus puts every file of nixlang's parser corpus (hard
// and odd Nix) in the places the reader evaluates — flake.nix, the secrets
// rules, a module with services — and reads the fleet: nothing may panic or
// hang, whatever the file holds.
func TestReaderSurvivesCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "nixlang", "testdata", "corpus", "*.nix"))
	files = append(files, filepath.Join("..", "..", "examples", "fleet", "flake.nix"))
	if len(files) < 10 {
		t.Fatalf("corpus not found (%d files)", len(files))
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, place := range []string{"flake.nix", "secrets/secrets.nix", "programs/services/git-services.nix", "machines/x/default.nix"} {
			dir := t.TempDir()
			write := func(rel, content string) {
				p := filepath.Join(dir, rel)
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(content), 0o644)
			}
			write("flake.nix", `{ outputs = { nixpkgs, ... }: { nixosConfigurations.x = nixpkgs.lib.nixosSystem { modules = [ ./machines/x ]; }; }; }`)
			write("machines/x/default.nix", `{ imports = [ ../../programs/services/git-services.nix ]; }`)
			write(place, string(src))
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s as %s: panic: %v", filepath.Base(file), place, r)
					}
				}()
				if _, err := Read(dir); err != nil && !strings.Contains(err.Error(), "not a fleet") {
					t.Errorf("%s as %s: %v", filepath.Base(file), place, err)
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s as %s: reading the fleet hangs", filepath.Base(file), place)
			}
		}
	}
}

// TestReaderBoundsEvaluation feeds the static evaluator expressions that
// recurse forever or grow exponentially: they must come out unknown, fast.
func TestReaderBoundsEvaluation(t *testing.T) {
	cases := []string{
		`let x = x; in { inputs.a.url = x; }`,
		`let f = n: f n; in { inputs.a.url = f 1; }`,
		`rec { a = b; b = a; inputs.a.url = a; }`,
		`let a0 = [ 1 ]; ` + chain("a", 40, " ++ ") + ` in { inputs = builtins.listToAttrs a40; }`,
		`let a0 = "x"; ` + chain("a", 40, " + ") + ` in { inputs.a.url = a40; }`,
		`let f = x: { inherit x; y = f x; }; in (f 1).y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y.y`,
	}
	for _, src := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(src), 0o644)
		start := time.Now()
		if _, err := Read(dir); err != nil {
			t.Errorf("%s: %v", src, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", src, d)
		}
	}
}

// chain writes `a1 = a0 OP a0; a2 = a1 OP a1; …` up to n.
func chain(name string, n int, op string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		prev := name + strconv.Itoa(i-1)
		b.WriteString(name + strconv.Itoa(i) + " = " + prev + op + prev + "; ")
	}
	return b.String()
}
