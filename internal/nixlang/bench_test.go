package nixlang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkParseCorpus parses every accepted corpus file with the full
// checks; scripts/bench-parse.sh compares against nix itself.
func BenchmarkParseCorpus(b *testing.B) {
	files, _ := filepath.Glob("testdata/corpus/ok_*.nix")
	var srcs [][]byte
	size := 0
	var names []string
	for _, f := range files {
		if os.Getenv("BENCH_SKIP_DEEP") != "" && strings.Contains(f, "deep") {
			continue
		}
		names = append(names, f)
		src, _ := os.ReadFile(f)
		srcs = append(srcs, src)
		size += len(src)
	}
	b.SetBytes(int64(size))
	for i := 0; i < b.N; i++ {
		for j, src := range srcs {
			if _, err := Parse(names[j], src); err != nil {
				b.Fatal(err)
			}
		}
	}
}
