package scaffold

import (
	"context"
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
	return fmt.Sprintf("%s is not empty; nothing written", e.Dir)
}

// Write renders fleet with opts and writes it into dir, which must not
// exist or be empty unless force is set.
//
// Everything is first written into a staging folder on the same file
// system: beside dir when dir does not exist yet, which then becomes dir in
// one rename; inside dir when it exists (it may be the working directory or
// a mount point), whose entries are then renamed into place, and renamed
// back if one of them fails. So dir either gets the whole fleet or stays as
// it was. With force and a non-empty dir, each file of dir that the fleet
// replaces is first moved aside into the staging folder, and on any failure
// every move is undone; files of dir that the fleet does not have are left
// alone. When ctx ends (init's SIGINT or SIGTERM) the write stops there, is
// undone the same way, and the staging folder is removed on every path.
func Write(ctx context.Context, fleet fs.FS, dir string, opts Options, force bool) ([]File, error) {
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
	interrupted := func() error {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %s is as it was", dir)
		}
		return nil
	}

	// The new tree: stage itself when it becomes dir or its entries are
	// moved, stage/new when files are replaced (stage/old takes the old ones).
	tree := stage
	if !empty {
		tree = filepath.Join(stage, "new")
	}
	for _, f := range files {
		if err := interrupted(); err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(tree, filepath.FromSlash(f.Path)), f.Data, f.Mode); err != nil {
			return nil, err
		}
	}
	if err := testHook(ctx, 0); err != nil {
		return nil, err
	}
	if err := interrupted(); err != nil {
		return nil, err
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
		if err := replace(ctx, stage, dir, files, interrupted); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// testHook, when a test sets it, runs after the fleet is staged (placed 0)
// and after each file a replacing write moved into place; an error fails
// the write there.
var testHook = func(ctx context.Context, placed int) error { return nil }

// replace moves the staged fleet (stage/new) into dir file by file, each
// file dir already has going aside into stage/old first. If a step fails or
// ctx ends, the steps are undone in reverse: the new files go back to the
// stage, the old ones return, and the folders made for the new ones are
// removed. The replaced files are removed with the staging folder.
func replace(ctx context.Context, stage, dir string, files []File, interrupted func() error) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	for n, f := range files {
		if err := interrupted(); err != nil {
			return err
		}
		rel := filepath.FromSlash(f.Path)
		to, from, aside := filepath.Join(dir, rel), filepath.Join(stage, "new", rel), filepath.Join(stage, "old", rel)
		made, err := mkdirs(filepath.Dir(to))
		undo = append(undo, func() {
			for i := len(made) - 1; i >= 0; i-- {
				os.Remove(made[i])
			}
		})
		if err != nil {
			return err
		}
		if _, err := os.Lstat(to); err == nil {
			if err := os.MkdirAll(filepath.Dir(aside), 0o700); err != nil {
				return err
			}
			if err := os.Rename(to, aside); err != nil {
				return fmt.Errorf("moving the old %s aside: %w", f.Path, err)
			}
			undo = append(undo, func() { os.Rename(aside, to) })
		}
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("moving %s into place: %w", f.Path, err)
		}
		undo = append(undo, func() { os.Rename(to, from) })
		if err := testHook(ctx, n+1); err != nil {
			return err
		}
	}
	return nil
}

// mkdirs is os.MkdirAll that returns the folders it made, outermost first.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return made, err
		}
		made = append(made, missing[i])
	}
	return made, nil
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
