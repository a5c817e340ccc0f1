package target

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/remote"
	"github.com/nixherd/nixherd/internal/shell"
)

func TestParseGenerations(t *testing.T) {
	// Links come in glob order (10 before 2); a longer profile's link is
	// skipped.
	out := "current system-2-link\n10 1764100000 /nix/store/ccc-nixos-system\n1 1763632800 /nix/store/aaa-nixos-system\n" +
		"2 1764118923 /nix/store/bbb-nixos-system\nx-1 1764118923 /nix/store/ddd-other\n"
	gens, err := ParseGenerations(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 3 || gens[0].Number != 1 || gens[0].Current || gens[1].Path != "/nix/store/bbb-nixos-system" || !gens[1].Current || gens[2].Number != 10 || gens[2].Current {
		t.Fatalf("gens = %+v", gens)
	}
	if !gens[1].Date.Equal(time.Unix(1764118923, 0)) {
		t.Errorf("date = %v", gens[1].Date)
	}
	if _, err := ParseGenerations("garbage line\n"); err == nil {
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
	gens, err := ParseGenerations("current \n")
	if err != nil || len(gens) != 0 {
		t.Fatalf("a profile without generations: %v, %v", gens, err)
	}
}

// script is a remote.Runner for pure composition tests: it records each
// command line and answers from a table; it runs nothing.
type script struct {
	ran    []string
	answer func(line string) error
}

func (s *script) Name() string         { return "h" }
func (s *script) IsRoot() bool         { return true }
func (s *script) Store() string        { return "ssh://h" }
func (s *script) NixSSHOpts() []string { return nil }
func (s *script) Close() error         { return nil }
func (s *script) Run(_ context.Context, c remote.Command) ([]byte, error) {
	line := shell.Join(c.Args)
	s.ran = append(s.ran, line)
	return nil, s.answer(line)
}

func TestNixOSActivationUsesSystemdRunWhereSystemdRuns(t *testing.T) {
	for _, systemd := range []bool{true, false} {
		s := &script{answer: func(line string) error {
			if strings.Contains(line, "systemd-run >/dev/null") && !systemd {
				return &remote.ExitError{Host: "h", Code: 1}
			}
			if strings.Contains(line, "switch-to-configuration switch") {
				return &remote.ExitError{Host: "h", Code: 4, Stderr: "warning: the following units failed: foo.service"}
			}
			return nil
		}}
		err := (NixOS{}).Activate(context.Background(), s, "/nix/store/x-nixos-system", Switch)
		last := s.ran[len(s.ran)-1]
		if wrapped := strings.HasPrefix(last, "systemd-run "); wrapped != systemd {
			t.Errorf("systemd=%v: ran %q", systemd, last)
		}
		if systemd && !strings.Contains(last, "--wait") {
			t.Errorf("systemd-run without --wait: %q", last)
		}
		var ae *ActivationError
		if !errors.As(err, &ae) || ae.Code != 4 || !strings.Contains(err.Error(), "a unit failed to stop, start or restart") || !strings.Contains(err.Error(), "foo.service") {
			t.Errorf("err = %v", err)
		}
	}
}

func TestActivationStillRunningIsNamed(t *testing.T) {
	s := &script{answer: func(line string) error {
		if strings.HasPrefix(line, "systemd-run ") {
			return &remote.ExitError{Host: "h", Code: 1, Stderr: "Failed to start transient service unit: Unit nixherd-switch-to-configuration.service was already loaded or has a fragment file."}
		}
		return nil
	}}
	err := (NixOS{}).Activate(context.Background(), s, "/nix/store/x-nixos-system", Switch)
	if err == nil || !strings.Contains(err.Error(), "an earlier activation is still running on the host") {
		t.Errorf("err = %v", err)
	}
}
