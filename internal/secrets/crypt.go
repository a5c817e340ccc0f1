package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/nixherd/nixherd/internal/atomicfile"
)

// Decrypt reads and decrypts the rule's file. A file listed in the rules but
// missing is an error, never empty output.
func (rs *Rules) Decrypt(r *Rule, ids *Identities) ([]byte, error) {
	shown := displayPath(rs.PathOf(r))
	if err := rs.checkInside(r); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(rs.PathOf(r))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: listed in the rules but the file does not exist", shown)
		}
		return nil, fmt.Errorf("%s: %w", shown, unwrapPathError(err))
	}
	plain, err := decryptBytes(data, ids)
	if err != nil {
		return nil, rs.explainDecrypt(shown, r, data, ids, err)
	}
	return plain, nil
}

func decryptBytes(data []byte, ids *Identities) ([]byte, error) {
	// Read our own way first: its errors name the problem and the line.
	hdr, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(ids.ids) == 0 {
		return nil, ids.noneUsable()
	}
	var src io.Reader = bytes.NewReader(data)
	if hdr.Armored {
		src = armor.NewReader(src)
	}
	pr, err := age.Decrypt(src, ids.ids...)
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(pr)
	if err != nil {
		return nil, fmt.Errorf("the encrypted content is damaged: %v", err)
	}
	return plain, nil
}

// explainDecrypt turns an age error into one that says what to do.
func (rs *Rules) explainDecrypt(shown string, r *Rule, data []byte, ids *Identities, err error) error {
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.Is(err, errNoIdentity):
		hdr, _ := ReadHeader(bytes.NewReader(data))
		return fmt.Errorf("%s: %w\nthe file is encrypted to:\n%s", shown, err, describeHeader(hdr, r))
	case errors.Is(err, ErrNotEncrypted):
		return fmt.Errorf("%s: %w (plaintext where a secret should be?)", shown, err)
	case errors.As(err, &noMatch):
		hdr, _ := ReadHeader(bytes.NewReader(data))
		return fmt.Errorf("%s: no identity matches this file\nkeys tried:\n%s\nthe file is encrypted to:\n%s",
			shown, ids.Describe(), describeHeader(hdr, r))
	case strings.Contains(err.Error(), "bad header MAC"):
		return fmt.Errorf("%s: the header MAC does not match: the file is damaged or was modified", shown)
	}
	return fmt.Errorf("%s: %w", shown, err)
}

// describeHeader lists a header's recipients, named after the rule's keys where the tags match.
func describeHeader(h *Header, r *Rule) string {
	if h == nil {
		return "  (unreadable header)"
	}
	byID := map[string]*Recipient{}
	if r != nil {
		for _, rec := range r.Recipients {
			if rec.Tag != "" {
				byID[rec.stanzaID()] = rec
			}
		}
	}
	var lines []string
	for _, t := range h.SSHTags() {
		if rec, ok := byID[t]; ok {
			lines = append(lines, fmt.Sprintf("  %s (%s)", rec, t))
		} else {
			lines = append(lines, fmt.Sprintf("  %s (not in the rules)", t))
		}
	}
	for _, t := range []string{StanzaX25519, StanzaHybrid} {
		if n := h.Count(t); n > 0 {
			lines = append(lines, fmt.Sprintf("  %d %s key(s) (age keys carry no identifier)", n, t))
		}
	}
	if len(lines) == 0 {
		return "  (no recipient nixherd knows)"
	}
	return strings.Join(lines, "\n")
}

// encryptFor encrypts plain to the rule's recipients, armored when the rule says so.
func encryptFor(r *Rule, plain []byte) ([]byte, error) {
	if len(r.Recipients) == 0 {
		return nil, fmt.Errorf("%s has no publicKeys in the rules", r.File)
	}
	recs := make([]age.Recipient, len(r.Recipients))
	for i, rec := range r.Recipients {
		recs[i] = rec.age
	}
	var buf bytes.Buffer
	var dst io.Writer = &buf
	var aw io.WriteCloser
	if r.Armor {
		aw = armor.NewWriter(&buf)
		dst = aw
	}
	w, err := age.Encrypt(dst, recs...)
	if err != nil {
		return nil, fmt.Errorf("encrypting %s: %v", r.File, err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Encrypt encrypts plain to the rule's recipients and replaces the file
// atomically, recording its recipients in the manifest; someone who cannot
// decrypt a secret can still set it.
func (rs *Rules) Encrypt(r *Rule, plain []byte) error {
	if err := rs.checkInside(r); err != nil {
		return err
	}
	data, err := encryptFor(r, plain)
	if err != nil {
		return err
	}
	m, err := rs.readManifest()
	if err != nil {
		return err
	}
	if err := m.record(r, data); err != nil {
		return err
	}
	file, err := stage(rs.PathOf(r), data)
	if err != nil {
		return err
	}
	man, err := rs.stageManifest(m, map[string]bool{filepath.ToSlash(r.File): true})
	if err != nil {
		file.Abort()
		return err
	}
	return commitAll(file, man)
}

// commitAll renames staged files over their targets, in order. A file
// renamed before a failure stays renamed: the manifest comes last, and an
// entry that does not match its file only makes that file "needs rekey".
func commitAll(files ...atomicfile.Staged) error {
	for i, s := range files {
		if err := s.Commit(); err != nil {
			for _, rest := range files[i:] {
				rest.Abort()
			}
			return fmt.Errorf("replacing %s: %w", displayPath(s.Target), err)
		}
	}
	return nil
}

// checkInside refuses a secret whose file, once symbolic links are
// resolved, lies outside the rules folder: `encrypt sub/x` must not write
// through a link sub -> /elsewhere, nor decrypt read from there.
func (rs *Rules) checkInside(r *Rule) error {
	root, err := filepath.EvalSymlinks(rs.Dir)
	if err != nil {
		return fmt.Errorf("%s: %w", displayPath(rs.Dir), unwrapPathError(err))
	}
	p := rs.PathOf(r)
	resolved, err := resolveExisting(p)
	if err != nil {
		return fmt.Errorf("%s: %w", displayPath(p), unwrapPathError(err))
	}
	if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s: leads outside the rules folder %s (through a symbolic link to %s); refusing to read or write it", displayPath(p), displayPath(rs.Dir), resolved)
	}
	return nil
}

// resolveExisting resolves the symbolic links of the longest part of p
// that exists and appends the rest.
func resolveExisting(p string) (string, error) {
	var rest []string
	for cur := p; ; cur = filepath.Dir(cur) {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) || filepath.Dir(cur) == cur {
			return "", err
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
	}
}

// stage writes data beside target (atomicfile.Stage), keeping an existing
// file's mode (0644 for a new file, as agenix leaves them for git).
func stage(target string, data []byte) (atomicfile.Staged, error) {
	s, err := atomicfile.Stage(target, data, atomicfile.Keep)
	if err != nil {
		return atomicfile.Staged{}, fmt.Errorf("writing %s: %w", displayPath(target), err)
	}
	return s, nil
}

// WritePrivateFile writes decrypted content where the user asked for it,
// readable by the owner only, atomically.
func WritePrivateFile(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o600)
}
