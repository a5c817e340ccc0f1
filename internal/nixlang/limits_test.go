package nixlang

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file over MaxFileSize is refused before it is lexed, by Parse and by
// ReadFile (which does not read it all), naming the file and the limit.
func TestFileSizeLimit(t *testing.T) {
	ok := []byte("1" + strings.Repeat(" ", MaxFileSize-1))
	if _, err := Parse("max.nix", ok); err != nil {
		t.Fatalf("a file of exactly MaxFileSize bytes: %v", err)
	}
	big := append(ok, ' ')
	_, err := Parse("big.nix", big)
	var ne *Error
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "big.nix") || !strings.Contains(err.Error(), "8 MiB") {
		t.Fatalf("Parse of MaxFileSize+1 bytes: got %v, want an *Error naming big.nix and the 8 MiB limit", err)
	}

	path := filepath.Join(t.TempDir(), "huge.nix")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1<<30); err != nil { // sparse: a GiB that costs no disk
		t.Fatal(err)
	}
	_, err = ReadFile(path)
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "huge.nix") || !strings.Contains(err.Error(), "1024.0 MiB") {
		t.Fatalf("ReadFile of a 1 GiB file: got %v, want an *Error with its size", err)
	}
}

// A long left-nested chain (1 + 1 + …, f x x …) is built by a loop in the
// parser but is as deep as nesting for everything that walks the tree; a
// 2 MB file of it used to overflow Go's 1 GB stack and kill nixherd.
func TestLongChainsAreBounded(t *testing.T) {
	for name, src := range map[string]string{
		"sum.nix":   "1" + strings.Repeat(" + 1", 500000),
		"apply.nix": "x: x" + strings.Repeat(" x", 500000),
		"has.nix":   "x: x" + strings.Repeat(" ? a", 500000),
	} {
		_, err := Parse(name, []byte(src))
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Errorf("%s: got %v, want the nesting limit", name, err)
		}
	}
	// Chains of ordinary length are untouched.
	if _, err := Parse("ok.nix", []byte("x: x"+strings.Repeat(" x", 10000)+strings.Repeat(" + 1", 10000))); err != nil {
		t.Fatal(err)
	}
}
