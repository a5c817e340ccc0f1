package nix

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

// TestEvalDataReadsOnlyTheRoot evaluates hostile data files with the real
// nix-instantiate: each tries to read or reach something outside the fleet
// and must fail without showing it, while imports inside the fleet work.
func TestEvalDataReadsOnlyTheRoot(t *testing.T) {
	testenv.NeedTool(t, "nix-instantiate")
	testenv.NixEnv(t)
	base := t.TempDir()
	fleet := filepath.Join(base, "fleet")
	const secret = "PRIVATE-KEY-MATERIAL-7c1f"
	outside := filepath.Join(base, "id_ed25519")
	write(t, outside, secret)
	write(t, filepath.Join(fleet, "keys.nix"), `{ alice = "ssh-ed25519 AAAA"; }`)
	write(t, filepath.Join(base, "elsewhere", "x.nix"), `"`+secret+`"`)
	if err := os.Symlink(outside, filepath.Join(fleet, "link")); err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	t.Setenv("NIXHERD_TEST_SECRET", secret)
	// A nix.conf that widens what evaluation may do: EvalData must undo it.
	t.Setenv("NIX_CONFIG", testenv.OfflineNixConfig+"\nallow-unsafe-native-code-during-evaluation = true\nnix-path = elsewhere="+filepath.Join(base, "elsewhere"))
	t.Setenv("NIX_PATH", "home="+base)

	ctx := context.Background()
	for name, src := range map[string]string{
		"readFile":     `{ x = builtins.readFile ` + outside + `; }`,
		"throw":        `throw (builtins.readFile ` + outside + `)`,
		"symlink":      `{ x = builtins.readFile ./link; }`,
		"getEnv":       `{ x = let v = builtins.getEnv "NIXHERD_TEST_SECRET"; in if v == "" then throw "empty" else v; }`,
		"fetchurl":     `{ x = builtins.fetchurl "` + srv.URL + `/x"; }`,
		"fetchTarball": `{ x = builtins.fetchTarball "` + srv.URL + `/x.tar.gz"; }`,
		"NIX_PATH":     `{ x = builtins.readFile <home/id_ed25519>; }`,
		"nix-path":     `{ x = import <elsewhere/x.nix>; }`,
		"exec":         `{ x = builtins.exec [ "sh" "-c" "echo '\"'` + secret + `'\"'" ]; }`,
		"derivation":   `{ x = import (derivation { name = "x"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "cat ` + outside + ` > $out" ]; }); }`,
		"getFlake":     `{ x = builtins.getFlake "path:` + base + `"; }`,
	} {
		file := filepath.Join(fleet, name+".nix")
		write(t, file, src)
		out, err := EvalData(ctx, fleet, file)
		if err == nil {
			t.Errorf("%s: evaluated to %s, want an error", name, out)
			continue
		}
		var ne *Error
		if !errors.As(err, &ne) {
			t.Errorf("%s: %v, want an *Error", name, err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(string(out), secret) {
			t.Errorf("%s: the secret got out: %v", name, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the HTTP server got %d requests", n)
	}

	// What a rules file needs works: imports of fleet files, through a
	// symlinked path to the fleet too.
	write(t, filepath.Join(fleet, "secrets", "secrets.nix"), `let k = import ../keys.nix; in { "a.age".publicKeys = [ k.alice ]; }`)
	out, err := EvalData(ctx, fleet, filepath.Join(fleet, "secrets", "secrets.nix"))
	if err != nil || string(out) != `{"a.age":{"publicKeys":["ssh-ed25519 AAAA"]}}` {
		t.Fatalf("import inside the fleet: %s, %v", out, err)
	}
	alias := filepath.Join(base, "alias")
	if err := os.Symlink(fleet, alias); err != nil {
		t.Fatal(err)
	}
	if _, err := EvalData(ctx, alias, filepath.Join(alias, "secrets", "secrets.nix")); err != nil {
		t.Fatalf("fleet reached through a symlink: %v", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
