package flakeref

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/nix"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Ref{
		".":                                {".", ""},
		"":                                 {".", ""},
		".#devnix":                         {".", "devnix"},
		"#devnix":                          {".", "devnix"},
		"~/fleet#devmac":                   {"~/fleet", "devmac"},
		`.#"dylan@devmac"`:                 {".", "dylan@devmac"},
		"github:me/fleet#ephem":            {"github:me/fleet", "ephem"},
		"git+file:///src/fleet?ref=main#x": {"git+file:///src/fleet?ref=main", "x"},
	} {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %+v, want %+v", in, got, want)
		}
	}
	for in, dir := range map[string]bool{
		".": true, "fleet": true, "./fleet": true, "/srv/fleet": true, "~/fleet": true,
		"path:./fleet": false, "git+file:///x": false, "github:me/x": false, "flake:fleet": false, "git+ssh://git@host/x": false,
	} {
		if got := Parse(in).IsDirectory(); got != dir {
			t.Errorf("%q IsDirectory = %v", in, got)
		}
	}
}

// A directory is used as it is, without nix; any other reference is
// fetched, read from the fetched copy and evaluated pinned to it (a path:
// reference by the copy itself: its locked form may be relative).
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	noFetch := func(context.Context, string) (nix.FlakeSource, error) {
		t.Fatal("a directory was fetched")
		return nix.FlakeSource{}, nil
	}
	f, err := Resolve(context.Background(), Parse(dir+"#devnix"), noFetch)
	if err != nil || f.Dir != dir || f.Flake != dir || f.Fetched || f.Ref.Machine != "devnix" {
		t.Fatalf("directory: %+v, %v", f, err)
	}
	if _, err := Resolve(context.Background(), Parse(filepath.Join(dir, "nope")), noFetch); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("a missing directory: %v", err)
	}

	fetched := func(_ context.Context, ref string) (nix.FlakeSource, error) {
		switch ref {
		case "github:me/fleet":
			return nix.FlakeSource{StorePath: "/nix/store/aaa-source", Dir: "fleet", Locked: "github:me/fleet/0123?dir=fleet", Type: "github"}, nil
		case "path:./fleet":
			return nix.FlakeSource{StorePath: "/nix/store/bbb-source", Locked: "path:./fleet?narHash=x", Type: "path"}, nil
		}
		return nix.FlakeSource{}, errors.New("cannot fetch")
	}
	f, err = Resolve(context.Background(), Parse("github:me/fleet#devmac"), fetched)
	if err != nil || f.Dir != "/nix/store/aaa-source/fleet" || f.Flake != "github:me/fleet/0123?dir=fleet" || !f.Fetched || f.Ref.Machine != "devmac" {
		t.Errorf("github: %+v, %v", f, err)
	}
	f, err = Resolve(context.Background(), Parse("path:./fleet"), fetched)
	if err != nil || f.Dir != "/nix/store/bbb-source" || f.Flake != "/nix/store/bbb-source" {
		t.Errorf("path: %+v, %v", f, err)
	}
	if _, err := Resolve(context.Background(), Parse("github:me/gone"), fetched); err == nil || !strings.Contains(err.Error(), "fetching the fleet github:me/gone: cannot fetch") {
		t.Errorf("a reference nix cannot fetch: %v", err)
	}
	if _, err := Local(Parse("github:me/fleet")); !errors.Is(err, ErrNotDirectory) {
		t.Errorf("Local of a reference: %v", err)
	}
}

func TestForNix(t *testing.T) {
	abs, _ := filepath.Abs("fleet")
	for in, want := range map[string]string{"fleet": abs, "/srv/fleet": "/srv/fleet", "github:me/x": "github:me/x", "/nix/store/a-source": "/nix/store/a-source"} {
		if got, err := ForNix(in); err != nil || got != want {
			t.Errorf("ForNix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
