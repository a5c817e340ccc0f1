package secrets

import (
	"fmt"
)

// RekeyResult says what a rekey did.
type RekeyResult struct {
	Rekeyed []string // files re-encrypted
	Skipped []string // files listed but missing: nothing to rekey
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
	res := &RekeyResult{}
	var todo []*Rule
	for _, r := range rules {
		e := rs.auditRule(r)
		switch e.Status {
		case StatusMissing:
			res.Skipped = append(res.Skipped, r.File)
		case StatusNotEncrypted, StatusDamaged:
			return nil, fmt.Errorf("%s: %s, cannot rekey it; nothing was changed", displayPath(rs.PathOf(r)), e.Status)
		case StatusNeedsRekey:
			todo = append(todo, r)
		case StatusOK:
			if force {
				todo = append(todo, r)
			}
		}
	}
	var done []staged
	abort := func() {
		for _, s := range done {
			s.abort()
		}
	}
	for _, r := range todo {
		plain, err := rs.Decrypt(r, ids)
		if err != nil {
			abort()
			return nil, fmt.Errorf("%w\nnothing was changed", err)
		}
		data, err := encryptFor(r, plain)
		if err == nil {
			var s staged
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
	// Renames in one folder do not fail for want of space; the new files are
	// complete on disk, so this is as close to one step as a file system gets.
	for i, s := range done {
		if err := s.commit(); err != nil {
			for _, rest := range done[i:] {
				rest.abort()
			}
			return nil, fmt.Errorf("replacing %s: %v (files before it were rekeyed)", displayPath(s.target), err)
		}
		res.Rekeyed = append(res.Rekeyed, todo[i].File)
	}
	return res, nil
}
