package deploy

import (
	"context"
	"fmt"

	"github.com/nixherd/nixherd/internal/remote"
)

// substitute makes the host fetch path's closure from the cache. The host's
// own signature policy applies; CachePublicKey, when given, is added to the
// keys it trusts for this one command.
func (d *run) substitute(ctx context.Context, r remote.Runner, path string, root bool) error {
	args := []string{"nix-store", "--realise", path, "--option", "extra-substituters", d.o.CacheSubstituter}
	if d.o.CachePublicKey != "" {
		args = append(args, "--option", "extra-trusted-public-keys", d.o.CachePublicKey)
	}
	c := remote.Cmd(args...)
	c.Root = root
	if _, err := r.Run(ctx, c); err != nil {
		return fmt.Errorf("substituting from %s: %w", d.o.CacheSubstituter, err)
	}
	return nil
}
