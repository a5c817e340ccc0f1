package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/atomicfile"
)

// The recipients manifest: what each file was encrypted to.
//
// An age header names its SSH recipients by a tag, but an X25519 (age1…)
// or post-quantum stanza carries no identifier: from the file alone, a key
// swapped for another in secrets.nix cannot be noticed. So every file
// nixherd writes is recorded in ManifestName, beside the rules file and
// committed with the secrets:
//
//	{
//	  "version": 1,
//	  "files": {
//	    "api.age": {
//	      "mac": "<the file's header MAC>",
//	      "recipients": ["X25519 SHA256:…", "ssh-ed25519 SHA256:…", …]
//	    }
//	  }
//	}
//
// The header MAC is different for every encryption, so an entry speaks
// only for the exact file it was written with: a file that another tool
// (agenix, the age CLI) or another hand rewrote no longer matches, and its
// age recipients count as unknown, i.e. the file needs a rekey. Recipients
// are fingerprints (Recipient.Fingerprint), never keys. The manifest is a
// record kept by whoever writes the secrets, not a signature: someone who
// may commit can write anything into it, as into secrets.nix.

// ManifestName is the manifest's file name, in the rules file's folder.
const ManifestName = ".nixherd-recipients.json"

// manifest is the parsed ManifestName.
type manifest struct {
	Version int                       `json:"version"`
	Files   map[string]*manifestEntry `json:"files"`
}

type manifestEntry struct {
	MAC        string   `json:"mac"`
	Recipients []string `json:"recipients"`
}

// Fingerprint identifies the key: "SHA256:" and the unpadded base64 of the
// SHA-256 of the SSH wire-format key (what ssh-keygen -l prints) or of the
// age recipient string.
func (r *Recipient) Fingerprint() string {
	var sum [32]byte
	if r.wire != nil {
		sum = sha256.Sum256(r.wire)
	} else {
		sum = sha256.Sum256([]byte(r.Key))
	}
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func (rs *Rules) manifestPath() string { return filepath.Join(rs.Dir, ManifestName) }

// readManifest reads the manifest; a missing one is empty. A damaged one
// is an error: it must not pass for "nothing is known" silently.
func (rs *Rules) readManifest() (*manifest, error) {
	m := &manifest{Version: 1, Files: map[string]*manifestEntry{}}
	data, err := os.ReadFile(rs.manifestPath())
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayPath(rs.manifestPath()), err)
	}
	if err := json.Unmarshal(data, m); err != nil || m.Version != 1 {
		return nil, fmt.Errorf("%s: not a recipients manifest nixherd can read (delete it and run nixherd secrets rekey --all to write it anew)", displayPath(rs.manifestPath()))
	}
	if m.Files == nil {
		m.Files = map[string]*manifestEntry{}
	}
	return m, nil
}

// record notes that r's file now holds data, encrypted to r's recipients.
func (m *manifest) record(r *Rule, data []byte) error {
	h, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	e := &manifestEntry{MAC: h.MAC}
	for _, rec := range r.Recipients {
		e.Recipients = append(e.Recipients, rec.Type+" "+rec.Fingerprint())
	}
	sort.Strings(e.Recipients)
	m.Files[filepath.ToSlash(r.File)] = e
	return nil
}

// stageManifest writes the manifest beside its target, dropping entries of
// files that no longer exist, for the caller to commit with the files.
func (rs *Rules) stageManifest(m *manifest, written map[string]bool) (atomicfile.Staged, error) {
	for f := range m.Files {
		if written[f] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(rs.Dir, filepath.FromSlash(f))); errors.Is(err, os.ErrNotExist) {
			delete(m.Files, f)
		}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return atomicfile.Staged{}, err
	}
	return stage(rs.manifestPath(), append(data, '\n'))
}

// knownRecipients returns the recipients ("TYPE SHA256:…") the manifest
// records for r's file as it is now (header h), or ok false when they
// cannot be known: no entry, an entry for another encryption of the file,
// or one that does not agree with the header's stanzas.
func (m *manifest) knownRecipients(r *Rule, h *Header) (recorded map[string]bool, ok bool) {
	e := m.Files[filepath.ToSlash(r.File)]
	if e == nil || e.MAC != h.MAC {
		return nil, false
	}
	recorded = map[string]bool{}
	count := map[string]int{}
	for _, fp := range e.Recipients {
		recorded[fp] = true
		typ, _, _ := strings.Cut(fp, " ")
		count[typ]++
	}
	for _, t := range []string{StanzaX25519, StanzaHybrid} {
		if count[t] != h.Count(t) {
			return nil, false
		}
	}
	return recorded, true
}
