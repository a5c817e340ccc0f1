package remote

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]Address{
		"host":                {Host: "host"},
		"dylan@devmac.local":  {User: "dylan", Host: "devmac.local"},
		"root@127.0.0.2:2222": {User: "root", Host: "127.0.0.2", Port: 2222},
		"root@[::1]:22":       {User: "root", Host: "::1", Port: 22},
		"me@corp@host":        {User: "me@corp", Host: "host"},
	} {
		got, err := ParseAddress(in)
		if err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil && got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	for _, bad := range []string{"", "@host", "root@", "h:0", "h:x", "h:70000", "[::1", "a b",
		"-oProxyCommand=x", "root@-oProxyCommand=x", "-x@host", "root@host?remote-program=x", "root@h#x", "a\nb@host", "a/b@host", "root@[-x]"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
}

func TestLocalRunReportsExitStatus(t *testing.T) {
	_, err := Local{}.Run(context.Background(), Sh("echo oops >&2; exit 3"))
	ee, ok := err.(*ExitError)
	if !ok || ee.Code != 3 || !strings.Contains(ee.Error(), "oops") {
		t.Fatalf("err = %#v", err)
	}
	out, err := Local{}.Run(context.Background(), Sh(`echo "$1"`, "x y"))
	if err != nil || string(out) != "x y\n" {
		t.Fatalf("out = %q, %v", out, err)
	}
}

// TestRemoteCommandAddsNixToPath runs the remote command line through a
// real shell: Nix's bin directories join PATH and the arguments survive.
func TestRemoteCommandAddsNixToPath(t *testing.T) {
	line := remoteCommand(Cmd("sh", "-c", `echo "$PATH"; printf '%s|' "$@"`, "x", "a b", "it's"), true)
	out, err := exec.Command("sh", "-c", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	if !strings.HasSuffix(lines[0], ":"+nixPath) || lines[1] != "a b|it's|" {
		t.Errorf("got %q", out)
	}
	if got := remoteCommand(RootCmd("nix-env", "--version"), false); !strings.Contains(got, `exec sudo -n -- /bin/sh -c`) || !strings.HasSuffix(got, " nix-env --version") {
		t.Errorf("non-root: %s", got)
	}
}

// TestRootCommandRunsAProgramWithEquals: a root command of a non-root
// connection (through sudo) runs a program whose path holds "=", as a
// store path may, with the caller's PATH; env would have taken the path
// for an assignment, run nothing and exited 0.
func TestRootCommandRunsAProgramWithEquals(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "sudo")
	prog := filepath.Join(t.TempDir(), "x=1-darwin-system", "activate")
	os.MkdirAll(filepath.Dir(prog), 0o755)
	os.WriteFile(prog, []byte("#!/bin/sh\necho \"ran $1 with $PATH\"\n"), 0o755)
	for name, line := range map[string]string{
		"sudo -n": remoteCommand(RootCmd(prog, "arg"), false),
		"sudo -S": func() string {
			l, _ := (&SSH{sudoPassword: []byte("x")}).withSudoPassword(RootCmd(prog, "arg"))
			return l
		}(),
	} {
		cmd := exec.Command("sh", "-c", line)
		cmd.Stdin = strings.NewReader("x\n") // sudo -S reads a password line; root's sudo asks none
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "ran arg with ") || !strings.Contains(string(out), nixPath) {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
}

func TestMergeOptionsKeepsTheMostImportant(t *testing.T) {
	cli := []string{"-F", "cli.conf", "-o", "ProxyJump=cli"}
	machine := []string{"-o", "ProxyJump=machine", "-F", "machine.conf", "-i", "machine.key", "-p", "2222"}
	defaults := []string{"-Fdefaults.conf", "-o", "ConnectTimeout=5", "-v"}
	got := strings.Join(MergeOptions(cli, machine, defaults), " ")
	want := "-F cli.conf -o ProxyJump=cli -o ProxyJump=machine -i machine.key -p 2222 -o ConnectTimeout=5 -v"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := MergeOptions(nil, []string{"-F", "m"}, []string{"-F", "d"}); strings.Join(got, " ") != "-F m" {
		t.Errorf("machine over defaults: %v", got)
	}
}

// TestNewPoolRemovesDirectoriesOfDeadRuns: a run that was killed leaves its
// socket directory; the next pool removes it, but not a live run's.
func TestNewPoolRemovesDirectoriesOfDeadRuns(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(pid int) string {
		d, err := os.MkdirTemp("", "nixherd-ssh-")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "pid"), []byte(strconv.Itoa(pid)), 0o600)
		return d
	}
	stale, live := mk(dead.Process.Pid), mk(os.Getpid())
	p, err := NewPool()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the dead run's directory is still there")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live run's directory was removed")
	}
	p.Close()
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Error("Close left the pool's directory")
	}
}

// A command that prints without end is stopped at the output limit, with
// an error that says so, instead of filling the deployer's memory.
func TestRunStopsReadingAtTheOutputLimit(t *testing.T) {
	_, err := Local{}.Run(context.Background(), Sh("yes"))
	var le *OutputLimitError
	if !errors.As(err, &le) || le.Limit != MaxOutput || !strings.Contains(err.Error(), "printed more than 4 MiB") {
		t.Fatalf("err = %v", err)
	}
	c := Sh(`head -c 5000000 /dev/zero`)
	c.MaxOutput = 8 << 20
	if out, err := (Local{}).Run(context.Background(), c); err != nil || len(out) != 5000000 {
		t.Fatalf("a command's own limit: %d bytes, %v", len(out), err)
	}
}

// An error quotes two lines of what the command said, however much it said.
func TestExitErrorQuotesTwoLines(t *testing.T) {
	_, err := Local{}.Run(context.Background(), Sh(`yes noise | head -c 1000000 >&2; echo >&2; echo "first reason" >&2; printf '%0500d\n' 0 >&2; exit 3`))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v", err)
	}
	if len(ee.Stderr) > stderrKept+10 {
		t.Errorf("kept %d bytes of stderr", len(ee.Stderr))
	}
	msg := err.Error()
	if lines := strings.Split(msg, "\n"); len(lines) != 2 || !strings.HasSuffix(lines[0], "first reason") || len(lines[1]) > 250 {
		t.Errorf("error:\n%s", msg)
	}
}
