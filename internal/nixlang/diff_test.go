package nixlang

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDifferentialAgainstNix compares verdicts with nix-instantiate --parse
// on every file in $NIXLANG_DIFF_DIR (plain .nix files or Go fuzz corpus
// entries). It is a tool for hunting differences, run by hand:
//
//	NIXLANG_DIFF_DIR=/tmp/inputs go test -run Differential ./internal/nixlang/
func TestDifferentialAgainstNix(t *testing.T) {
	dir := os.Getenv("NIXLANG_DIFF_DIR")
	if dir == "" {
		t.Skip("NIXLANG_DIFF_DIR not set")
	}
	dialect := nixDialect(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mismatches := 0
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if bytes.HasPrefix(src, []byte("go test fuzz v1\n")) {
			lit := strings.TrimSpace(string(src[len("go test fuzz v1\n"):]))
			lit = strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")")
			s, err := strconv.Unquote(lit)
			if err != nil {
				continue
			}
			src = []byte(s)
		}
		name := filepath.Join(tmp, "input.nix")
		os.WriteFile(name, src, 0o644)
		nixOut, nixErr := exec.Command("nix-instantiate", "--parse", name).Output()
		f, ourErr := ParseWith(name, src, Options{Dialect: dialect})
		if nixErr == nil && ourErr == nil {
			ours, _ := PrintNix(f, "", os.Getenv("HOME"))
			if want, got := normalizeShown(strings.TrimRight(string(nixOut), "\n")), normalizeShown(ours); want != got {
				mismatches++
				t.Errorf("%s: %q: structure differs\n nix: %s\nours: %s", e.Name(), src, want, got)
			}
		}
		if (nixErr == nil) != (ourErr == nil) {
			mismatches++
			out, _ := exec.Command("nix-instantiate", "--parse", name).CombinedOutput()
			t.Errorf("%s: %q\n nix: %v %s\n ours: %v", e.Name(), src, nixErr, firstLine(out), ourErr)
		}
	}
	t.Logf("%d files, %d mismatches", len(entries), mismatches)
}
