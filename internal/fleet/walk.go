package fleet

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// nixFiles lists the .nix files under root, relative and slash-separated,
// skipping version control, build results and hidden directories.
func nixFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "result" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".nix") && d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// secretDirFiles lists the files under secrets/ (recursively) other than
// .nix files, relative to root.
func secretDirFiles(root, dir string) []string {
	var files []string
	base := filepath.Join(root, filepath.FromSlash(dir))
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != base && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".nix") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err == nil {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// resolve turns a path literal written in file from (relative to root)
// into the file it refers to, relative to root: a directory means its
// default.nix, as Nix's import does. outside is true when the path leaves
// the fleet (an absolute path, or too many ../).
func resolve(root, from, written string) (to string, exists, outside bool) {
	if strings.HasPrefix(written, "/") || strings.HasPrefix(written, "~") {
		return "", true, true
	}
	p := path.Clean(path.Join(path.Dir(from), written))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", true, true
	}
	abs := filepath.Join(root, filepath.FromSlash(p))
	st, err := os.Stat(abs)
	if err != nil {
		return p, false, false
	}
	if st.IsDir() {
		p = path.Join(p, "default.nix")
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			return p, false, false
		}
	}
	return p, true, false
}
