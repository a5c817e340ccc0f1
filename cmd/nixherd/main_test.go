package main

import (
	"fmt"
	"os"
	"os/exec"
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
		Setup: func(env *testscript.Env) error {
			// Pass through what the real tools need (nix offline config, PATH).
			for _, k := range []string{"NIX_CONFIG", "NIXHERD_REQUIRE_TOOLS"} {
				if v, ok := os.LookupEnv(k); ok {
					env.Setenv(k, v)
				}
			}
			return nil
		},
		// [tool:nix] is true when the program is installed; when it is not
		// and NIXHERD_REQUIRE_TOOLS is set (CI), the script fails instead of
		// skipping, as testenv.NeedTool does for Go tests.
		Condition: func(cond string) (bool, error) {
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
