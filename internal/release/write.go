package release

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the manifest's name when a destination is a directory.
const FileName = "manifest.json"

// Destination is where a publisher keeps its manifests: a file, or a
// directory that holds FileName and every release as releases/N.json (what
// a staged rollout returns to).
type Destination struct {
	// Path is the manifest file.
	Path string
	// Archive is the directory of past releases ("" for a file destination).
	Archive string
}

// DestinationOf reads a destination as the user gave it: an existing
// directory, or a path ending in "/", is a directory destination.
func DestinationOf(p string) Destination {
	if fi, err := os.Stat(p); (err == nil && fi.IsDir()) || strings.HasSuffix(p, "/") {
		return Destination{Path: filepath.Join(p, FileName), Archive: filepath.Join(p, "releases")}
	}
	return Destination{Path: p}
}

// Read returns the current signed manifest, nil when there is none yet.
func (d Destination) Read() ([]byte, error) {
	data, err := os.ReadFile(d.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Write stores a signed manifest of release n: the archive copy first, then
// the manifest, each atomically (a temporary file renamed into place), so a
// web server serves the old manifest or the new one, never a mix.
func (d Destination) Write(n int64, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(d.Path), 0o755); err != nil {
		return err
	}
	if d.Archive != "" {
		if err := os.MkdirAll(d.Archive, 0o755); err != nil {
			return err
		}
		if err := WriteFileAtomic(filepath.Join(d.Archive, strconv.FormatInt(n, 10)+".json"), data, 0o644); err != nil {
			return err
		}
	}
	return WriteFileAtomic(d.Path, data, 0o644)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, synced, then renamed over path.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
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
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
