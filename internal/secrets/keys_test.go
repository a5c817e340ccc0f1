package secrets

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/nixherd/nixherd/internal/testenv"
)

// testKey is a key pair made by the real ssh-keygen or age-keygen.
type testKey struct {
	Private string // path of the private key or age identity file
	Public  string // the public key as a publicKeys entry
}

var (
	keysOnce sync.Once
	keysDir  string
	keysErr  error
	keys     = map[string]testKey{}
)

// testKeys returns keys made once per test run: ed25519, rsa2048, rsa4096
// (slow to generate, hence once), x25519, and a passphrase-protected ed25519
// ("protected", passphrase "correct horse").
func testKeys(t *testing.T) map[string]testKey {
	t.Helper()
	testenv.NeedTool(t, "ssh-keygen")
	testenv.NeedTool(t, "age-keygen")
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "nixherd-secrets-keys-")
		if keysErr != nil {
			return
		}
		gen := func(name string, args ...string) {
			if keysErr != nil {
				return
			}
			p := filepath.Join(keysDir, name)
			out, err := exec.Command("ssh-keygen", append([]string{"-q", "-C", name + "@test", "-f", p}, args...)...).CombinedOutput()
			if err != nil {
				keysErr = err
				t.Logf("ssh-keygen: %s", out)
				return
			}
			pub, err := os.ReadFile(p + ".pub")
			keysErr = err
			keys[name] = testKey{p, strings.TrimSpace(string(pub))}
		}
		gen("ed25519", "-t", "ed25519", "-N", "")
		gen("ed25519b", "-t", "ed25519", "-N", "")
		gen("rsa2048", "-t", "rsa", "-b", "2048", "-N", "")
		gen("rsa4096", "-t", "rsa", "-b", "4096", "-N", "")
		gen("protected", "-t", "ed25519", "-N", "correct horse")
		if keysErr != nil {
			return
		}
		p := filepath.Join(keysDir, "x25519.txt")
		if _, keysErr = exec.Command("age-keygen", "-o", p).CombinedOutput(); keysErr != nil {
			return
		}
		pub, err := exec.Command("age-keygen", "-y", p).Output()
		keysErr = err
		keys["x25519"] = testKey{p, strings.TrimSpace(string(pub))}
	})
	if keysErr != nil {
		t.Fatalf("making test keys: %v", keysErr)
	}
	return keys
}

func TestMain(m *testing.M) {
	if os.Getenv(editChildEnv) != "" {
		editChild()
		return
	}
	code := m.Run()
	if keysDir != "" {
		os.RemoveAll(keysDir)
	}
	os.Exit(code)
}

// rulesFleet writes a secrets folder with the given secrets.nix and returns the rules path.
func rulesFleet(t *testing.T, rulesSrc string) string {
	t.Helper()
	testenv.NixEnv(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "secrets", "secrets.nix")
	if err := os.WriteFile(p, []byte(rulesSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, path string) *Rules {
	t.Helper()
	rs, err := LoadRules(path)
	if err != nil {
		t.Fatalf("LoadRules: %v", err)
	}
	return rs
}

func mustRule(t *testing.T, rs *Rules, name string) *Rule {
	t.Helper()
	r, err := rs.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustIDs(t *testing.T, files ...string) *Identities {
	t.Helper()
	ids, err := LoadIdentities(files)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pqKey returns a fresh age post-quantum recipient.
func pqKey(t *testing.T) string {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}
