package release

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testenv"
)

const (
	path1 = "/nix/store/0c9a3vk1yvqfz5mdlwqlhh5z7xyb9ckx-nixos-system-web1-25.05"
	path2 = "/nix/store/1vn2ldqsvrzrj4yl3bcyl8fsdi95dhah-darwin-system-mac"
)

// testKey is a fixed key for pure tests ("name:base64" of a 64-byte ed25519 key).
func testKey(t *testing.T, name string, seed byte) SecretKey {
	t.Helper()
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = seed
	}
	k, err := ParseSecretKey(name + ":" + base64.StdEncoding.EncodeToString(append(raw, pubOf(raw)...)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func manifest() *Manifest {
	return &Manifest{Release: 3, Revision: "abc123", Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Machines: map[string]Machine{
			"web1": {Path: path1, Platform: platform.NixOS, HealthChecks: []hosts.HealthCheck{{TCP: "web1:22"}}},
			"mac":  {Path: path2, Platform: platform.Darwin},
		}}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := testKey(t, "fleet-1", 7)
	data, err := Sign(manifest(), k)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Verify(data, []PublicKey{testKey(t, "other", 9).Public(), k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if !m.SameMachines(manifest()) || m.Release != 3 || m.Revision != "abc123" || m.Machines["web1"].HealthChecks[0].TCP != "web1:22" {
		t.Errorf("round trip: %+v", m)
	}
}

// TestVerifyRefuses: every way a manifest can be wrong is refused with the
// error that names it, and no manifest is returned.
func TestVerifyRefuses(t *testing.T) {
	k := testKey(t, "fleet-1", 7)
	good, err := Sign(manifest(), k)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	reseal := func(edit func(*envelope)) []byte {
		e := env
		e.Signatures = append([]signature{}, env.Signatures...)
		edit(&e)
		b, _ := json.Marshal(e)
		return b
	}
	signed := func(m *Manifest) []byte {
		payload, _ := json.Marshal(m)
		return reseal(func(e *envelope) {
			e.Payload = payload
			e.Signatures = []signature{{KeyID: k.Name, Sig: sign(k, pae(PayloadType, payload))}}
		})
	}
	for _, tc := range []struct {
		name string
		data []byte
		keys []PublicKey
		want error
	}{
		{"tampered payload", reseal(func(e *envelope) {
			e.Payload = []byte(strings.Replace(string(e.Payload), "0c9a3vk1", "0c9a3vk2", 1))
		}), nil, ErrSignature},
		{"tampered payload type", reseal(func(e *envelope) { e.PayloadType = "text/plain" }), nil, ErrFormat},
		{"wrong key", good, []PublicKey{testKey(t, "fleet-1", 8).Public()}, ErrSignature},
		{"other key name", good, []PublicKey{testKey(t, "fleet-2", 7).Public()}, ErrSignature},
		{"no signature", reseal(func(e *envelope) { e.Signatures = nil }), nil, ErrSignature},
		{"not JSON", []byte("<html>404</html>"), nil, ErrFormat},
		{"not a store path", signed(func() *Manifest {
			m := manifest()
			m.Machines["web1"] = Machine{Path: "/nix/store/x; rm -rf /", Platform: platform.NixOS}
			return m
		}()), nil, ErrFormat},
		{"newer format", signed(func() *Manifest { m := manifest(); m.Format = 2; return m }()), nil, ErrFormat},
		{"home platform", signed(func() *Manifest {
			m := manifest()
			m.Machines["web1"] = Machine{Path: path1, Platform: platform.Home}
			return m
		}()), nil, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = []PublicKey{k.Public()}
			}
			m, err := Verify(tc.data, keys)
			if !errors.Is(err, tc.want) || m != nil {
				t.Errorf("Verify = %v, %v; want %v", m, err, tc.want)
			}
		})
	}
}

// TestNixKeysInterop: a key made by `nix key generate-secret` signs, and its
// public half as `nix key convert-secret-to-public` prints it verifies.
func TestNixKeysInterop(t *testing.T) {
	testenv.NixEnv(t)
	dir := t.TempDir()
	sec := filepath.Join(dir, "key.sec")
	out, err := exec.Command("sh", "-c", "nix --extra-experimental-features nix-command key generate-secret --key-name fleet-test-1 >"+sec+
		" && nix --extra-experimental-features nix-command key convert-secret-to-public <"+sec).Output()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ReadSecretKey(sec)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if pub.String() != k.Public().String() || pub.String() != strings.TrimSpace(string(out)) {
		t.Fatalf("public key %s, nix says %s", k.Public(), out)
	}
	data, err := Sign(manifest(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(data, []PublicKey{pub}); err != nil {
		t.Fatal(err)
	}
}

// TestKeyErrorsDoNotQuoteTheKey: a malformed secret key's text never
// appears in the error.
func TestKeyErrorsDoNotQuoteTheKey(t *testing.T) {
	for _, text := range []string{"fleet:c2VjcmV0LXNlY3JldA==", "no-colon-SECRETTEXT", "fleet:!!!SECRETTEXT"} {
		_, err := ParseSecretKey(text)
		if err == nil || strings.Contains(err.Error(), text[strings.Index(text, ":")+1:]) || strings.Contains(err.Error(), "SECRETTEXT") {
			t.Errorf("ParseSecretKey(%q) = %v", text, err)
		}
	}
}

func TestDestination(t *testing.T) {
	dir := t.TempDir()
	d := DestinationOf(dir)
	if d.Path != filepath.Join(dir, FileName) || d.Archive == "" {
		t.Fatalf("directory destination %+v", d)
	}
	if data, err := d.Read(); data != nil || err != nil {
		t.Fatalf("empty destination: %q, %v", data, err)
	}
	if err := d.Write(4, []byte("four")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "releases", "4.json")); string(b) != "four" {
		t.Errorf("archive holds %q", b)
	}
	if b, _ := d.Read(); string(b) != "four" {
		t.Errorf("manifest holds %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if f := DestinationOf(filepath.Join(dir, "m.json")); f.Archive != "" || f.Path != filepath.Join(dir, "m.json") {
		t.Errorf("file destination %+v", f)
	}
}

func pubOf(seed []byte) []byte { return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey) }

func sign(k SecretKey, msg []byte) []byte { return ed25519.Sign(k.key, msg) }
