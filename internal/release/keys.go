package release

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// SecretKey signs manifests. It is read from a Nix secret-key file.
type SecretKey struct {
	Name string
	key  ed25519.PrivateKey
}

// PublicKey verifies manifests; agents pin it.
type PublicKey struct {
	Name string
	key  ed25519.PublicKey
}

// String writes the key as Nix does: "name:base64".
func (k PublicKey) String() string {
	return k.Name + ":" + base64.StdEncoding.EncodeToString(k.key)
}

// Public returns the key that verifies what k signs.
func (k SecretKey) Public() PublicKey {
	return PublicKey{Name: k.Name, key: k.key.Public().(ed25519.PublicKey)}
}

// ErrKey is text that is not a key of the expected kind. Its messages never
// quote the text: it may be a secret.
var ErrKey = errors.New("not a Nix signing key")

// splitKey reads "name:base64" into the name and size bytes.
func splitKey(text string, size int, what string) (string, []byte, error) {
	name, b64, ok := strings.Cut(strings.TrimSpace(text), ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
		return "", nil, fmt.Errorf("%w: a %s is NAME:BASE64", ErrKey, what)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != size {
		return "", nil, fmt.Errorf("%w: the %s %q does not hold %d base64 bytes", ErrKey, what, name, size)
	}
	return name, raw, nil
}

// ParseSecretKey reads a Nix secret key ("name:base64" of the 64-byte
// ed25519 private key, as `nix key generate-secret` prints it).
func ParseSecretKey(text string) (SecretKey, error) {
	name, raw, err := splitKey(text, ed25519.PrivateKeySize, "secret key")
	if err != nil {
		return SecretKey{}, err
	}
	return SecretKey{Name: name, key: ed25519.PrivateKey(raw)}, nil
}

// ReadSecretKey reads a Nix secret-key file.
func ReadSecretKey(file string) (SecretKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return SecretKey{}, fmt.Errorf("reading the signing key: %w", err)
	}
	k, err := ParseSecretKey(string(data))
	if err != nil {
		return SecretKey{}, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}

// ParsePublicKey reads a Nix public key ("name:base64" of 32 bytes).
func ParsePublicKey(text string) (PublicKey, error) {
	name, raw, err := splitKey(text, ed25519.PublicKeySize, "public key")
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{Name: name, key: ed25519.PublicKey(raw)}, nil
}
