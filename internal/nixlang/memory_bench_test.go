package nixlang

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// generatedNix returns about size bytes of Nix shaped like the generated
// files fleets import (package sets, hardware databases): a rec attribute
// set of small attribute sets of strings, lists and selections.
func generatedNix(size int) []byte {
	var b strings.Builder
	b.WriteString("rec {\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  pkg%d = { name = \"pkg-%d\"; version = \"1.%d.%d\"; deps = [ pkg%d.name \"x%d\" %d ]; meta.description = \"A package number %d with some text\"; };\n",
			i, i, i%97, i%13, max(0, i-1), i, i, i)
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// BenchmarkParseMemory reports the bytes Parse allocates per byte of input
// (alloc-B/input-B) on a generated file and on a list of one-digit numbers
// (the most tokens per byte). scripts/bench-parse-memory.sh compares the
// peak memory of whole parses with nix-instantiate --parse's.
func BenchmarkParseMemory(b *testing.B) {
	for _, c := range []struct {
		name string
		src  []byte
	}{
		{"generated", generatedNix(4 << 20)},
		{"digits", []byte("[" + strings.Repeat(" 1", 2<<20) + " ]")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.src)))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := 0; i < b.N; i++ {
				if _, err := Parse("bench.nix", c.src); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(c.src)), "alloc-B/input-B")
		})
	}
}
