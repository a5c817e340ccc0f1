package scaffold

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// NotEmptyError is returned when the target folder already has files and
// overwriting was not asked for.
type NotEmptyError struct{ Dir string }

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("%s is not empty; nothing written (use --force to write into it anyway)", e.Dir)
}

// Write renders fleet with opts and writes it into dir, which must not
// exist or be empty unless force is set. Everything is first written into
// a temporary folder beside dir; an empty or missing dir is then replaced
// by it in one rename, so dir either gets the whole fleet or stays as it
// was. With force and a non-empty dir, the staged files are renamed into
// place one by one after checking that none of them would replace a folder;
// files of dir that the fleet does not have are left alone.
func Write(fleet fs.FS, dir string, opts Options, force bool) ([]File, error) {
	files, err := Render(fleet, opts)
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)

	empty, err := isEmptyDir(dir)
	if err != nil {
		return nil, err
	}
	if !empty && !force {
		return nil, &NotEmptyError{Dir: dir}
	}
	if !empty {
		if err := checkOverwrite(dir, files); err != nil {
			return nil, err
		}
	}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".nixherd-init-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage) // a no-op once stage has become dir

	for _, f := range files {
		if err := writeFile(filepath.Join(stage, filepath.FromSlash(f.Path)), f.Data, f.Mode); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return nil, err
	}

	if empty {
		// rename(2) replaces an empty directory; if dir gained files since
		// the check above, it fails and dir is left as it is.
		if err := os.Rename(stage, dir); err != nil {
			return nil, fmt.Errorf("moving the fleet into place: %w", err)
		}
		return files, nil
	}
	for _, f := range files {
		to := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(stage, filepath.FromSlash(f.Path)), to); err != nil {
			return nil, fmt.Errorf("moving %s into place: %w", f.Path, err)
		}
	}
	return files, nil
}

// isEmptyDir reports whether dir is missing or an empty folder.
func isEmptyDir(dir string) (bool, error) {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer d.Close()
	info, err := d.Stat()
	if err != nil {
		return false, err
	}
	if !info.IsDir() {
		return false, fmt.Errorf("%s exists and is not a folder", dir)
	}
	if _, err := d.Readdirnames(1); errors.Is(err, io.EOF) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return false, nil
}

// checkOverwrite refuses, before anything is written, a dir where a fleet
// file would replace a folder or where a fleet folder is a file.
func checkOverwrite(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if info, err := os.Lstat(p); err == nil && info.IsDir() {
			return fmt.Errorf("%s is a folder where the fleet has a file; nothing written", p)
		}
		for d := filepath.Dir(p); d != dir && len(d) > len(dir); d = filepath.Dir(d) {
			if info, err := os.Lstat(d); err == nil && !info.IsDir() {
				return fmt.Errorf("%s is a file where the fleet has a folder; nothing written", d)
			}
		}
	}
	return nil
}

func writeFile(p string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, mode)
}
