package deploy

import (
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/remote"
)

func TestHomeUserMustMatchTheLogin(t *testing.T) {
	m := hosts.Machine{Name: "devmac-home", Target: "root@devmac", Address: remote.Address{User: "root", Host: "devmac"}, Configuration: "dylan@devmac"}
	err := homeUserMatches(m, hosts.Home)
	if err == nil || !strings.Contains(err.Error(), `set target = "dylan@devmac"`) {
		t.Errorf("err = %v", err)
	}
	m.Address.User = "dylan"
	if err := homeUserMatches(m, hosts.Home); err != nil {
		t.Error(err)
	}
	if err := homeUserMatches(hosts.Machine{Target: "root@h", Address: remote.Address{User: "root"}, Configuration: "dylan@h"}, hosts.NixOS); err != nil {
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

func TestEvalExprQuotesNames(t *testing.T) {
	e := evalExpr(`/fleet "x"`, []hosts.Machine{{Name: `we"ird`, Configuration: "dylan@${h}"}})
	for _, want := range []string{`builtins.getFlake "/fleet \"x\""`, `"we\"ird" = pick "dylan@\${h}" "";`} {
		if !strings.Contains(e, want) {
			t.Errorf("expression lacks %s:\n%s", want, e)
		}
	}
}

func TestMissingConfigurationNamesThePositionOnlyWhenKnown(t *testing.T) {
	m := hosts.Machine{Name: "web1", Configuration: "web1"}
	if got, want := missingConfiguration(m, hosts.NixOS).Error(), `the flake has no "web1" in nixosConfigurations`; got != want {
		t.Errorf("without a position: %q, want %q", got, want)
	}
	m.Pos = hosts.Pos{File: "/fleet/deploy.nix", Line: 3, Column: 5}
	if got, want := missingConfiguration(m, "").Error(), `the flake has no "web1" in nixosConfigurations, darwinConfigurations or homeConfigurations (deploy.nix /fleet/deploy.nix:3:5)`; got != want {
		t.Errorf("with a position: %q, want %q", got, want)
	}
}
