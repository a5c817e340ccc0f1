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
// exist or be empty unless force is set.
//
// Everything is first written into a staging folder on the same file
// system: beside dir when dir does not exist yet, which then becomes dir in
// one rename; inside dir when it exists (it may be the working directory or
// a mount point), whose entries are then renamed into place, and renamed
// back if one of them fails. So dir either gets the whole fleet or stays as
// it was. With force and a non-empty dir, the fleet's files are renamed into
// place one by one after checking that none of them would replace a folder;
// files of dir that the fleet does not have are left alone.
func Write(fleet fs.FS, dir string, opts Options, force bool) ([]File, error) {
	files, err := Render(fleet, opts)
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}

	exists, empty, err := inspectDir(dir)
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

	stageIn := dir
	if !exists {
		stageIn = filepath.Dir(dir)
		if err := os.MkdirAll(stageIn, 0o755); err != nil {
			return nil, err
		}
	}
	stage, err := os.MkdirTemp(stageIn, ".nixherd-init-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage) // a no-op once stage has become dir

	for _, f := range files {
		if err := writeFile(filepath.Join(stage, filepath.FromSlash(f.Path)), f.Data, f.Mode); err != nil {
			return nil, err
		}
	}

	switch {
	case !exists:
		if err := os.Chmod(stage, 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(stage, dir); err != nil {
			return nil, fmt.Errorf("moving the fleet into place: %w", err)
		}
	case empty:
		if err := moveEntries(stage, dir); err != nil {
			return nil, err
		}
	default:
		for _, f := range files {
			to := filepath.Join(dir, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return nil, err
			}
			if err := os.Rename(filepath.Join(stage, filepath.FromSlash(f.Path)), to); err != nil {
				return nil, fmt.Errorf("moving %s into place: %w", f.Path, err)
			}
		}
	}
	return files, nil
}

// moveEntries renames the top-level entries of stage into dir; if one
// fails, those already moved go back, leaving dir as it was.
func moveEntries(stage, dir string) error {
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for i, e := range entries {
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			for _, moved := range entries[:i] {
				os.Rename(filepath.Join(dir, moved.Name()), filepath.Join(stage, moved.Name()))
			}
			return fmt.Errorf("moving the fleet into place: %w", err)
		}
	}
	return nil
}

// inspectDir reports whether dir exists and whether it is missing or empty.
func inspectDir(dir string) (exists, empty bool, err error) {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	defer d.Close()
	info, err := d.Stat()
	if err != nil {
		return false, false, err
	}
	if !info.IsDir() {
		return false, false, fmt.Errorf("%s exists and is not a folder", dir)
	}
	if _, err := d.Readdirnames(1); errors.Is(err, io.EOF) {
		return true, true, nil
	} else if err != nil {
		return false, false, err
	}
	return true, false, nil
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
