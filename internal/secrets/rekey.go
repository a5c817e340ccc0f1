package secrets

import (
	"fmt"
	"path/filepath"

	"github.com/nixherd/nixherd/internal/atomicfile"
)

// RekeyResult says what a rekey did.
type RekeyResult struct {
	Rekeyed []string // files re-encrypted
	Skipped []string // files listed but missing: nothing to rekey
	// Reasons says why each file that drifted needed a rekey.
	Reasons map[string][]string
}

// Rekey re-encrypts the given rules' files (all rules when none are given)
// whose header recipients or armor differ from the rules; with force, every
// existing file. The others stay byte-identical. It is all or nothing: every
// new file is written beside its target first and the files are renamed only
// when all of them were written, so on any failure nothing changed.
func (rs *Rules) Rekey(rules []*Rule, ids *Identities, force bool) (*RekeyResult, error) {
	if len(rules) == 0 {
		rules = rs.Secrets
	}
	m, err := rs.readManifest()
	if err != nil {
		return nil, err
	}
	res := &RekeyResult{Reasons: map[string][]string{}}
	var todo []*Rule
	for _, r := range rules {
		e := rs.auditRule(r, m)
		switch e.Status {
		case StatusMissing:
			res.Skipped = append(res.Skipped, r.File)
		case StatusOutside:
			return nil, fmt.Errorf("%s; nothing was changed", e.Problems[0])
		case StatusNotEncrypted, StatusDamaged:
			return nil, fmt.Errorf("%s: %s, cannot rekey it; nothing was changed", displayPath(rs.PathOf(r)), e.Status)
		case StatusNeedsRekey:
			todo = append(todo, r)
			res.Reasons[r.File] = e.Problems
		case StatusOK:
			if force {
				todo = append(todo, r)
			}
		}
	}
	var done []atomicfile.Staged
	abort := func() {
		for _, s := range done {
			s.Abort()
		}
	}
	for _, r := range todo {
		plain, err := rs.Decrypt(r, ids)
		if err != nil {
			abort()
			return nil, fmt.Errorf("%w\nnothing was changed", err)
		}
		data, err := encryptFor(r, plain)
		clear(plain)
		if err == nil {
			err = m.record(r, data)
		}
		if err == nil {
			var s atomicfile.Staged
			s, err = stage(rs.PathOf(r), data)
			if err == nil {
				done = append(done, s)
			}
		}
		if err != nil {
			abort()
			return nil, fmt.Errorf("%s: %v\nnothing was changed", displayPath(rs.PathOf(r)), err)
		}
	}
	if len(done) == 0 {
		return res, nil
	}
	written := map[string]bool{}
	for _, r := range todo {
		written[filepath.ToSlash(r.File)] = true
	}
	man, err := rs.stageManifest(m, written)
	if err != nil {
		abort()
		return nil, fmt.Errorf("%w\nnothing was changed", err)
	}
	// Renames in one folder do not fail for want of space; the new files are
	// complete on disk, so this is as close to one step as a file system
	// gets. The manifest goes last (see commitAll).
	if err := commitAll(append(done, man)...); err != nil {
		return nil, fmt.Errorf("%w (files before it were rekeyed)", err)
	}
	for _, r := range todo {
		res.Rekeyed = append(res.Rekeyed, r.File)
	}
	return res, nil
}
