package remote

import (
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
	if !strings.Contains(line, "sudo -k -S -p '' -- env") || !strings.HasSuffix(line, "nix-env -p /nix/var/nix/profiles/system --set /nix/store/x") {
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
