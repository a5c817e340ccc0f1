package secrets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// AskpassEnv names a program that prints a key's passphrase, like
// SSH_ASKPASS. It exists for scripts and tests; by default the passphrase is
// read from the terminal. A passphrase is never accepted as an argument.
const AskpassEnv = "NIXHERD_ASKPASS"

// Identities are the private keys tried to decrypt a secret.
type Identities struct {
	ids   []age.Identity
	keys  []identityKey // what was tried, for the "no identity matched" message
	empty string        // why there are none, when there are none
}

type identityKey struct {
	file string
	id   string // "ssh-ed25519 TAG", "X25519 age1…"
}

// DefaultIdentityFiles are tried when no -i is given, as agenix does.
func DefaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(home, ".ssh", "id_ed25519"), filepath.Join(home, ".ssh", "id_rsa")}
}

// LoadIdentities reads identity files: SSH private keys (ed25519, RSA,
// passphrase-protected too) and age identity files (AGE-SECRET-KEY-1…). With
// no files it tries DefaultIdentityFiles and skips those that do not exist;
// a file named explicitly must be readable and usable. A protected SSH key asks for its
// passphrase only when a file is encrypted to it, and once per run.
func LoadIdentities(files []string) (*Identities, error) {
	explicit := len(files) > 0
	if !explicit {
		files = DefaultIdentityFiles()
	}
	is := &Identities{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if !explicit && errors.Is(err, os.ErrNotExist) {
				is.keys = append(is.keys, identityKey{f, "does not exist"})
				continue
			}
			return nil, fmt.Errorf("identity %s: %w", f, unwrapPathError(err))
		}
		if err := is.add(f, data); err != nil {
			if explicit {
				return nil, fmt.Errorf("identity %s: %w", f, err)
			}
			// A default key nixherd cannot use is skipped, and said so if nothing matches.
			is.keys = append(is.keys, identityKey{f, "skipped: " + err.Error()})
		}
	}
	if len(is.ids) == 0 {
		is.empty = "none among " + strings.Join(files, ", ") + " (use -i)"
	}
	return is, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (is *Identities) add(file string, data []byte) error {
	if bytes.Contains(data, []byte("AGE-SECRET-KEY-")) {
		ids, err := age.ParseIdentities(bytes.NewReader(data))
		if err != nil {
			return err
		}
		for _, id := range ids {
			desc := "age identity"
			if x, ok := id.(*age.X25519Identity); ok {
				desc = "X25519 " + x.Recipient().String()
			}
			is.ids = append(is.ids, id)
			is.keys = append(is.keys, identityKey{file, desc})
		}
		return nil
	}
	id, err := agessh.ParseIdentity(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		pub := missing.PublicKey
		if pub == nil {
			pub, err = readPublicKey(file + ".pub")
			if err != nil {
				return fmt.Errorf("passphrase-protected key without a readable %s.pub: %v", filepath.Base(file), err)
			}
		}
		eid, err := agessh.NewEncryptedSSHIdentity(pub, data, askPassphrase(file))
		if err != nil {
			return err
		}
		is.ids = append(is.ids, eid)
		is.keys = append(is.keys, identityKey{file, pub.Type() + " " + sshTag(pub) + ", passphrase-protected"})
		return nil
	case err != nil:
		return fmt.Errorf("not an SSH private key or age identity file: %v", err)
	}
	desc := "ssh key"
	if pub, err := publicFromPrivate(data); err == nil {
		desc = pub.Type() + " " + sshTag(pub)
	}
	is.ids = append(is.ids, id)
	is.keys = append(is.keys, identityKey{file, desc})
	return nil
}

func readPublicKey(path string) (ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(data)
	return pk, err
}

// publicFromPrivate derives the public key of an unencrypted SSH private key.
func publicFromPrivate(pem []byte) (ssh.PublicKey, error) {
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	return signer.PublicKey(), nil
}

// askPassphrase returns a passphrase callback for one key file. agessh calls
// it only when a file is encrypted to that key and keeps the decrypted key
// after the first success, so each key asks once per run.
func askPassphrase(file string) func() ([]byte, error) {
	return func() ([]byte, error) {
		prompt := fmt.Sprintf("Enter passphrase for %s: ", file)
		if prog := os.Getenv(AskpassEnv); prog != "" {
			out, err := exec.Command(prog, prompt).Output()
			if err != nil {
				return nil, fmt.Errorf("%s: %v", AskpassEnv, err)
			}
			line, _, _ := bufio.NewReader(bytes.NewReader(out)).ReadLine()
			return line, nil
		}
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("%s is passphrase-protected and there is no terminal to ask on (set %s)", file, AskpassEnv)
		}
		defer tty.Close()
		fmt.Fprint(tty, prompt)
		pass, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return pass, err
	}
}

// errNoIdentity is an identity list with nothing usable in it.
var errNoIdentity = errors.New("no usable identity")

// noneUsable explains an empty identity list: each key file tried and why
// it was not used (a default key that does not exist, one nixherd cannot
// read).
func (is *Identities) noneUsable() error {
	if len(is.keys) == 0 {
		return fmt.Errorf("%w: %s", errNoIdentity, is.empty)
	}
	return fmt.Errorf("%w: %s:\n%s", errNoIdentity, is.empty, is.Describe())
}

// Describe lists the keys that were tried, one per line, for error messages.
func (is *Identities) Describe() string {
	var b strings.Builder
	for _, k := range is.keys {
		fmt.Fprintf(&b, "  %s (%s)\n", k.file, k.id)
	}
	return strings.TrimRight(b.String(), "\n")
}
