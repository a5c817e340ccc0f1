package deploy

import (
	"context"
	"fmt"

	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/remote"
)

// substitute makes the host fetch path's closure from the cache. The host's
// own signature policy applies; CachePublicKey, when given, is added to the
// keys it trusts for this one command.
func (d *run) substitute(ctx context.Context, r remote.Runner, path string, root bool) error {
	c := remote.Cmd(nix.RealiseArgs(path, nix.Substitution{From: d.o.CacheSubstituter, PublicKey: d.o.CachePublicKey})...)
	c.Root = root
	if _, err := r.Run(ctx, c); err != nil {
		return fmt.Errorf("substituting from %s: %w", d.o.CacheSubstituter, err)
	}
	return nil
}
