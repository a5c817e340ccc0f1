package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secrets.nix in the styles real fleets write; each must give the same rules.
func TestRulesStyles(t *testing.T) {
	ks := testKeys(t)
	a, b, x := ks["ed25519"].Public, ks["rsa2048"].Public, ks["x25519"].Public
	styles := map[string]string{
		"plain data": fmt.Sprintf(`{
  "api.age".publicKeys = [ %q %q %q ];
  "db.age" = { publicKeys = [ %q ]; armor = true; };
}`, a, b, x, a),
		"let-bound keys joined with ++": fmt.Sprintf(`let
  alice = %q;
  bob = %q;
  ci = %q;
  users = [ alice bob ];
in
{
  "api.age".publicKeys = users ++ [ ci ];
  "db.age" = { publicKeys = [ alice ]; armor = true; };
}`, a, b, x),
		"builtins.attrValues": fmt.Sprintf(`let
  users = { alice = %q; bob = %q; };
  systems = { devnix = %q; };
  all = builtins.attrValues users ++ builtins.attrValues systems;
in
{
  "api.age".publicKeys = all;
  "db.age" = { publicKeys = [ users.alice ]; armor = true; };
}`, a, b, x),
	}
	for name, src := range styles {
		t.Run(name, func(t *testing.T) {
			rs := mustLoad(t, rulesFleet(t, src))
			if len(rs.Secrets) != 2 {
				t.Fatalf("%d secrets", len(rs.Secrets))
			}
			api, db := mustRule(t, rs, "api.age"), mustRule(t, rs, "db")
			var got []string
			for _, r := range api.Recipients {
				got = append(got, r.Type)
			}
			if strings.Join(got, " ") != "ssh-ed25519 ssh-rsa X25519" || api.Armor {
				t.Errorf("api.age: %v armor=%v", got, api.Armor)
			}
			if len(db.Recipients) != 1 || !db.Armor {
				t.Errorf("db.age: %d recipients, armor=%v", len(db.Recipients), db.Armor)
			}
		})
	}
}

