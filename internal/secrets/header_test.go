package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// sample encrypts "hello" to a fresh X25519 key and an extra grease-like
// stanza-free recipient set, binary or armored.
func sample(t testing.TB, armored bool) []byte {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var dst interface {
		Write([]byte) (int, error)
	} = &buf
	var aw interface{ Close() error }
	if armored {
		w := armor.NewWriter(&buf)
		dst, aw = w, w
	}
	w, err := age.Encrypt(dst, id.Recipient(), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	w.Close()
	if aw != nil {
		aw.Close()
	}
	return buf.Bytes()
}

func TestReadHeader(t *testing.T) {
	bin := sample(t, false)
	arm := sample(t, true)
	crlf := bytes.ReplaceAll(arm, []byte("\n"), []byte("\r\n"))
	withGrease := bytes.Replace(bin, []byte("\n-> X25519"), []byte("\n-> abc-grease x y\nZm9v\n-> X25519"), 1)
	for _, tc := range []struct {
		name    string
		in      []byte
		armored bool
		x25519  int
	}{
		{"binary", bin, false, 2},
		{"armored", arm, true, 2},
		{"armored CRLF", crlf, true, 2},
		{"leading whitespace before armor", append([]byte("\n  \n"), arm...), true, 2},
		{"grease stanza ignored", withGrease, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ReadHeader(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if h.Armored != tc.armored || h.Count(StanzaX25519) != tc.x25519 || len(h.SSHTags()) != 0 {
				t.Fatalf("got armored=%v x25519=%d tags=%v", h.Armored, h.Count(StanzaX25519), h.SSHTags())
			}
		})
	}
}

func TestReadHeaderRejects(t *testing.T) {
	bin := sample(t, false)
	arm := sample(t, true)
	hdrEnd := bytes.Index(bin, []byte("\n---"))
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"plaintext", []byte("password123\n"), ErrNotEncrypted.Error()},
		{"empty", nil, ErrNotEncrypted.Error()},
		{"truncated header", bin[:hdrEnd], "truncated header"},
		{"truncated armor", arm[:bytes.Index(arm, []byte("\n"))+66], "armor ends without"},
		{"bad base64 in stanza", bytes.Replace(bin, []byte("\n-> X25519 "), []byte("\n-> X25519 x\n!!!!\n-> X25519 "), 1), "invalid base64 in stanza body"},
		{"bad base64 in armor", bytes.Replace(arm, []byte("\nYWdl"), []byte("\n*Wdl"), 1), "invalid base64 in armor"},
		{"binary with CRLF", bytes.ReplaceAll(bin[:hdrEnd+50], []byte("\n"), []byte("\r\n")), "CRLF line ends in a binary age file"},
		{"future version", []byte("age-encryption.org/v2\n"), "unsupported age version"},
		{"garbage line", []byte("age-encryption.org/v1\nhello\n"), "expected a stanza"},
		{"bad MAC encoding", []byte("age-encryption.org/v1\n-> X25519 a\n\n--- !!\n"), "invalid header MAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadHeader(bytes.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.want != ErrNotEncrypted.Error() && errors.Is(err, ErrNotEncrypted) {
				t.Fatalf("a damaged age file reported as plaintext: %v", err)
			}
		})
	}
}

// The header reader faces files from anywhere in a repository: it must not
// panic, hang or accept what age itself rejects as a header.
func FuzzReadHeader(f *testing.F) {
	bin := sample(f, false)
	f.Add(bin)
	f.Add(sample(f, true))
	f.Add(bytes.ReplaceAll(sample(f, true), []byte("\n"), []byte("\r\n")))
	f.Add([]byte("age-encryption.org/v1\n-> ssh-ed25519 AAAAAA BBBB\nZm9v\n--- " + strings.Repeat("A", 43) + "\n"))
	f.Add([]byte("-----BEGIN AGE ENCRYPTED FILE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if h.Armored {
			return
		}
		// What we accept as a binary header, age accepts as one too.
		if _, err := age.ExtractHeader(bytes.NewReader(data)); err != nil {
			t.Fatalf("ReadHeader accepted a header age rejects (%v): %q", err, data)
		}
	})
}
