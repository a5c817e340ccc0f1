package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Where `secrets edit` puts plaintext for the editor, and how what a killed
// run left there is found and removed.
//
// Each edit makes a directory nixherd-secret-XXXX (0700) in the first of
// XDG_RUNTIME_DIR (per user, in memory on systemd hosts), /dev/shm (in
// memory on Linux) and the temporary directory, with two entries:
//
//	lock  holds the editing process's pid; the process keeps an exclusive
//	      flock on it for as long as it runs
//	edit/ the plaintext file the editor opens
//
// The kernel drops a flock when its process dies, however it dies, so a
// directory whose lock can be taken belongs to a dead run: that holds across
// pid reuse, where a pid check would not. Every edit first sweeps such
// directories owned by the user from all three places. A directory kept on
// purpose (encryption failed, the user was told where their edit is) has a
// file named kept and is never swept.

const (
	plainDirPrefix = "nixherd-secret-"
	plainLock      = "lock"
	plainKept      = "kept"
	plainSub       = "edit"
	// A directory without a lock (made by a nixherd before locks, or being
	// set up this instant) is swept only when older than this.
	unlockedGrace = time.Minute
)

// plainDirBases are the places a plaintext directory may be made in, best
// first; all of them are swept.
func plainDirBases() []string {
	var bases []string
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		bases = append(bases, x)
	}
	bases = append(bases, "/dev/shm", os.TempDir())
	seen := map[string]bool{}
	var out []string
	for _, b := range bases {
		if fi, err := os.Stat(b); err == nil && fi.IsDir() && !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	return out
}

// plainDir is one edit's private directory, locked while this process lives.
type plainDir struct {
	path string
	lock *os.File
}

// newPlainDir sweeps stale directories, then makes and locks a new one.
func newPlainDir() (*plainDir, error) {
	sweepPlainDirs()
	var lastErr error
	for _, base := range plainDirBases() {
		dir, err := os.MkdirTemp(base, plainDirPrefix)
		if err != nil {
			lastErr = err
			continue
		}
		pd := &plainDir{path: dir}
		if err := pd.setUp(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return pd, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no temporary directory")
	}
	return nil, fmt.Errorf("making a private directory for the plaintext: %w", lastErr)
}

func (pd *plainDir) setUp() error {
	if err := os.Chmod(pd.path, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(pd.path, plainLock), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	pd.lock = f
	return os.Mkdir(filepath.Join(pd.path, plainSub), 0o700)
}

// file writes content into the directory under name's last element and
// returns its path.
func (pd *plainDir) file(name string, content []byte) (string, error) {
	p := filepath.Join(pd.path, plainSub, filepath.Base(name))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return p, err
}

// keep marks the directory as kept on purpose, so no sweep removes it.
func (pd *plainDir) keep() error {
	err := os.WriteFile(filepath.Join(pd.path, plainKept), []byte("encryption failed; the edit was kept for the user\n"), 0o600)
	pd.lock.Close()
	return err
}

// remove deletes the directory and the plaintext in it.
func (pd *plainDir) remove() {
	os.RemoveAll(pd.path)
	pd.lock.Close()
}

// sweepPlainDirs removes the plaintext directories of the user's nixherd
// runs that are no longer running (killed with SIGKILL, or by a power
// cut on a disk-backed temporary directory). It removes only directories
// that are real directories, owned by this user, not kept on purpose, and
// whose lock no live process holds.
func sweepPlainDirs() (removed []string) {
	for _, base := range plainDirBases() {
		entries, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), plainDirPrefix) {
				continue
			}
			dir := filepath.Join(base, e.Name())
			if stalePlainDir(dir) && os.RemoveAll(dir) == nil {
				removed = append(removed, dir)
			}
		}
	}
	return removed
}

func stalePlainDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode()&os.ModeSymlink != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() {
		return false
	}
	if _, err := os.Lstat(filepath.Join(dir, plainKept)); err == nil {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, plainLock), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return time.Since(fi.ModTime()) > unlockedGrace
	}
	if err != nil {
		return false
	}
	defer f.Close()
	// Held: its process is alive. Taken: nobody holds it any more.
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
