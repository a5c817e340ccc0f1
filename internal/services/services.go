// Package services is the inventory of a fleet's containerised services, the
// seed's mkService pattern, and the edits that add and remove one.
//
// A service lives in four places across two files, and the seed adds one by
// hand in all four:
//
//   - flake.nix: the service flake as an input (`NAME.url = "…";`) and its
//     entry in `_module.args.serviceFlakes = { NAME = NAME; };`;
//   - programs/services/git-services.nix: its entry in the `services` set
//     (port, index, optional secrets and environment) and its
//     `(mkService "NAME" services.NAME serviceFlakes.NAME)` import.
//
// Add and Remove make those edits with the lossless Nix editor
// (internal/nixlang), so every other byte of both files stays as it was, and
// refuse anything that would give a fleet `nixherd check` rejects: a name,
// port or index already in use, an address past 192.168.100.254, a name a
// NixOS container cannot have, a secret secrets.nix does not list. Each
// returns a Change, the new content of both files, which Commit writes so
// that either both files are replaced or neither is.
//
// Services are read through internal/fleet, the static fleet model: nothing
// is evaluated.
package services

import (
	"fmt"
	"slices"
	"sort"

	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/fleet"
)

// The seed's container network: the host is 192.168.100.1 on every
// container link, and service index i gets 192.168.100.(10 + i).
const (
	HostAddress = "192.168.100.1"
	firstOctet  = 10
	lastOctet   = 254
	// MaxIndex keeps 10 + index a host address of the /24.
	MaxIndex = lastOctet - firstOctet
)

// Where the seed keeps things, relative to the fleet's root.
const (
	FlakeFile    = "flake.nix"
	ServicesFile = "programs/services/git-services.nix"
)

// Address is the container address of the service with the given index.
func Address(index int) string { return fmt.Sprintf("192.168.100.%d", firstOctet+index) }

// Service is one service as `nixherd service list` shows it.
type Service struct {
	Name string `json:"name"`
	// Input is the flake input the service is built from and URL where that
	// input points (as written in flake.nix); both empty when serviceFlakes
	// has no entry for the service.
	Input string `json:"input,omitempty"`
	URL   string `json:"url,omitempty"`
	Index int    `json:"index"`
	// Address is the container's address, 192.168.100.(10 + index).
	Address string `json:"address"`
	// Port is the host port forwarded to the same port in the container.
	Port        int               `json:"port"`
	Secrets     []string          `json:"secrets"`
	Environment map[string]string `json:"environment,omitempty"`
	// Machines are the machines whose configuration imports the file that
	// defines the service (through the import graph), when an mkService
	// call imports it; empty when no machine runs it.
	Machines []string `json:"machines"`
	// File is where the service is defined, relative to the fleet's root.
	File string `json:"file"`
	Pos  string `json:"pos"`
}

// List reads the services of the fleet in root.
func List(root string) ([]Service, error) {
	f, err := fleet.Read(root)
	if err != nil {
		return nil, err
	}
	return FromFleet(f), nil
}

// FromFleet lists the services of a fleet already read, in the order they
// are defined.
func FromFleet(f *fleet.Fleet) []Service {
	var out []Service
	for _, s := range f.Services {
		svc := Service{
			Name:        s.Name,
			Index:       s.Index,
			Address:     Address(s.Index),
			Port:        s.Port,
			Secrets:     append([]string{}, s.Secrets...),
			Environment: s.Environment,
			Machines:    []string{},
			File:        s.Pos.File,
			Pos:         s.Pos.String(),
		}
		if !s.HasIndex {
			svc.Address = ""
		}
		if sf, ok := f.ServiceFlakes[s.Name]; ok {
			svc.Input = sf.Input
			if in := f.Input(sf.Input); in != nil {
				svc.URL = in.URL
				if svc.URL == "" && in.Attrs != nil {
					attrs := map[string]any{}
					for k, v := range in.Attrs {
						attrs[k] = v
					}
					svc.URL = flakelock.URL(attrs)
				}
			}
		}
		if s.Imported {
			for _, m := range f.Machines {
				if slices.Contains(m.Files, s.Pos.File) {
					svc.Machines = append(svc.Machines, m.Name)
				}
			}
			sort.Strings(svc.Machines)
		}
		out = append(out, svc)
	}
	return out
}
