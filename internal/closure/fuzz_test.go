package closure

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePathInfo feeds ParsePathInfo what a broken or hostile host
// might print for `nix path-info -r --json`: it must not panic, what it
// accepts keys every path by its own name with a size that is not
// negative, and comparing and printing such closures must not panic
// either.
func FuzzParsePathInfo(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, _ := os.ReadFile(name)
		f.Add(data)
	}
	f.Add([]byte(`[{"path":"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12","narSize":-1}]`))
	f.Add([]byte(`{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x-1":null,"/nix/store/b-\u001b]0;t\u0007-2":{"narSize":9223372036854775807}}`))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParsePathInfo(data)
		if err != nil {
			if len(err.Error()) > 2000 {
				t.Fatalf("an error of %d bytes quotes too much of the host's output", len(err.Error()))
			}
			return
		}
		for k, p := range c {
			if k != p.Path || p.NarSize < 0 {
				t.Fatalf("entry %q = %+v", k, p)
			}
		}
		if c.Size() < 0 {
			t.Fatalf("closure size %d", c.Size())
		}
		_ = Compare(c, Closure{}).String()
		_ = Compare(Closure{}, c).String()
	})
}
