package secrets

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rekeyFleet(t *testing.T, n int) (string, map[string]testKey) {
	ks := testKeys(t)
	var b strings.Builder
	b.WriteString("let\n")
	fmt.Fprintf(&b, "  alice = %q;\n  bob = %q;\n  carol = %q;\nin {\n", ks["ed25519"].Public, ks["ed25519b"].Public, ks["x25519"].Public)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  \"s%d.age\".publicKeys = [ alice ];\n", i)
	}
	b.WriteString("}\n")
	rules := rulesFleet(t, b.String())
	rs := mustLoad(t, rules)
	for i, r := range rs.Secrets {
		if err := rs.Encrypt(r, []byte(fmt.Sprint("secret ", i))); err != nil {
			t.Fatal(err)
		}
	}
	return rules, ks
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		out[e.Name()] = string(readFile(t, filepath.Join(dir, e.Name())))
	}
	return out
}

// Adding a recipient to some secrets rekeys exactly those; the rest stay
// byte-identical, so git shows only what changed.
func TestRekeyOnlyDrifted(t *testing.T) {
	rules, ks := rekeyFleet(t, 6)
	dir := filepath.Dir(rules)
	before := snapshot(t, dir)
	src := string(readFile(t, rules))
	src = strings.Replace(src, `"s1.age".publicKeys = [ alice ]`, `"s1.age".publicKeys = [ alice bob ]`, 1)
	src = strings.Replace(src, `"s3.age".publicKeys = [ alice ]`, `"s3.age" = { publicKeys = [ alice carol ]; armor = true; }`, 1)
	os.WriteFile(rules, []byte(src), 0o644)

	rs := mustLoad(t, rules)
	entries, _ := rs.Audit()
	var drifted []string
	for _, e := range entries {
		if e.Status != StatusOK {
			drifted = append(drifted, e.File+": "+strings.Join(e.Problems, "; "))
		}
	}
	wantDrift := []string{
		"s1.age: not encrypted to bob (ssh-ed25519 " + mustTag(t, ks["ed25519b"].Public) + ")",
		"s3.age: 1 X25519 recipient(s) in the rules, 0 in the file; the rules say armor = true, the file is binary",
	}
	if strings.Join(drifted, "\n") != strings.Join(wantDrift, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(drifted, "\n"), strings.Join(wantDrift, "\n"))
	}

	res, err := rs.Rekey(nil, mustIDs(t, ks["ed25519"].Private), false)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Rekeyed) != "[s1.age s3.age]" {
		t.Fatalf("rekeyed %v", res.Rekeyed)
	}
	after := snapshot(t, dir)
	for name, content := range before {
		changed := after[name] != content
		if changed != (name == "s1.age" || name == "s3.age" || name == "secrets.nix" || name == ManifestName) {
			t.Errorf("%s changed=%v", name, changed)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files left beside the secrets: %d before, %d after", len(before), len(after))
	}
	// bob can now read s1, carol s3 (armored); and everything is in sync.
	if got, err := rs.Decrypt(mustRule(t, rs, "s1"), mustIDs(t, ks["ed25519b"].Private)); err != nil || string(got) != "secret 1" {
		t.Errorf("bob reads s1: %q %v", got, err)
	}
	if got, err := rs.Decrypt(mustRule(t, rs, "s3"), mustIDs(t, ks["x25519"].Private)); err != nil || string(got) != "secret 3" {
		t.Errorf("carol reads s3: %q %v", got, err)
	}
	if !strings.HasPrefix(after["s3.age"], armorBegin) {
		t.Error("s3.age not armored after rekey")
	}
	entries, _ = rs.Audit()
	for _, e := range entries {
		if e.Status != StatusOK {
			t.Errorf("after rekey %s: %s %v", e.File, e.Status, e.Problems)
		}
	}
}

// One file that cannot be decrypted stops the whole rekey before any file
// is replaced, and no temporary file is left behind.
func TestRekeyAllOrNothing(t *testing.T) {
	rules, ks := rekeyFleet(t, 5)
	dir := filepath.Dir(rules)
	rs := mustLoad(t, rules)
	// s3 is encrypted to bob only: alice, who rekeys, cannot read it.
	if err := rs.Encrypt(&Rule{File: "s3.age", Recipients: mustRecipients(t, ks["ed25519b"].Public)}, []byte("bob's")); err != nil {
		t.Fatal(err)
	}
	src := strings.ReplaceAll(string(readFile(t, rules)), "[ alice ]", "[ alice carol ]")
	os.WriteFile(rules, []byte(src), 0o644)
	before := snapshot(t, dir)

	rs = mustLoad(t, rules)
	_, err := rs.Rekey(nil, mustIDs(t, ks["ed25519"].Private), false)
	if err == nil {
		t.Fatal("rekey succeeded although s3.age cannot be decrypted")
	}
	for _, want := range []string{"s3.age: no identity matches", "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	after := snapshot(t, dir)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("files changed or temporary files left after a failed rekey")
	}
}

