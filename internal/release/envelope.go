package release

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// envelope is a DSSE envelope (github.com/secure-systems-lab/dsse).
type envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"` // base64 in JSON
	Signatures  []signature `json:"signatures"`
}

type signature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// pae is DSSE's pre-authentication encoding: what is signed.
func pae(payloadType string, payload []byte) []byte {
	b := []byte("DSSEv1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " ")
	return append(b, payload...)
}

// Sign validates m and returns the signed manifest, ready to be served.
func Sign(m *Manifest, key SecretKey) ([]byte, error) {
	if m.Format == 0 {
		m.Format = Format
	}
	m.Time = m.Time.UTC().Truncate(time.Second)
	if err := m.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	env := envelope{PayloadType: PayloadType, Payload: payload, Signatures: []signature{
		{KeyID: key.Name, Sig: ed25519.Sign(key.key, pae(PayloadType, payload))},
	}}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ErrSignature is a manifest that no pinned key signed: tampered with, or
// signed by another key.
var ErrSignature = errors.New("the manifest's signature does not verify")

// Verify checks that one of keys signed data and returns the manifest. It
// never returns a manifest whose signature did not verify.
func Verify(data []byte, keys []PublicKey) (*Manifest, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrFormat, len(data), MaxSize)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key to verify the manifest with")
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q, not %q", ErrFormat, env.PayloadType, PayloadType)
	}
	signed := pae(env.PayloadType, env.Payload)
	var names []string
	for _, s := range env.Signatures {
		names = append(names, strconv.Quote(s.KeyID))
		for _, k := range keys {
			if s.KeyID == k.Name && ed25519.Verify(k.key, signed, s.Sig) {
				return decode(env.Payload)
			}
		}
	}
	pinned := make([]string, len(keys))
	for i, k := range keys {
		pinned[i] = strconv.Quote(k.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: it carries no signature", ErrSignature)
	}
	return nil, fmt.Errorf("%w: signed by key %v, verified against %v", ErrSignature, names, pinned)
}

// Peek reads a manifest without verifying it: only for a publisher finding
// the release number of what it replaces, never for deciding what to run.
func Peek(data []byte) (*Manifest, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return decode(env.Payload)
}
