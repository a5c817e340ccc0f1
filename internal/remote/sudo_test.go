package remote

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSudoPasswordGoesThroughStdinOnly(t *testing.T) {
	s := &SSH{sudoPassword: []byte("hunter2")}
	c := RootCmd("nix-env", "-p", "/nix/var/nix/profiles/system", "--set", "/nix/store/x")
	c.Stdin = strings.NewReader("input of the command\n")
	line, c := s.withSudoPassword(c)
	if strings.Contains(line, "hunter2") {
		t.Fatalf("the password is on the command line: %s", line)
	}
	if !strings.Contains(line, "sudo -k -S -p '' -- /bin/sh -c") || !strings.HasSuffix(line, "nix-env -p /nix/var/nix/profiles/system --set /nix/store/x") {
		t.Fatalf("command line %q", line)
	}
	in, _ := io.ReadAll(c.Stdin)
	if string(in) != "hunter2\ninput of the command\n" {
		t.Fatalf("stdin %q: want the password line, then the command's input", in)
	}

	// A command without input still gets the password line.
	_, c = s.withSudoPassword(RootCmd("true"))
	if in, _ := io.ReadAll(c.Stdin); string(in) != "hunter2\n" {
		t.Fatalf("stdin %q", in)
	}
}

func TestSudoAskingForAPasswordNamesTheFlag(t *testing.T) {
	refused := &ExitError{Host: "web", Args: []string{"true"}, Code: 1, Stderr: "sudo: a password is required\n"}
	err := explainSudo("web", "deploy@web", refused)
	var se *SudoPasswordError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "--ask-sudo-password") || !errors.Is(err, refused) {
		t.Fatalf("got %v", err)
	}
	other := &ExitError{Host: "web", Args: []string{"true"}, Code: 1, Stderr: "no space left on device"}
	if err := explainSudo("web", "deploy@web", other); err != other {
		t.Fatalf("another failure became %v", err)
	}
}
