package check

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
	"github.com/nixherd/nixherd/internal/secrets"
)

// badKey is a publicKeys entry that is not a key, and the secrets using it.
type badKey struct {
	pos     nixlang.Position
	err     error
	secrets []string
}

// checkSecrets keeps the agenix rules file and the secrets/ directory in
// step, and makes sure nothing under secrets/ is committed in the clear.
func checkSecrets(f *fleet.Fleet) []Finding {
	var out []Finding
	listed := map[string]bool{}
	// A key bound once in a let and used by many secrets is reported once,
	// at the key, naming the secrets it is meant for.
	var badKeys []*badKey
	byPos := map[nixlang.Position]*badKey{}
	for _, s := range f.Secrets {
		listed[s.File] = true
		if _, err := os.Stat(filepath.Join(f.Root, filepath.FromSlash(s.File))); err != nil {
			out = append(out, at(s.Pos, Error, fmt.Sprintf("secret %s has no file %s; create it with nixherd secrets edit %s", s.Name, s.File, strings.TrimSuffix(s.Name, ".age"))))
		}
		for _, k := range s.PublicKeys {
			if bk, seen := byPos[k.Pos]; seen {
				bk.secrets = append(bk.secrets, s.Name)
				continue
			}
			if err := validPublicKey(k.Key); err != nil {
				bk := &badKey{pos: k.Pos, err: err, secrets: []string{s.Name}}
				byPos[k.Pos] = bk
				badKeys = append(badKeys, bk)
			}
		}
	}
	out = append(out, checkRecipients(f, byPos)...)
	for _, use := range f.SecretUses {
		if _, err := os.Stat(filepath.Join(f.Root, filepath.FromSlash(use.File))); err != nil {
			out = append(out, at(use.Pos, Error, fmt.Sprintf("age.secrets.%s.file %s does not exist", use.Name, use.File)))
		} else if f.SecretsFile != "" && strings.HasSuffix(use.File, ".age") && !listed[use.File] {
			out = append(out, at(use.Pos, Error, fmt.Sprintf("age.secrets.%s.file %s is not listed in %s", use.Name, use.File, f.SecretsFile)))
		}
	}
	for _, bk := range badKeys {
		out = append(out, at(bk.pos, Error, fmt.Sprintf("publicKeys entry of %s is not an SSH or age public key: %v", strings.Join(bk.secrets, ", "), bk.err)))
	}
	for _, file := range f.SecretFiles {
		whole := nixlang.Position{File: file}
		if strings.HasSuffix(file, ".md") {
			continue
		}
		if f.SecretsFile != "" && strings.HasSuffix(file, ".age") && !listed[file] {
			out = append(out, at(whole, Error, fmt.Sprintf("%s is not listed in %s: nobody knows who may decrypt it", file, f.SecretsFile)))
		}
		if err := ageEncrypted(filepath.Join(f.Root, filepath.FromSlash(file))); errors.Is(err, secrets.ErrNotEncrypted) {
			out = append(out, at(whole, Error, fmt.Sprintf("%s is not age-encrypted: never commit a secret in the clear", file)))
		} else if err != nil {
			out = append(out, at(whole, Error, fmt.Sprintf("%s is not a valid age file: %v", file, err)))
		}
	}
	return out
}

// checkRecipients reads each secret's age header (no private key needed)
// and reports a file not encrypted to exactly the keys secrets.nix lists:
// someone listed cannot decrypt it, or someone removed still can.
func checkRecipients(f *fleet.Fleet, bad map[nixlang.Position]*badKey) []Finding {
	if f.SecretsFile == "" {
		return nil
	}
	rs := &secrets.Rules{Path: f.SecretsFile, Dir: filepath.Join(f.Root, filepath.FromSlash(path.Dir(f.SecretsFile)))}
	pos := map[string]nixlang.Position{}
	for _, s := range f.Secrets {
		if !s.KeysKnown {
			continue
		}
		rule := &secrets.Rule{File: s.Name, Armor: s.Armor}
		usable := true
		for _, k := range s.PublicKeys {
			if _, isBad := bad[k.Pos]; isBad {
				usable = false
				break
			}
			rec, err := secrets.ParseRecipient(k.Key)
			if err != nil {
				usable = false
				break
			}
			rule.Recipients = append(rule.Recipients, rec)
		}
		if usable {
			rs.Secrets = append(rs.Secrets, rule)
			pos[s.Name] = s.Pos
		}
	}
	entries, err := rs.Audit()
	if err != nil {
		return []Finding{at(nixlang.Position{File: f.SecretsFile}, Error, err.Error())}
	}
	var out []Finding
	for _, e := range entries {
		p, named := pos[e.File]
		if !named || e.Status != secrets.StatusNeedsRekey {
			continue
		}
		out = append(out, at(p, Error, fmt.Sprintf("secret %s does not match its publicKeys: %s; run nixherd secrets rekey", e.File, strings.Join(e.Problems, "; "))))
	}
	return out
}

// validPublicKey accepts what agenix can encrypt to: an SSH public key
// (ssh-ed25519, ssh-rsa) or an age recipient, as the secrets tool parses it.
func validPublicKey(k string) error {
	_, err := secrets.ParseRecipient(k)
	return err
}

// ageEncrypted checks that a file has a well-formed age header, binary or
// armored.
func ageEncrypted(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = secrets.ReadHeader(fh)
	return err
}
