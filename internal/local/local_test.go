package local

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

var fleet = Configurations{
	NixOS:  []string{"devnix", "ephem"},
	Darwin: []string{"devmac"},
	Home:   []string{"dylan@build", "ci"},
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name     string
		conf     Configurations
		id       Identity
		explicit string
		want     Machine
		err      string
	}{
		{name: "nixos by hostname", conf: fleet, id: Identity{"devnix", "dylan", "linux", false}, want: Machine{"devnix", platform.NixOS}},
		{name: "darwin by LocalHostName", conf: fleet, id: Identity{"devmac", "dylan", "darwin", false}, want: Machine{"devmac", platform.Darwin}},
		{name: "a darwin name on linux is not this host", conf: fleet, id: Identity{"devmac", "x", "linux", false}, err: `no machine of the flake matches this host "devmac"`},
		{name: "home user@host", conf: fleet, id: Identity{"build", "dylan", "linux", false}, want: Machine{"dylan@build", platform.Home}},
		{name: "home user", conf: fleet, id: Identity{"anything", "ci", "linux", false}, want: Machine{"ci", platform.Home}},
		{name: "explicit wins", conf: fleet, id: Identity{"devnix", "dylan", "linux", false}, explicit: "ephem", want: Machine{"ephem", platform.NixOS}},
		{name: "explicit unknown", conf: fleet, id: Identity{"devnix", "dylan", "linux", false}, explicit: "nope", err: `the flake defines no machine "nope" (machines: ci, devmac, devnix, dylan@build, ephem)`},
		{name: "deploy.nix local", conf: withLocal("ephem"), id: Identity{"laptop", "me", "linux", false}, want: Machine{"ephem", platform.NixOS}},
		{name: "two local", conf: withLocal("ephem", "devnix"), id: Identity{"laptop", "me", "linux", false}, err: "several machines are deployed to \"local\" (ephem, devnix)"},
		{name: "nothing matches", conf: fleet, id: Identity{"laptop", "me", "linux", false}, err: "no machine of the flake matches this host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.conf, tc.id, tc.explicit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func withLocal(names ...string) Configurations {
	c := fleet
	c.Local = names
	return c
}

func TestBootstrapCommand(t *testing.T) {
	args, err := BootstrapCommand("darwin", "/src/fleet", "devmac", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sudo", "-H", "--", "nix", "--extra-experimental-features", "nix-command flakes",
		"run", "nix-darwin/master#darwin-rebuild", "--", "switch", "--flake", "/src/fleet#devmac"}
	if !slices.Equal(args, want) {
		t.Fatalf("args = %q\nwant   %q", args, want)
	}
	args, _ = BootstrapCommand("darwin", "/src/fleet", "devmac", true, nil)
	if args[0] != "nix" {
		t.Fatalf("as root the command starts with %q, want no sudo", args[0])
	}
}

func TestBootstrapRefusesOffDarwin(t *testing.T) {
	_, err := BootstrapCommand("linux", ".", "devmac", true, nil)
	if !errors.Is(err, ErrNotDarwin) || !strings.Contains(err.Error(), "this is linux") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunnerUsesSudoOnlyForRootCommandsWhenNotRoot(t *testing.T) {
	r := Runner{Sudo: "/usr/bin/sudo"}
	got := r.argv(remote.RootCmd("nix-env", "-p", "/nix/var/nix/profiles/system", "--set", "/nix/store/x"))
	if os.Geteuid() == 0 {
		if got[0] != "nix-env" {
			t.Fatalf("as root: %q", got)
		}
	} else if !slices.Equal(got[:2], []string{"/usr/bin/sudo", "--"}) {
		t.Fatalf("not root: %q, want sudo first", got)
	}
	if got := r.argv(remote.Cmd("/nix/store/x/activate")); got[0] != "/nix/store/x/activate" {
		t.Fatalf("a user command went through sudo: %q", got)
	}
}

func TestRunnerReportsExitStatus(t *testing.T) {
	var shown strings.Builder
	_, err := Runner{Stderr: &shown}.Run(context.Background(), remote.Sh("echo oops >&2; exit 4"))
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Code != 4 || !strings.Contains(ee.Stderr, "oops") {
		t.Fatalf("err = %#v", err)
	}
	if shown.String() != "oops\n" {
		t.Fatalf("stderr shown = %q", shown.String())
	}
}

// A configuration this machine cannot run is refused by platform: NixOS
// only on NixOS, nix-darwin only on macOS; home-manager anywhere.
func TestCanRun(t *testing.T) {
	debian := Identity{"box", "me", "linux", false}
	nixosBox := Identity{"box", "me", "linux", true}
	mac := Identity{"mac", "me", "darwin", false}
	for _, tc := range []struct {
		id   Identity
		p    platform.Platform
		want string
	}{
		{debian, platform.NixOS, "it is a NixOS configuration and this machine is not NixOS (it has no /etc/NIXOS)"},
		{debian, platform.Darwin, "it is a nix-darwin configuration and this machine is not a Mac (linux)"},
		{debian, platform.Home, ""},
		{nixosBox, platform.NixOS, ""},
		{nixosBox, platform.Darwin, "not a Mac"},
		{mac, platform.Darwin, ""},
		{mac, platform.NixOS, "not NixOS"},
		{mac, platform.Home, ""},
	} {
		err := tc.id.CanRun(tc.p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v runs %s: %v", tc.id, tc.p, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrWrongPlatform) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v runs %s: %v, want %q", tc.id, tc.p, err, tc.want)
		}
	}
}
