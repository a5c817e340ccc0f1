package testhost

import (
	"fmt"
	"os"
	"path"
	"strings"
)

// A host's file system is read from outside: paths under /nix through the
// host's directory (Dir/nix, its /nix), all others through its process 1
// (/proc/PID/root, which sees the host's private /run). Symbolic links in
// such a path must not be left to the kernel: it resolves an absolute target
// against this machine's root, so /nix/store/X/payload -> /nix/store/Y
// would be looked up in this machine's store, not the host's, and a test
// would pass or fail by what an earlier run left here. Everything below
// resolves links itself, inside the host.

// maxLinks bounds the links followed while resolving one path, as the
// kernel's ELOOP does.
const maxLinks = 40

// Path returns where path p of the host can be read from outside. Every
// symbolic link on the way to p's last element is resolved inside the host;
// the last element is not followed (Lstat and Readlink see the link itself,
// Stat, Open and ReadFile follow it with this machine's root: use Resolve
// for a path whose last element may be a link).
func (h *Host) Path(p string) string {
	dir, base := path.Split(path.Clean("/" + p))
	if base == "" { // "/"
		return h.outside("/")
	}
	resolved, err := h.resolve(dir)
	if err != nil {
		// Unresolvable (a loop, a missing parent): a path that does not
		// exist on the host, so that reads of it fail.
		return h.outside(path.Join("/nonexistent-in-host", p))
	}
	return h.outside(path.Join(resolved, base))
}

// Resolve returns where path p of the host can be read from outside, every
// symbolic link, the last element's too, resolved inside the host.
func (h *Host) Resolve(p string) (string, error) {
	resolved, err := h.resolve(p)
	if err != nil {
		return "", err
	}
	return h.outside(resolved), nil
}

// HasStorePath reports whether the store path (or a path inside one, links
// followed inside the host) is in the host's own store.
func (h *Host) HasStorePath(storePath string) bool {
	p, err := h.Resolve(storePath)
	if err != nil {
		return false
	}
	_, err = os.Lstat(p)
	return err == nil
}

// CurrentSystem is the target of the host's /run/current-system, or "" when
// nothing was activated.
func (h *Host) CurrentSystem() string {
	l, _ := os.Readlink(h.Path("/run/current-system"))
	return l
}

// Profile resolves a profile of the host (e.g.
// /nix/var/nix/profiles/system) to the store path it points at, "" when it
// does not exist.
func (h *Host) Profile(profile string) string {
	p := profile
	for range maxLinks {
		l, err := os.Readlink(h.Path(p))
		if err != nil {
			return ""
		}
		if !path.IsAbs(l) {
			l = path.Join(path.Dir(p), l)
		}
		if strings.HasPrefix(l, "/nix/store/") {
			return l
		}
		p = l
	}
	return ""
}

// outside maps a host path with no links left to resolve to where this
// machine reads it.
func (h *Host) outside(p string) string {
	if p == "/nix" || strings.HasPrefix(p, "/nix/") {
		return h.Dir + p
	}
	return fmt.Sprintf("/proc/%d/root%s", h.pid1, p)
}

// resolve follows the symbolic links of host path p inside the host and
// returns the resolved host path.
func (h *Host) resolve(p string) (string, error) {
	todo := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	if len(todo) == 1 && todo[0] == "" {
		return "/", nil
	}
	cur := "/"
	links := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, elem)
		fi, err := os.Lstat(h.outside(next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(h.outside(next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}