func mustTag(t *testing.T, key string) string {
	r, err := ParseRecipient(key)
	if err != nil {
		t.Fatal(err)
	}
	return r.Tag
}

func mustRecipients(t *testing.T, keys ...string) []*Recipient {
	var out []*Recipient
	for _, k := range keys {
		r, err := ParseRecipient(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// Several files encrypted to a passphrase-protected key ask once per run;
// an unreadable identity and the wrong key give clear errors.
func TestIdentities(t *testing.T) {
	ks := testKeys(t)
	rules, _ := rekeyFleet(t, 0)
	src := fmt.Sprintf(`{ "a.age".publicKeys = [ %q ]; "b.age".publicKeys = [ %q ]; }`, ks["protected"].Public, ks["protected"].Public)
	os.WriteFile(rules, []byte(src), 0o644)
	rs := mustLoad(t, rules)
	for _, r := range rs.Secrets {
		if err := rs.Encrypt(r, []byte(r.File)); err != nil {
			t.Fatal(err)
		}
	}
	count := filepath.Join(t.TempDir(), "count")
	t.Setenv(AskpassEnv, editor(t, `echo x >> `+count+`; echo 'correct horse'`))
	ids := mustIDs(t, ks["ed25519"].Private, ks["protected"].Private)
	for _, r := range rs.Secrets {
		got, err := rs.Decrypt(r, ids)
		if err != nil || string(got) != r.File {
			t.Fatalf("%s: %q %v", r.File, got, err)
		}
	}
	if n := bytes.Count(readFile(t, count), []byte("x")); n != 1 {
		t.Errorf("asked for the passphrase %d times, want once", n)
	}

	t.Setenv(AskpassEnv, editor(t, `echo wrong`))
	_, err := rs.Decrypt(rs.Secrets[0], mustIDs(t, ks["protected"].Private))
	if err == nil || !strings.Contains(err.Error(), "decrypt SSH key") {
		t.Errorf("wrong passphrase: %v", err)
	}

	_, err = rs.Decrypt(rs.Secrets[0], mustIDs(t, ks["rsa2048"].Private, ks["x25519"].Private))
	for _, want := range []string{"no identity matches", ks["rsa2048"].Private + " (ssh-rsa ", "X25519 age1", "(ssh-ed25519 " + mustTag(t, ks["protected"].Public) + ")"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("wrong key: error lacks %q: %v", want, err)
		}
	}

	unreadable := filepath.Join(t.TempDir(), "nokey")
	if _, err := LoadIdentities([]string{unreadable}); err == nil || !strings.Contains(err.Error(), "identity "+unreadable+": no such file") {
		t.Errorf("missing identity: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, []byte("hello"), 0o600)
	if _, err := LoadIdentities([]string{garbage}); err == nil || !strings.Contains(err.Error(), "not an SSH private key or age identity file") {
		t.Errorf("garbage identity: %v", err)
	}
}

// Without -i, missing default keys are skipped and unusable ones named.
func TestDefaultIdentities(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	ids := mustIDs(t)
	if err := ids.noneUsable(); !strings.Contains(err.Error(), "no usable identity: none among "+filepath.Join(home, ".ssh", "id_ed25519")) || !strings.Contains(err.Error(), "id_rsa (does not exist)") {
		t.Errorf("no keys: %v", err)
	}
	os.WriteFile(filepath.Join(home, ".ssh", "id_rsa"), []byte("garbage"), 0o600)
	ids = mustIDs(t)
	if err := ids.noneUsable(); !strings.Contains(err.Error(), "id_rsa (skipped: not an SSH private key") {
		t.Errorf("unusable default key: %v", err)
	}
	k := testKeys(t)["ed25519"]
	os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), readFile(t, k.Private), 0o600)
	if ids = mustIDs(t); len(ids.ids) != 1 {
		t.Errorf("default ed25519 key not loaded: %s", ids.Describe())
	}
}
