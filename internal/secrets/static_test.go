package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/testenv"
)

// The static reader, which reads the rules before nix is asked, must agree
// with nix on every shape it accepts.
func TestStaticAgreesWithNix(t *testing.T) {
	testenv.NixEnv(t)
	ks := testKeys(t)
	a, b, x := ks["ed25519"].Public, ks["rsa2048"].Public, ks["x25519"].Public
	for _, src := range []string{
		fmt.Sprintf(`{ "api.age".publicKeys = [ %q %q ]; "db.age" = { publicKeys = [ %q ]; armor = true; }; }`, a, b, x),
		fmt.Sprintf(`let alice = %q; bob = %q; users = [ alice bob ]; in { "api.age".publicKeys = users ++ [ %q ]; }`, a, b, x),
		fmt.Sprintf(`let
  users = { zed = %q; alice = %q; };
  hosts = { h1 = %q; };
  all = builtins.attrValues users ++ builtins.attrValues hosts;
in {
  # comments and nested paths
  "api.age".publicKeys = all;
  "api.age".armor = false;
  "db.age" = { publicKeys = [ users.alice ]; } // { armor = true; };
  "hosts/x.age".publicKeys = (builtins.attrValues hosts);
}`, a, b, x),
		"{ \"esc\\\"aped.age\".publicKeys = [ \"" + a + "\" ]; }",
	} {
		p := filepath.Join(t.TempDir(), "secrets.nix")
		os.WriteFile(p, []byte(src), 0o644)
		out, err := nix.EvalData(context.Background(), filepath.Dir(p), p)
		if err != nil {
			t.Fatalf("nix: %v\n%s", err, src)
		}
		var viaNix map[string]json.RawMessage
		if err := json.Unmarshal(out, &viaNix); err != nil {
			t.Fatal(err)
		}
		static, err := staticRules(p, "secrets.nix")
		if err != nil {
			t.Fatalf("static: %v\n%s", err, src)
		}
		if canon(t, viaNix) != canon(t, static) {
			t.Errorf("static reader disagrees with nix on\n%s\nnix:    %s\nstatic: %s", src, canon(t, viaNix), canon(t, static))
		}
	}
}

func canon(t *testing.T, m map[string]json.RawMessage) string {
	var v any
	b, _ := json.Marshal(m)
	json.Unmarshal(b, &v)
	out, _ := json.Marshal(v) // maps marshal with sorted keys
	return string(out)
}

// Beyond the static reader, or broken, the error says where.
func TestStaticErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{\n  \"a.age\".publicKeys = import ./missing.nix;\n}", "secrets.nix:2:24: a call of import is beyond what nixherd reads on its own"},
		{"{\n  \"a.age\".publicKeys = builtins.readFile ./keys;\n}", "secrets.nix:2:24: a call of builtins.readFile is beyond"},
		{"{\n  \"a.age\".publicKeys = [ \"x\" ;\n}", "secrets.nix:2:30: "},
		{"{ \"a.age\".publicKeys = [ nobody ]; }", "undefined variable"},
	} {
		p := filepath.Join(t.TempDir(), "secrets.nix")
		os.WriteFile(p, []byte(tc.src), 0o644)
		_, err := staticRules(p, "secrets.nix")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// With nix off the PATH, the whole load (names included) works from the static reader.
func TestLoadRulesWithoutNix(t *testing.T) {
	ks := testKeys(t)
	rules := rulesFleet(t, fmt.Sprintf("let\n  alice = %q;\n  bob = %q;\nin {\n  \"a.age\".publicKeys = [ alice bob ];\n}\n", ks["ed25519"].Public, ks["rsa2048"].Public))
	t.Setenv("PATH", t.TempDir())
	rs, err := LoadRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	r := mustRule(t, rs, "a")
	if len(r.Recipients) != 2 || r.Recipients[0].Name != "alice" || r.Recipients[1].Name != "bob" {
		t.Errorf("recipients %v", r.Recipients)
	}
	os.WriteFile(rules, []byte("{\n  \"a.age\".publicKeys = builtins.readFile ./keys;\n}\n"), 0o644)
	if _, err = LoadRules(rules); err == nil || !strings.Contains(err.Error(), "secrets.nix:2:24: a call of builtins.readFile is beyond what nixherd reads on its own: nix is not installed") {
		t.Errorf("beyond the static reader without nix: %v", err)
	}
	os.WriteFile(rules, []byte("{\n  \"a.age\".publicKeys = [ ;\n}\n"), 0o644)
	_, err = LoadRules(rules)
	if err == nil || !strings.Contains(err.Error(), "secrets.nix:2:") {
		t.Errorf("syntax error without nix: %v", err)
	}
}
