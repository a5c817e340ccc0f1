package target

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

// Home deploys standalone home-manager configurations: set the user's
// home-manager profile to the new generation, then run its activate script
// as that user (never as root).
type Home struct{}

func (Home) Platform() platform.Platform { return platform.Home }

func (Home) Attr(configuration string) string {
	return "homeConfigurations." + quoteAttr(configuration) + ".activationPackage"
}

func (Home) Supports(a Action) error {
	if a == Boot || a == DryActivate {
		return fmt.Errorf("home-manager has no %s action (use switch, test or build)", a)
	}
	return nil
}

// homeProfileScript prints the profile home-manager itself uses: the XDG
// state directory when it exists (Nix 2.14+ creates it), else the per-user
// profiles directory.
const homeProfileScript = `d="${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles"
if [ -d "$d" ]; then echo "$d/home-manager"; else echo "/nix/var/nix/profiles/per-user/$(id -un)/home-manager"; fi`

func (Home) Profile(ctx context.Context, r remote.Runner) (string, error) {
	out, err := r.Run(ctx, remote.Sh(homeProfileScript))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Guard: a home-manager generation has an activate script. It activates as
// the connecting user, so the target must name the home's user.
func (Home) Guard(ctx context.Context, r remote.Runner, path string) error {
	ok, err := testFile(ctx, r, "-x", path+"/activate")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not a home-manager generation (it has no activate script); refusing to activate it", path)
	}
	return nil
}

func (h Home) SetProfile(ctx context.Context, r remote.Runner, path string) error {
	p, err := h.Profile(ctx, r)
	if err != nil {
		return err
	}
	if _, err := r.Run(ctx, remote.Sh(`mkdir -p "$(dirname "$1")"`, p)); err != nil {
		return err
	}
	return setProfile(ctx, r, p, path, false)
}

func (Home) Activate(ctx context.Context, r remote.Runner, path string, a Action) error {
	if !a.Activates() {
		return nil
	}
	if err := (Home{}).Supports(a); err != nil {
		return err
	}
	_, err := r.Run(ctx, remote.Cmd(path+"/activate"))
	return activationError(err, a, "the home-manager activate script failed")
}
