package main

import (
	"os"
	"testing"

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
	})
}
