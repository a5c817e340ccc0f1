package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteKeepsModeAndLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), Keep); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, fi.Mode())
	}
	if err := Write(filepath.Join(dir, "sub", "g"), []byte("x"), Keep); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sub", "g")); fi.Mode().Perm() != Default {
		t.Fatalf("new file mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
}

// A staged change that is aborted leaves the target as it was.
func TestAbortLeavesTheOld(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("old"), 0o644)
	s, err := Stage(p, []byte("new"), Keep)
	if err != nil {
		t.Fatal(err)
	}
	s.Abort()
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("after abort: %q", b)
	}
	if _, err := os.Stat(s.Temp); !os.IsNotExist(err) {
		t.Fatalf("the staged file is left: %v", err)
	}
}
