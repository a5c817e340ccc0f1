// Package atomicfile replaces files so that a reader sees the old content
// or the new, never half of either, and a failure leaves the old: the new
// content goes to a temporary file beside the target, synced to disk, and
// is renamed over it. Stage and Commit split that in two for a change of
// several files that must all happen or none (a rekey, a service added to
// two files).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Keep is the mode that keeps an existing file's permissions (and gives a
// new file Default).
const Keep os.FileMode = 1 << 31

// Default is the mode of a new file written with Keep.
const Default os.FileMode = 0o644

// Write replaces path with data, atomically. With mode Keep an existing
// file keeps its permissions.
func Write(path string, data []byte, mode os.FileMode) error {
	s, err := Stage(path, data, mode)
	if err != nil {
		return err
	}
	return s.Commit()
}

// Staged is new content written beside its target, not yet in place.
type Staged struct {
	Temp, Target string
}

// Stage writes data to a synced temporary file in path's directory (made
// when missing) with mode (Keep: path's own, or Default).
func Stage(path string, data []byte, mode os.FileMode) (Staged, error) {
	if mode == Keep {
		mode = Default
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Staged{}, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".nixherd-*")
	if err != nil {
		return Staged{}, err
	}
	s := Staged{Temp: f.Name(), Target: path}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(s.Temp)
		return Staged{}, fmt.Errorf("writing %s: %w", path, err)
	}
	return s, nil
}

// Commit renames the staged file over its target.
func (s Staged) Commit() error {
	if err := os.Rename(s.Temp, s.Target); err != nil {
		os.Remove(s.Temp)
		return fmt.Errorf("writing %s: %w", s.Target, err)
	}
	return nil
}

// Abort removes the staged file.
func (s Staged) Abort() { os.Remove(s.Temp) }
