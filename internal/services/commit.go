package services

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nixherd/nixherd/internal/atomicfile"
)

// rename is os.Rename; tests replace it to make a rename fail.
var rename = os.Rename

// Commit writes the change: every new file goes to a temporary file next
// to the one it replaces, and only when all of them are written are they
// renamed over the originals. A file that changed on disk since it was
// read is not overwritten. On any failure before the renames nothing has
// changed; should a rename fail, the files already replaced are put back.
func (c *Change) Commit() error {
	type staged struct {
		path, tmp string
		old       []byte
	}
	var done []staged
	cleanup := func() {
		for _, s := range done {
			os.Remove(s.tmp)
		}
	}
	for _, fc := range c.Files {
		path := filepath.Join(c.Root, filepath.FromSlash(fc.Path))
		// Replace what a symbolic link points to, not the link.
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		cur, err := os.ReadFile(path)
		if err != nil {
			cleanup()
			return err
		}
		if !bytes.Equal(cur, fc.Old) {
			cleanup()
			return fmt.Errorf("%s changed while nixherd was editing it; nothing was written, run the command again", path)
		}
		if bytes.Equal(fc.Old, fc.New) {
			continue
		}
		tmp, err := writeTemp(path, fc.New)
		if err != nil {
			cleanup()
			return err
		}
		done = append(done, staged{path: path, tmp: tmp, old: fc.Old})
	}
	for i, s := range done {
		if err := rename(s.tmp, s.path); err != nil {
			// Put back what was already replaced, then drop the rest.
			var errs []error
			for _, r := range done[:i] {
				if tmp, werr := writeTemp(r.path, r.old); werr != nil {
					errs = append(errs, werr)
				} else if rerr := rename(tmp, r.path); rerr != nil {
					os.Remove(tmp)
					errs = append(errs, rerr)
				}
			}
			cleanup()
			if len(errs) > 0 {
				return fmt.Errorf("replacing %s: %w; restoring the files already written failed too: %w", s.path, err, errors.Join(errs...))
			}
			return fmt.Errorf("replacing %s: %w (nothing was changed)", s.path, err)
		}
	}
	return nil
}

// writeTemp writes data to a new file in path's directory with path's
// permissions, synced to disk, and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	st, err := atomicfile.Stage(path, data, atomicfile.Keep)
	return st.Temp, err
}
