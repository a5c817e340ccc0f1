// Package scaffold writes the reference fleet into a new folder for
// `nixherd init`: with the user's name in place of the reference user, only
// the machines asked for, and all or nothing, so that a failed init never
// leaves half a fleet behind.
//
// The reference fleet is laid out so that these edits stay small, line-based
// and checkable: every machine is one line in flake.nix's outputs, one
// folder under machines/, one key binding in keys.nix and one name in the
// lists of secrets/secrets.nix. After
// an edit, a machine's name must not occur in the edited file any more;
// when it still does, Render fails instead of writing a fleet that refers
// to a machine it no longer has.
package scaffold

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// DefaultUser is the user of the reference fleet.
const DefaultUser = "dylan"

// Machine is one machine of the reference fleet.
type Machine struct {
	Name     string // attribute in flake.nix and folder under machines/
	System   string // Nix system double
	Platform string // what switches it: NixOS or nix-darwin
	About    string
}

// Machines are the reference fleet's machines, in the order the seed lists them.
var Machines = []Machine{
	{"devmac", "aarch64-darwin", "nix-darwin", "macOS development machine, Homebrew through nix-homebrew"},
	{"devnix", "aarch64-linux", "NixOS", "Parallels VM: GNOME, Docker, the fleet's services"},
	{"ephem", "aarch64-linux", "NixOS", "VMware Fusion VM sharing devnix's structure"},
}

// Options choose what Render produces.
type Options struct {
	User     string   // the user's login name; empty means DefaultUser
	Machines []string // machines to keep; empty means all
	// Pull keeps the machines' pull agents enabled and declared pulled in
	// deploy.nix, as in the reference fleet; without it the agent module
	// stays imported but off and the machines are pushed.
	Pull bool
}

// File is one file of a rendered fleet.
type File struct {
	Path string // slash-separated, relative to the fleet's root
	Data []byte
	Mode fs.FileMode
}

// filesNamingMachines are the files whose machine bindings are dropped
// with the machine. deploy.nix is edited only when the fleet has one.
var filesNamingMachines = []string{"flake.nix", "keys.nix", "secrets/secrets.nix", "deploy.nix"}

