// Package hosttest starts internal/testhost's simulated hosts for a test
// and stops them when it ends. The testing-bound helpers live here so that
// internal/testhost, which the nixherd binary uses for its demo, does not
// link the testing package (as net/http/httptest keeps its API free of it).
package hosttest

import (
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
)

// Need skips the test (or fails it when NIXHERD_REQUIRE_TOOLS is set) unless
// test hosts can run here: root, unshare, sshd, ssh and nix.
func Need(t testing.TB) {
	t.Helper()
	testenv.NeedRoot(t)
	for _, tool := range []string{"unshare", "nsenter", "sshd", "ssh", "ssh-keygen", "ip"} {
		testenv.NeedTool(t, tool)
	}
	testenv.NixEnv(t)
}

// Start starts the hosts for a test and stops them when the test ends. It
// fails the test if the hosts cannot be started; without root or the tools
// it skips (or fails when NIXHERD_REQUIRE_TOOLS is set).
func Start(t testing.TB, opts testhost.Options) *testhost.Cluster {
	t.Helper()
	Need(t)
	c, err := testhost.New(opts)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("testhost: %v", err)
		}
	})
	return c
}
