package update

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Version is the installed nix's version, as `nix --version` prints it.
type Version struct {
	Major, Minor, Patch int
	// Lix is set for Lix, which forked from Nix 2.18 and numbers its
	// releases 2.90 and up, so its number says nothing about Nix features.
	Lix bool
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the output of `nix --version`, e.g. "nix (Nix) 2.8.0"
// or "nix (Lix, like Nix) 2.91.1".
func ParseVersion(out string) (Version, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return Version{}, fmt.Errorf("cannot read a version from %q", strings.TrimSpace(out))
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	v.Lix = strings.Contains(out, "Lix")
	return v, nil
}

// ProbeVersion runs `nix --version`.
func ProbeVersion(ctx context.Context, nix string, env []string) (Version, error) {
	cmd := exec.CommandContext(ctx, nix, "--version")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return Version{}, fmt.Errorf("cannot run %s --version: %w", nix, err)
	}
	return ParseVersion(string(out))
}
