package status

import (
	"context"
	"fmt"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/local"
	"github.com/nixherd/nixherd/internal/nix"
)

// Platforms fills in the platform of machines whose deploy.nix entry does
// not name one, from the configuration names of the flake: listing names
// is cheap, unlike evaluating the configurations. A machine the flake does
// not define keeps "" and is reported by the caller.
func Platforms(ctx context.Context, n *nix.Nix, flake string, machines []hosts.Machine) ([]hosts.Machine, error) {
	out := append([]hosts.Machine{}, machines...)
	var confs *local.Configurations
	for i, m := range out {
		if m.Platform != "" {
			continue
		}
		if confs == nil {
			c, err := local.FlakeConfigurations(ctx, n, flake)
			if err != nil {
				return nil, err
			}
			confs = &c
		}
		if found, ok := confs.Lookup(m.Configuration, "linux"); ok {
			out[i].Platform = found.Platform
		}
	}
	return out, nil
}

// NoConfiguration is the error for a machine the flake does not define.
func NoConfiguration(m hosts.Machine) error {
	return fmt.Errorf("%s: the flake has no configuration %q in nixosConfigurations, darwinConfigurations or homeConfigurations", m.Name, m.Configuration)
}
