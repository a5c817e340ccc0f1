package deploy

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/testenv"
)

// TestUnsignedCopyIsExplained copies an unsigned path into a store that
// checks signatures, with the real nix, and checks the deploy's error says
// what to do about it.
func TestUnsignedCopyIsExplained(t *testing.T) {
	testenv.NixEnv(t)
	dir := t.TempDir()
	out, err := exec.Command("nix-build", "--no-out-link", "-E",
		`builtins.derivation { name = "unsigned-`+filepath.Base(dir)+`"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }`).Output()
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSpace(string(out))
	ctx := context.Background()
	n, err := nix.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	copyErr := n.Copy(ctx, filepath.Join(dir, "store"), []string{path}, nix.CopyOptions{})
	if copyErr == nil {
		t.Fatal("copying an unsigned path into a store that checks signatures succeeded")
	}
	err = explainCopy("devnix", copyErr)
	var ue *UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("not explained: %v", err)
	}
	for _, want := range []string{"devnix: the host's Nix refused the closure", "trusted-users", "nix store sign"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if other := explainCopy("devnix", errors.New("connection refused")); errors.As(other, &ue) {
		t.Error("an unrelated error was explained as a signature problem")
	}
}