// Render returns the files of fleet as init writes them, sorted by path.
// It reads fleet only and changes nothing.
func Render(fleet fs.FS, opts Options) ([]File, error) {
	user := opts.User
	if user == "" {
		user = DefaultUser
	}
	kept, dropped, err := splitMachines(opts.Machines)
	if err != nil {
		return nil, err
	}

	var files []File
	err = fs.WalkDir(fleet, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			for _, m := range dropped {
				if p == "machines/"+m {
					return fs.SkipDir
				}
			}
			return nil
		}
		data, err := fs.ReadFile(fleet, p)
		if err != nil {
			return err
		}
		// Embedded files carry no permission bits: scripts are what is run.
		mode := fs.FileMode(0o644)
		if path.Ext(p) == ".sh" {
			mode = 0o755
		}
		files = append(files, File{Path: p, Data: data, Mode: mode})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the reference fleet: %w", err)
	}

	if user != DefaultUser {
		if err := checkUser(user, files); err != nil {
			return nil, err
		}
		for i, f := range files {
			if isText(f.Path) {
				files[i].Data = []byte(replaceToken(string(f.Data), DefaultUser, user))
			}
		}
	}

	for i, f := range files {
		if !contains(filesNamingMachines, f.Path) {
			continue
		}
		text := string(f.Data)
		for _, m := range dropped {
			if text, err = dropMachine(text, m); err != nil {
				return nil, fmt.Errorf("%s:%w", f.Path, err)
			}
		}
		files[i].Data = []byte(text)
	}

	for i, f := range files {
		if f.Path == "README.md" {
			files[i].Data = []byte(dropMachineRows(string(f.Data), dropped))
		}
	}
	if !opts.Pull {
		files = withoutPull(files)
	}
	files = dropUnusedCommon(files)
	if len(dropped) > 0 && !keepReferenceSecrets {
		if files, err = withSubsetSecrets(files, kept); err != nil {
			return nil, err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// keepReferenceSecrets, set by the test that writes subset-secrets, keeps
// the reference fleet's secrets in a smaller fleet.
var keepReferenceSecrets = false

// splitMachines validates the machines asked for and returns those kept and
// those dropped, each in the reference fleet's order.
func splitMachines(keep []string) (kept, dropped []string, err error) {
	known := make([]string, len(Machines))
	for i, m := range Machines {
		known[i] = m.Name
	}
	if len(keep) == 0 {
		return known, nil, nil
	}
	for _, k := range keep {
		if !contains(known, k) {
			return nil, nil, fmt.Errorf("unknown machine %q: the reference fleet has %s", k, strings.Join(known, ", "))
		}
	}
	for _, m := range known {
		if contains(keep, m) {
			kept = append(kept, m)
		} else {
			dropped = append(dropped, m)
		}
	}
	return kept, dropped, nil
}

// dropMachineRows removes the README's table rows of dropped machines
// ("| `ephem` | …").
func dropMachineRows(text string, dropped []string) string {
	lines := strings.SplitAfter(text, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !slices.ContainsFunc(dropped, func(m string) bool { return strings.HasPrefix(l, "| `"+m+"` |") }) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// dropUnusedCommon removes machines/common when no machine left imports it.
func dropUnusedCommon(files []File) []File {
	used := false
	for _, f := range files {
		if strings.HasPrefix(f.Path, "machines/") && !strings.HasPrefix(f.Path, "machines/common/") &&
			strings.Contains(string(f.Data), "../common/") {
			used = true
		}
	}
	if used {
		return files
	}
	kept := files[:0]
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "machines/common/") {
			kept = append(kept, f)
		}
	}
	return kept
}

// isText reports whether the user's name is substituted in the file.
// Encrypted secrets and page assets are copied unchanged.
func isText(p string) bool {
	switch path.Ext(p) {
	case ".nix", ".md":
		return true
	}
	return false
}

var (
	userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	keywords = []string{"assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with", "true", "false", "null"}
)

// checkUser refuses names that are not login names, and names the fleet
// already uses for something else: substituting them would merge the user
// with, say, a machine or a Nix identifier.
func checkUser(user string, files []File) error {
	if !userName.MatchString(user) {
		return fmt.Errorf("user name %q is not a login name (lower-case letters, digits, _ and -, at most 32, not starting with a digit or -)", user)
	}
	if contains(keywords, user) {
		return fmt.Errorf("user name %q is a Nix keyword", user)
	}
	for _, f := range files {
		if path.Ext(f.Path) != ".nix" {
			continue
		}
		if line := tokenLine(string(f.Data), user); line > 0 {
			return fmt.Errorf("user name %q is already used in the fleet (%s:%d); choose another", user, f.Path, line)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Lines of the reference fleet that turn pull mode on, per machine: the
// agent in a machine's file, and where deploy.nix says it is pulled.
const (
	agentOn  = "services.nixherd-agent.enable = true;"
	agentOff = "services.nixherd-agent.enable = false;"
	pullLine = "pull = { agent = "
)

// withoutPull turns every machine's agent off and drops the pull
// declarations from deploy.nix: the fleet is pushed.
func withoutPull(files []File) []File {
	for i, f := range files {
		switch {
		case f.Path == "deploy.nix":
			var kept []string
			for _, l := range strings.SplitAfter(string(f.Data), "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), pullLine) {
					kept = append(kept, l)
				}
			}
			files[i].Data = []byte(strings.Join(kept, ""))
		case strings.HasPrefix(f.Path, "machines/") && path.Ext(f.Path) == ".nix":
			files[i].Data = []byte(strings.ReplaceAll(string(f.Data), agentOn, agentOff))
		}
	}
	return files
}
