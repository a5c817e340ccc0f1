package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Status is where a secret stands against the rules.
type Status string

const (
	StatusOK           Status = "ok"
	StatusNeedsRekey   Status = "needs rekey"
	StatusMissing      Status = "missing file"
	StatusNotInRules   Status = "not in rules"
	StatusNotEncrypted Status = "not encrypted"
	StatusDamaged      Status = "damaged header"
	StatusOutside      Status = "outside the rules folder"
)

// Entry is one secret (or stray file) as list and check see it.
type Entry struct {
	File       string       `json:"file"` // relative to the rules folder
	Recipients []*Recipient `json:"recipients"`
	Armor      bool         `json:"armor"`
	Status     Status       `json:"status"`
	// Problems says what differs: keys missing from or extra in the file's
	// header, armor, a damaged header.
	Problems []string `json:"problems,omitempty"`
}

// Audit compares every file with the rules, offline: recipients come from
// the files' headers, so no private key is needed. Files under the rules
// folder that the rules do not name are reported, and when that folder is a
// dedicated secrets/ folder, so is every file in it that is not encrypted.
func (rs *Rules) Audit() ([]*Entry, error) {
	m, err := rs.readManifest()
	if err != nil {
		return nil, err
	}
	var out []*Entry
	named := map[string]bool{}
	for _, r := range rs.Secrets {
		named[r.File] = true
		out = append(out, rs.auditRule(r, m))
	}
	strays, err := rs.strayFiles(named)
	if err != nil {
		return nil, err
	}
	return append(out, strays...), nil
}

func (rs *Rules) auditRule(r *Rule, m *manifest) *Entry {
	e := &Entry{File: r.File, Recipients: r.Recipients, Armor: r.Armor, Status: StatusOK}
	if err := rs.checkInside(r); err != nil {
		e.Status = StatusOutside
		e.Problems = append(e.Problems, err.Error())
		return e
	}
	f, err := os.Open(rs.PathOf(r))
	if err != nil {
		e.Status = StatusMissing
		if !errors.Is(err, os.ErrNotExist) {
			e.Problems = append(e.Problems, unwrapPathError(err).Error())
		}
		return e
	}
	defer f.Close()
	hdr, err := ReadHeader(f)
	switch {
	case errors.Is(err, ErrNotEncrypted):
		e.Status = StatusNotEncrypted
		return e
	case err != nil:
		e.Status = StatusDamaged
		e.Problems = append(e.Problems, err.Error())
		return e
	}
	if d := drift(r, hdr, m); len(d) > 0 {
		e.Status = StatusNeedsRekey
		e.Problems = d
	}
	return e
}

// drift lists how a file's header differs from its rule. SSH keys are
// compared by the tag their stanzas carry. Age keys (X25519, post-quantum)
// leave no identifier in the file: they are compared with what the
// manifest recorded for this very file, and a file the manifest does not
// speak for counts as drifted, since a swapped key would go unseen.
func drift(r *Rule, h *Header, m *manifest) []string {
	var out []string
	have := map[string]int{}
	for _, t := range h.SSHTags() {
		have[t]++
	}
	want := map[string]int{}
	var ageKeys []*Recipient
	for _, rec := range r.Recipients {
		if rec.Tag == "" {
			want[rec.Type]++
			ageKeys = append(ageKeys, rec)
			continue
		}
		id := rec.stanzaID()
		if have[id] == 0 {
			out = append(out, fmt.Sprintf("not encrypted to %s (%s)", rec, id))
		}
		want[id]++
	}
	var extra []string
	for id := range have {
		if want[id] == 0 {
			extra = append(extra, fmt.Sprintf("encrypted to a key not in the rules (%s)", id))
		}
	}
	sort.Strings(extra)
	out = append(out, extra...)
	counted := true
	for _, t := range []string{StanzaX25519, StanzaHybrid} {
		if n := h.Count(t); n != want[t] {
			out = append(out, fmt.Sprintf("%d %s recipient(s) in the rules, %d in the file", want[t], t, n))
			counted = false
		}
	}
	if counted && len(ageKeys) > 0 {
		out = append(out, ageDrift(r, h, m, ageKeys)...)
	}
	if r.Armor != h.Armored {
		if r.Armor {
			out = append(out, "the rules say armor = true, the file is binary")
		} else {
			out = append(out, "the file is armored, the rules do not say armor = true")
		}
	}
	return out
}

// ageDrift compares a file's age recipients with the rule's, through the
// manifest.
func ageDrift(r *Rule, h *Header, m *manifest, keys []*Recipient) []string {
	recorded, ok := m.knownRecipients(r, h)
	if !ok {
		return []string{fmt.Sprintf("which age keys it is encrypted to cannot be known (age records none in the file, and %s has no entry for this version of it: it was written by another tool, agenix or age, or changed since); a rekey re-encrypts it and records them", ManifestName)}
	}
	var out []string
	wanted := map[string]bool{}
	for _, rec := range keys {
		fp := rec.Type + " " + rec.Fingerprint()
		wanted[fp] = true
		if !recorded[fp] {
			out = append(out, fmt.Sprintf("not encrypted to %s (%s)", rec, fp))
		}
	}
	var extra []string
	for fp := range recorded {
		typ, _, _ := strings.Cut(fp, " ")
		if (typ == StanzaX25519 || typ == StanzaHybrid) && !wanted[fp] {
			extra = append(extra, fmt.Sprintf("encrypted to an age key not in the rules (%s)", fp))
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// strayFiles finds .age files the rules do not name and, in a dedicated
// secrets folder, plaintext files.
func (rs *Rules) strayFiles(named map[string]bool) ([]*Entry, error) {
	dedicated := filepath.Base(rs.Dir) == "secrets"
	var out []*Entry
	err := filepath.WalkDir(rs.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(rs.Dir, p)
		if d.IsDir() {
			// Only a dedicated folder is searched in depth; a fleet root is not.
			if p != rs.Dir && (!dedicated || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || named[rel] || p == filepath.Join(rs.Dir, filepath.Base(rs.Path)) {
			return nil
		}
		isAge := strings.HasSuffix(rel, ".age")
		if !isAge && (!dedicated || harmless(d.Name())) {
			return nil
		}
		e := &Entry{File: rel, Recipients: []*Recipient{}, Status: StatusNotInRules}
		f, err := os.Open(p)
		if err != nil {
			e.Problems = append(e.Problems, unwrapPathError(err).Error())
			out = append(out, e)
			return nil
		}
		hdr, herr := ReadHeader(f)
		f.Close()
		switch {
		case errors.Is(herr, ErrNotEncrypted):
			e.Status = StatusNotEncrypted
			e.Problems = append(e.Problems, "plaintext in the secrets folder, and not in the rules")
		case herr != nil:
			e.Problems = append(e.Problems, herr.Error())
		default:
			e.Armor = hdr.Armored
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// harmless names files a secrets folder may hold in plaintext.
func harmless(name string) bool {
	return name == ManifestName || strings.HasSuffix(name, ".nix") || strings.HasPrefix(name, ".git") ||
		strings.HasPrefix(strings.ToLower(name), "readme")
}
