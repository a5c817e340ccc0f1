package update

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/nixherd/nixherd/internal/nix"
)

// Version is the installed nix's version, as `nix --version` prints it.
type Version struct {
	nix.Version
	// Lix is set for Lix, which forked from Nix 2.18 and numbers its
	// releases 2.90 and up, so its number says nothing about Nix features.
	Lix bool
}

// ParseVersion reads the output of `nix --version`, e.g. "nix (Nix) 2.8.0"
// or "nix (Lix, like Nix) 2.91.1".
func ParseVersion(out string) (Version, error) {
	v, err := nix.ParseVersion(out)
	if err != nil {
		return Version{}, err
	}
	return Version{Version: v, Lix: strings.Contains(out, "Lix")}, nil
}

// ProbeVersion runs `nix --version` with the nix and environment the update
// will use (internal/nix.Probe always takes nix from PATH).
func ProbeVersion(ctx context.Context, nixBin string, env []string) (Version, error) {
	cmd := exec.CommandContext(ctx, nixBin, "--version")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return Version{}, fmt.Errorf("cannot run %s --version: %w", nixBin, err)
	}
	return ParseVersion(string(out))
}