func TestRulesErrorsAreLocated(t *testing.T) {
	ks := testKeys(t)
	for _, tc := range []struct{ name, src, want string }{
		{"syntax error", "{\n  \"a.age\".publicKeys = [ \"x\" ;\n}\n", `secrets.nix:2:30: syntax error: unexpected ';'`},
		{"undefined variable", "let a = 1; in {\n  \"a.age\".publicKeys = [ bob ];\n}\n", `secrets.nix:2:26: undefined variable 'bob'`},
		{"not a key", `{ "a.age".publicKeys = [ "ssh-ed25519 AAAAnot-base64" ]; }`, `secrets.nix:1:26: "a.age".publicKeys[0]: publicKeys entry is not a valid SSH public key`},
		{"not a key at all", `{ "a.age".publicKeys = [ "alice" ]; }`, `publicKeys entry is not a public key "alice"`},
		{"private key pasted", `{ "a.age".publicKeys = [ "AGE-SECRET-KEY-1QQQ" ]; }`, `a private key where a public key belongs`},
		{"not a string", fmt.Sprintf(`{ "a.age".publicKeys = [ %q 3 ]; }`, ks["ed25519"].Public), `"a.age".publicKeys[1]: want a string, found a number`},
		{"escaping path", fmt.Sprintf(`{ "../a.age".publicKeys = [ %q ]; }`, ks["ed25519"].Public), `must be relative to the rules file's folder`},
		{"not an attrset", `[ 1 ]`, `must evaluate to an attribute set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRules(rulesFleet(t, tc.src))
			var re *RulesError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Errorf("error echoes a private key: %v", err)
			}
		})
	}
}

// Names on the command line work from the fleet root and from inside the
// secrets folder (agenix's form), with or without .age.
func TestLookup(t *testing.T) {
	rules := rulesFleet(t, fmt.Sprintf(`{ "api.age".publicKeys = [ %q ]; "hosts/db.age".publicKeys = [ %q ]; }`, testKeys(t)["ed25519"].Public, testKeys(t)["ed25519"].Public))
	root := filepath.Dir(filepath.Dir(rules))
	for _, tc := range []struct{ wd, name, want string }{
		{root, "api", "api.age"},
		{root, "secrets/api.age", "api.age"},
		{root, "hosts/db", "hosts/db.age"},
		{root, "secrets/hosts/db.age", "hosts/db.age"},
		{filepath.Join(root, "secrets"), "api.age", "api.age"},
		{filepath.Join(root, "secrets"), "./hosts/db.age", "hosts/db.age"},
		{"/", filepath.Join(root, "secrets", "api.age"), "api.age"},
	} {
		t.Chdir(tc.wd)
		found, err := FindRules(tc.wd, "")
		if tc.wd == "/" {
			found = rules
		} else if err != nil {
			t.Fatal(err)
		}
		rs := mustLoad(t, found)
		r, err := rs.Lookup(tc.name)
		if err != nil || r.File != tc.want {
			t.Errorf("from %s, %q: %v %v, want %s", tc.wd, tc.name, r, err, tc.want)
		}
	}
	rs := mustLoad(t, rules)
	if _, err := rs.Lookup("nope"); err == nil || !strings.Contains(err.Error(), `no secret "nope"`) {
		t.Errorf("unknown name: %v", err)
	}
	t.Setenv("RULES", "elsewhere.nix")
	if p, _ := FindRules(root, ""); p != "elsewhere.nix" {
		t.Errorf("RULES not honoured: %s", p)
	}
	if p, _ := FindRules(root, "flag.nix"); p != "flag.nix" {
		t.Errorf("--rules not preferred: %s", p)
	}
	os.Unsetenv("RULES")
}

// Without nix, a rules file beyond the static reader is a clear error.
func TestRulesWithoutNix(t *testing.T) {
	rules := rulesFleet(t, `{ "a.age".publicKeys = builtins.attrValues (import ./keys.nix); }`)
	t.Setenv("PATH", t.TempDir())
	_, err := LoadRules(rules)
	if err == nil || !strings.Contains(err.Error(), "nix is not installed") {
		t.Fatalf("error %v", err)
	}
}

// ReadSecret is what other commands (update's github-token) use.
func TestReadSecret(t *testing.T) {
	k := testKeys(t)["ed25519"]
	rules := rulesFleet(t, fmt.Sprintf(`{ "github-token.age".publicKeys = [ %q ]; }`, k.Public))
	rs := mustLoad(t, rules)
	if err := rs.Encrypt(mustRule(t, rs, "github-token"), []byte("ghp_x")); err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(rules))
	t.Chdir(t.TempDir())
	got, err := ReadSecret(root, "github-token", []string{k.Private})
	if err != nil || string(got) != "ghp_x" {
		t.Fatalf("ReadSecret: %q %v", got, err)
	}
	if _, err := ReadSecret(root, "nope", []string{k.Private}); err == nil {
		t.Error("ReadSecret of an unknown secret succeeded")
	}
}

// Nix 2.8 and current Nix print errors differently (current Nix puts a
// trace first); both become file:line:col: message. Samples as printed.
func TestNixErrorFormats(t *testing.T) {
	const abs = "/fleet/secrets/secrets.nix"
	for _, tc := range []struct{ name, stderr, want string }{
		{"2.8 syntax", "error: syntax error, unexpected ';'\n\n       at /fleet/secrets/secrets.nix:4:28:\n\n            3| in {\n", "secrets.nix:4:28: syntax error, unexpected ';'"},
		{"2.18 trace", `error:
       … while evaluating the attribute '"a.age".publicKeys'

         at /fleet/secrets/secrets.nix:2:3:

            1| {
            2|   "a.age".publicKeys = [ bob ];
             |   ^

       error: undefined variable 'bob'

       at /fleet/secrets/secrets.nix:2:26:

            1| {
`, "secrets.nix:2:26: undefined variable 'bob'"},
		{"imported file", "error: undefined variable 'x'\n\n       at /fleet/secrets/keys.nix:1:1:\n", "keys.nix:1:1: undefined variable 'x'"},
		{"no location", "error: boom\n", "secrets.nix: boom"},
	} {
		err := nixError(abs, "secrets.nix", "/fleet", tc.stderr, errors.New("exit status 1"))
		got := strings.Replace(err.Error(), "/fleet/secrets/", "", 1)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
