package shell

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

var words = []string{"plain", "with space", "it's", `"$HOME"`, "", "a\nb", "--opt=x", "=ls", "~", "*", "a;b", "$(id)", "`id`", "{a,b}", "#x", "^x", "!x", "/nix/store/abc-x=y"}

// TestQuoteRoundTrips runs the quoted words through real shells: each must
// come back byte for byte. zsh (macOS's login shell) is where a leading =
// used to turn "=ls" into /bin/ls.
func TestQuoteRoundTrips(t *testing.T) {
	shells := []string{testenv.NeedTool(t, "sh"), testenv.NeedTool(t, "bash"), testenv.NeedTool(t, "dash")}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		shells = append(shells, zsh)
	} else {
		t.Log("zsh is not installed: checked with sh, bash and dash only")
	}
	line := Join(append([]string{"printf", "%s|"}, words...))
	want := strings.Join(words, "|") + "|"
	for _, sh := range shells {
		out, err := exec.Command(sh, "-c", line).Output()
		if err != nil {
			t.Fatalf("%s: %v", sh, err)
		}
		if string(out) != want {
			t.Errorf("%s: got %q, want %q", sh, out, want)
		}
	}
}

func TestQuoteLeavesPlainWordsReadable(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/abc-hello-1.0": "/nix/store/abc-hello-1.0",
		"--option=x":               "--option=x",
		"=ls":                      "'=ls'",
		"":                         "''",
		"a b":                      "'a b'",
		"it's":                     `'it'\''s'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCheckTextRefusesControlCharacters(t *testing.T) {
	for _, bad := range []string{"a\nb", "a\rb", "\x1b]0;title\x07", "tab\there", "\u0085"} {
		if err := CheckText("path", bad); err == nil {
			t.Errorf("CheckText(%q) accepted", bad)
		}
	}
	if err := CheckText("path", "secrets/ünïcode file's.nix"); err != nil {
		t.Error(err)
	}
}
