// Package nixherd holds what the nixherd binary carries with it: the
// reference fleet of examples/fleet, which `nixherd init` writes out and the
// demo shows. The Go code lives in cmd/ and internal/.
package nixherd

import (
	"embed"
	"io/fs"
)

//go:embed all:examples/fleet
var embedded embed.FS

// ReferenceFleet is the reference fleet (examples/fleet), rooted at the
// fleet's own folder: flake.nix is at its top.
var ReferenceFleet fs.FS = mustSub(embedded, "examples/fleet")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // only if the embed directive and dir disagree
	}
	return sub
}
