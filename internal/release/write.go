package release

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nixherd/nixherd/internal/atomicfile"
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
		if err := atomicfile.Write(filepath.Join(d.Archive, strconv.FormatInt(n, 10)+".json"), data, 0o644); err != nil {
			return err
		}
	}
	return atomicfile.Write(d.Path, data, 0o644)
}
