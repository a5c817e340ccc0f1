package check

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/nixherd/nixherd/internal/fleet"
)

// checkSecrets keeps the agenix rules file and the secrets/ directory in
// step, and makes sure nothing under secrets/ is committed in the clear.
func checkSecrets(f *fleet.Fleet) []Finding {
	var out []Finding
	listed := map[string]bool{}
	for _, s := range f.Secrets {
		listed[s.File] = true
		if _, err := os.Stat(filepath.Join(f.Root, filepath.FromSlash(s.File))); err != nil {
			out = append(out, at(s.Pos, Error, fmt.Sprintf("secret %s has no file %s; create it with nixherd secrets edit %s", s.Name, s.File, strings.TrimSuffix(s.Name, ".age"))))
		}
		for _, k := range s.PublicKeys {
			if err := validPublicKey(k.Key); err != nil {
				out = append(out, at(k.Pos, Error, fmt.Sprintf("publicKeys entry of %s is not an SSH or age public key: %v", s.Name, err)))
			}
		}
	}
	for _, file := range f.SecretFiles {
		whole := fleet.Pos{File: file}
		if strings.HasSuffix(file, ".md") {
			continue
		}
		if f.SecretsFile != "" && strings.HasSuffix(file, ".age") && !listed[file] {
			out = append(out, at(whole, Error, fmt.Sprintf("%s is not listed in %s: nobody knows who may decrypt it", file, f.SecretsFile)))
		}
		if err := ageEncrypted(filepath.Join(f.Root, filepath.FromSlash(file))); err != nil {
			out = append(out, at(whole, Error, fmt.Sprintf("%s is not age-encrypted (%v): never commit a secret in the clear", file, err)))
		}
	}
	return out
}

// validPublicKey accepts what agenix can encrypt to: an SSH public key
// (ssh-ed25519, ssh-rsa) or an age X25519 recipient.
func validPublicKey(k string) error {
	k = strings.TrimSpace(k)
	if strings.HasPrefix(k, "age1") {
		_, err := age.ParseX25519Recipient(k)
		return err
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
	if err != nil {
		return fmt.Errorf("%q is neither", abbreviate(k))
	}
	switch pk.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoRSA:
		return nil
	}
	return fmt.Errorf("%s keys are not supported by age (use ssh-ed25519 or ssh-rsa)", pk.Type())
}

func abbreviate(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// ageEncrypted checks that a file starts like an age file, binary or armored.
func ageEncrypted(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(fh, head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("age-encryption.org/v1\n")) {
		return nil
	}
	if bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
		return nil
	}
	return fmt.Errorf("no age header")
}
