package deploy

import (
	"context"
	"fmt"

	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/remote"
)

// pushToCache uploads every locally built closure to the --cache store once,
// so that hosts fetch them from there in parallel instead of the deployer
// sending each closure N times over its own uplink. Signing is the store's
// business: a store URL with ?secret-key=FILE signs on upload.
func pushToCache(ctx context.Context, n *nix.Nix, cache string, cs []Closure) error {
	if err := n.Copy(ctx, cache, outPaths(cs), nix.CopyOptions{}); err != nil {
		return fmt.Errorf("pushing to the cache %s: %w", cache, err)
	}
	return nil
}

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
