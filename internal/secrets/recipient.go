package secrets

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// Recipient is one publicKeys entry of the rules: a key a secret is encrypted to.
type Recipient struct {
	Key  string `json:"key"`            // as written in the rules
	Name string `json:"name,omitempty"` // the let binding that holds it in secrets.nix, if any
	// Type is the header stanza type the key produces: ssh-ed25519, ssh-rsa,
	// X25519 or mlkem768x25519.
	Type string `json:"type"`
	// Tag identifies an SSH key in a header: the first 4 bytes of SHA-256
	// over the SSH wire-format key, unpadded base64. Empty for age keys.
	Tag string `json:"tag,omitempty"`

	age  age.Recipient
	wire []byte // the SSH wire-format key; nil for age keys
}

// String names the recipient for people: its binding name when known,
// otherwise the start of the key.
func (r *Recipient) String() string {
	if r.Name != "" {
		return r.Name
	}
	return shortKey(r.Key)
}

// stanzaID is how the recipient shows up in a header: "type tag" for SSH
// keys, the bare type for keys that only count.
func (r *Recipient) stanzaID() string {
	if r.Tag != "" {
		return r.Type + " " + r.Tag
	}
	return r.Type
}

// ParseRecipient parses a publicKeys entry: an SSH public key in
// authorized_keys form (ssh-ed25519 or ssh-rsa of at least 2048 bits, with or
// without a comment), an age X25519 key (age1…) or an age post-quantum key
// (age1pq1…). The error says why an entry is not a usable key.
func ParseRecipient(s string) (*Recipient, error) {
	key := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(key, "ssh-ed25519 "), strings.HasPrefix(key, "ssh-rsa "):
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
		if err != nil {
			return nil, fmt.Errorf("not a valid SSH public key %q: %v", shortKey(key), err)
		}
		ar, err := agessh.ParseRecipient(string(ssh.MarshalAuthorizedKey(pk)))
		if err != nil {
			return nil, fmt.Errorf("unusable SSH public key %q: %v", shortKey(key), err)
		}
		return &Recipient{Key: key, Type: pk.Type(), Tag: sshTag(pk), age: ar, wire: pk.Marshal()}, nil
	case strings.HasPrefix(key, "ssh-"), strings.HasPrefix(key, "ecdsa-"), strings.HasPrefix(key, "sk-"):
		kind, _, _ := strings.Cut(key, " ")
		return nil, fmt.Errorf("unsupported SSH key type %q (age supports ssh-ed25519 and ssh-rsa)", kind)
	case strings.HasPrefix(key, "age1pq1"):
		ar, err := age.ParseHybridRecipient(key)
		if err != nil {
			return nil, fmt.Errorf("not a valid age key %q: %v", shortKey(key), err)
		}
		return &Recipient{Key: key, Type: StanzaHybrid, age: ar}, nil
	case strings.HasPrefix(key, "age1") && !strings.ContainsRune(key, ' '):
		ar, err := age.ParseX25519Recipient(key)
		if err != nil {
			if len(key) != 62 {
				return nil, fmt.Errorf("not a valid age key %q: plugin recipients are not supported, and an X25519 key is 62 characters", shortKey(key))
			}
			return nil, fmt.Errorf("not a valid age key %q: %v", shortKey(key), err)
		}
		return &Recipient{Key: key, Type: StanzaX25519, age: ar}, nil
	case strings.HasPrefix(key, "AGE-SECRET-KEY-"), strings.Contains(key, "PRIVATE KEY"):
		// Never echo it: this is a private key pasted where a public one belongs.
		return nil, fmt.Errorf("a private key where a public key belongs")
	}
	return nil, fmt.Errorf("not a public key %q (want \"ssh-ed25519 …\", \"ssh-rsa …\" or \"age1…\")", shortKey(key))
}

func sshTag(pk ssh.PublicKey) string {
	sum := sha256.Sum256(pk.Marshal())
	return base64.RawStdEncoding.EncodeToString(sum[:4])
}

// shortKey abbreviates a key for messages: type and the first characters.
func shortKey(k string) string {
	fields := strings.Fields(k)
	if len(fields) >= 2 && len(fields[1]) > 16 {
		return fields[0] + " " + fields[1][:16] + "…"
	}
	if len(k) > 32 {
		return k[:32] + "…"
	}
	return k
}
