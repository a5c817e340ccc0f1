package check

import (
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nix"
)

// Env is what the rules about the machine check runs on may ask of it. The
// zero Env knows nothing, and those rules then say nothing.
type Env struct {
	// NixVersion returns the version of the local nix, and false when there
	// is none (or it cannot say). It is called only when a rule needs it.
	NixVersion func() (nix.Version, bool)
}

// relativePathInputs is the Nix release from which a `path:./x` input is
// part of the flake that names it (Nix 2.26 release notes, "Support for
// relative path inputs"). Older Nix locks such an input by content hash and
// keeps using the locked copy after it changes, and it cannot read a
// flake.lock that 2.26 or later wrote for it.
var relativePathInputs = struct{ major, minor int }{2, 26}

// checkLocalNix warns about relative path inputs when the local nix is
// older than the release that supports them.
func checkLocalNix(f *fleet.Fleet, env Env) []Finding {
	var relative []*fleet.Input
	for _, in := range f.Inputs {
		if in.Attrs["type"] == "path" && !strings.HasPrefix(in.Attrs["path"], "/") {
			relative = append(relative, in)
		}
	}
	if len(relative) == 0 || env.NixVersion == nil {
		return nil
	}
	v, ok := env.NixVersion()
	if !ok || v.AtLeast(relativePathInputs.major, relativePathInputs.minor) {
		return nil
	}
	var out []Finding
	for _, in := range relative {
		out = append(out, at(in.URLPos, Warning, fmt.Sprintf(
			"input %s is a relative path (%s), which needs Nix %d.%d or later; the local nix is %s, which keeps building the copy it locked after the flake changes",
			in.Name, flakeRef(in), relativePathInputs.major, relativePathInputs.minor, v)))
	}
	return out
}

// flakeRef is an input's reference as written, or as nix would write it.
func flakeRef(in *fleet.Input) string {
	if in.URL != "" {
		return in.URL
	}
	return "path:" + in.Attrs["path"]
}
