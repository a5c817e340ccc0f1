// Package flakeref reads the fleet reference every nixherd command takes as
// --flake, the way nixos-rebuild, darwin-rebuild, deploy-rs and colmena take
// theirs: a directory ("~/fleet", "."), a directory with a machine
// ("fleet#devnix"), or any flake reference nix understands ("path:…",
// "git+file:…", "github:owner/repo#devnix"), which nix fetches.
//
// nixherd reads the fleet's files itself (flake.nix statically, deploy.nix,
// secrets.nix), so a fetched reference is read from the copy nix put in the
// store, and evaluated pinned to that copy: what is read and what is built
// are the same source. A fetched fleet is read-only: commands that edit
// the fleet's files need a directory.
package flakeref

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nixherd/nixherd/internal/nix"
)

// Ref is a fleet reference as typed.
type Ref struct {
	// Flake is the part before "#": a directory or a flake reference.
	Flake string
	// Machine is the fragment after "#" ("" when none): the machine the
	// command works on.
	Machine string
}

// Parse splits a reference at its first "#", as nix does. An empty flake
// part is the current directory (".#devnix" and "#devnix" both mean
// devnix of the fleet here).
func Parse(s string) Ref {
	flake, frag, _ := strings.Cut(s, "#")
	if flake == "" {
		flake = "."
	}
	return Ref{Flake: flake, Machine: unquote(frag)}
}

// unquote takes the fragment's machine name out of the quotes a shell user
// may give it (`.#"dylan@devmac"` arrives as `"dylan@devmac"`).
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func (r Ref) String() string {
	if r.Machine == "" {
		return r.Flake
	}
	return r.Flake + "#" + r.Machine
}

// schemeRE matches a flake reference's scheme ("path:", "git+file:",
// "github:", "flake:"): the form of a URL scheme, before any "/".
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// IsDirectory reports whether the reference names a directory of this
// machine rather than a flake reference for nix to fetch. A bare word is a
// directory ("fleet"), as it always was for nixherd; nix's registry names
// are written "flake:NAME".
func (r Ref) IsDirectory() bool { return !schemeRE.MatchString(r.Flake) }

// Fleet is a resolved fleet reference.
type Fleet struct {
	Ref Ref
	// Dir is where the fleet's files are: the directory as given, or the
	// fetched source in the store.
	Dir string
	// Flake is what nix evaluates: the directory's absolute path, or the
	// reference locked to the fetched source.
	Flake string
	// Fetched is true when Dir is a copy nix fetched (read-only).
	Fetched bool
}

// ErrNotDirectory is returned (wrapped) for a reference that is not a
// directory to a command that edits the fleet's files.
var ErrNotDirectory = errors.New("not a directory of this machine")

// Local resolves a reference that must name a directory, without nix.
func Local(r Ref) (Fleet, error) {
	if !r.IsDirectory() {
		return Fleet{}, fmt.Errorf("%s is a flake reference, %w: the fleet's files can only be changed in a checkout (clone it and give its directory)", r.Flake, ErrNotDirectory)
	}
	st, err := os.Stat(r.Flake)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Fleet{}, fmt.Errorf("%s: no such directory (a flake reference needs a scheme: path:, git+file:, github:…)", r.Flake)
		}
		return Fleet{}, err
	}
	if !st.IsDir() {
		return Fleet{}, fmt.Errorf("%s is not a directory", r.Flake)
	}
	abs, err := filepath.Abs(r.Flake)
	if err != nil {
		return Fleet{}, err
	}
	return Fleet{Ref: r, Dir: r.Flake, Flake: abs}, nil
}

// Fetcher fetches a flake reference into the store (nix.Nix.FetchFlake).
type Fetcher func(ctx context.Context, ref string) (nix.FlakeSource, error)

// Resolve finds the fleet a reference names: a directory as it is, any
// other reference fetched by nix. fetch is only called for the latter.
func Resolve(ctx context.Context, r Ref, fetch Fetcher) (Fleet, error) {
	if r.IsDirectory() {
		return Local(r)
	}
	src, err := fetch(ctx, r.Flake)
	if err != nil {
		return Fleet{}, fmt.Errorf("fetching the fleet %s: %w", r.Flake, err)
	}
	f := Fleet{Ref: r, Dir: src.Root(), Flake: src.Locked, Fetched: true}
	if src.Type == "path" {
		// A locked path: reference may be relative to the directory nix
		// ran in, which builtins.getFlake refuses; the fetched copy is
		// the same content.
		f.Flake = src.Root()
	}
	return f, nil
}

// ForNix is the flake reference nix evaluates for flake, a directory or a
// reference: a directory's absolute path (builtins.getFlake needs one), a
// reference as it is.
func ForNix(flake string) (string, error) {
	if schemeRE.MatchString(flake) {
		return flake, nil
	}
	return filepath.Abs(flake)
}
