package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"nixherd": func() { os.Exit(run(os.Args[1:])) },
	})
}

// TestScript runs the CLI behaviour tests in testdata/script/*.txtar.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": exits,
		},
		Setup: func(env *testscript.Env) error {
			// Pass through what the real tools need (nix offline config, PATH).
			for _, k := range []string{"NIX_CONFIG", "NIXHERD_REQUIRE_TOOLS"} {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			// Flakes cannot read builtins.currentSystem: scripts write
			// $NIX_SYSTEM into the flakes they build.
			arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
			env.Setenv("NIX_SYSTEM", arch+"-"+runtime.GOOS)
			return nil
		},
		// [nixos] is true on NixOS. [tool:nix] is true when the program is
		// installed; when it is not
		// and NIXHERD_REQUIRE_TOOLS is set (CI), the script fails instead of
		// skipping, as testenv.NeedTool does for Go tests.
		Condition: func(cond string) (bool, error) {
			if cond == "nixos" { // this machine runs NixOS
				_, err := os.Stat("/etc/NIXOS")
				return err == nil, nil
			}
			tool, ok := strings.CutPrefix(cond, "tool:")
			if !ok {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if _, err := exec.LookPath(tool); err == nil {
				return true, nil
			}
			if testenv.Required() {
				return false, fmt.Errorf("%s is required (NIXHERD_REQUIRE_TOOLS is set)", tool)
			}
			return false, nil
		},
	})
}

// exits N PROGRAM ARGS... runs a program as exec does (its stdout and
// stderr are then matched as exec's) and checks that it exits with status
// N: the exit-code contract, command by command.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Logf("[stdout]\n%s[stderr]\n%s", ts.ReadFile("stdout"), ts.ReadFile("stderr"))
		ts.Fatalf("%s exited with status %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}
