package target

import (
	"testing"
)

func TestParseGenerations(t *testing.T) {
	out := "   1   2026-11-20 10:00:00   \n   2   2026-11-26 01:02:03   (current)\n--\n1 /nix/store/aaa-nixos-system\n2 /nix/store/bbb-nixos-system\n"
	gens, err := ParseGenerations(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 2 || gens[0].Number != 1 || gens[0].Current || gens[1].Path != "/nix/store/bbb-nixos-system" || !gens[1].Current {
		t.Fatalf("gens = %+v", gens)
	}
	if gens[1].Date.Day() != 26 || gens[1].Date.Hour() != 1 {
		t.Errorf("date = %v", gens[1].Date)
	}
	if _, err := ParseGenerations("garbage line\n--\n"); err == nil {
		t.Error("accepted garbage")
	}
}

func TestAttrsQuoteConfigurationNames(t *testing.T) {
	if got := (NixOS{}).Attr("devnix"); got != `nixosConfigurations."devnix".config.system.build.toplevel` {
		t.Error(got)
	}
	if got := (Darwin{}).Attr("devmac"); got != `darwinConfigurations."devmac".system` {
		t.Error(got)
	}
	if got := (Home{}).Attr("dylan@devmac"); got != `homeConfigurations."dylan@devmac".activationPackage` {
		t.Error(got)
	}
}

func TestActionsPerPlatform(t *testing.T) {
	if _, err := ParseAction("reboot"); err == nil {
		t.Error("accepted reboot")
	}
	for _, a := range Actions {
		if err := (NixOS{}).Supports(a); err != nil {
			t.Errorf("nixos %s: %v", a, err)
		}
	}
	if (Darwin{}).Supports(Boot) == nil || (Home{}).Supports(DryActivate) == nil {
		t.Error("darwin boot / home dry-activate must be refused")
	}
	if SwitchExitMeaning(4) == SwitchExitMeaning(2) || SwitchExitMeaning(100) == "failed" {
		t.Error("exit codes 2, 4 and 100 need their own meaning")
	}
}

func TestParseGenerationsOfEmptyProfile(t *testing.T) {
	gens, err := ParseGenerations("--\n")
	if err != nil || len(gens) != 0 {
		t.Fatalf("a profile without generations: %v, %v", gens, err)
	}
}
