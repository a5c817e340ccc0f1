package deploy

import (
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

func TestHomeUserMustMatchTheLogin(t *testing.T) {
	m := hosts.Machine{Name: "devmac-home", Target: "root@devmac", Address: remote.Address{User: "root", Host: "devmac"}, Configuration: "dylan@devmac"}
	err := homeUserMatches(m, platform.Home)
	if err == nil || !strings.Contains(err.Error(), `set target = "dylan@devmac"`) {
		t.Errorf("err = %v", err)
	}
	m.Address.User = "dylan"
	if err := homeUserMatches(m, platform.Home); err != nil {
		t.Error(err)
	}
	if err := homeUserMatches(hosts.Machine{Target: "root@h", Address: remote.Address{User: "root"}, Configuration: "dylan@h"}, platform.NixOS); err != nil {
		t.Errorf("a system configuration is not a home: %v", err)
	}
}

func TestClosureOfFollowsReferencesOnce(t *testing.T) {
	all := []nix.PathInfo{
		{Path: "/nix/store/a", References: []string{"/nix/store/b", "/nix/store/c", "/nix/store/a"}},
		{Path: "/nix/store/b", References: []string{"/nix/store/c"}},
		{Path: "/nix/store/c"},
		{Path: "/nix/store/other"},
	}
	got := closureOf(all, "/nix/store/b")
	if len(got) != 2 || got[0].Path != "/nix/store/b" || got[1].Path != "/nix/store/c" {
		t.Errorf("closure of b = %+v", got)
	}
	if got := closureOf(all, "/nix/store/a"); len(got) != 3 {
		t.Errorf("closure of a = %+v", got)
	}
}
