package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// InterruptedError reports that a signal ended an edit; the secret was left
// unchanged and the plaintext removed.
type InterruptedError struct{ Signal os.Signal }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted by %v: the secret is unchanged and the plaintext was removed", e.Signal)
}

// EditOptions says where the new content comes from.
type EditOptions struct {
	// Stdin, when set, is read as the new content instead of running an
	// editor. Only an explicit --stdin sets it: agenix silently empties a
	// secret when its standard input is not a terminal.
	Stdin io.Reader
	// Editor is the command to run with the plaintext file as its last
	// argument, split on spaces like a shell would ($EDITOR); "" means vi.
	Editor string
}

// EditResult says what Edit did.
type EditResult struct {
	Changed bool
	Created bool
}

// Edit decrypts a secret into a private directory (0700, removed on every
// exit path, SIGINT and SIGTERM included), lets the user change it, and
// re-encrypts and atomically replaces the file only if the content changed.
// A missing file is created. If encryption fails, the file is untouched and
// the edited plaintext is kept; the error names where.
func (rs *Rules) Edit(r *Rule, ids *Identities, opts EditOptions) (res EditResult, err error) {
	var old []byte
	exists := true
	if _, statErr := os.Stat(rs.PathOf(r)); errors.Is(statErr, os.ErrNotExist) {
		exists = false
	} else if old, err = rs.Decrypt(r, ids); err != nil {
		return res, err
	}

	// Catch signals before any plaintext touches the disk.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	dir, err := privateDir()
	if err != nil {
		return res, err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	plainPath := filepath.Join(dir, strings.TrimSuffix(filepath.Base(r.File), ".age"))
	if err := os.WriteFile(plainPath, old, 0o600); err != nil {
		return res, err
	}

	var edited []byte
	if opts.Stdin != nil {
		var sig os.Signal
		edited, sig, err = readUnlessSignalled(opts.Stdin, sigs)
		if sig != nil {
			return res, &InterruptedError{sig}
		}
		if err != nil {
			return res, fmt.Errorf("reading standard input: %w", err)
		}
	} else {
		sig, err := runEditor(opts.Editor, plainPath, sigs)
		if sig != nil {
			return res, &InterruptedError{sig}
		}
		if err != nil {
			return res, fmt.Errorf("%v; the secret is unchanged", err)
		}
		edited, err = os.ReadFile(plainPath)
		if err != nil {
			return res, err
		}
	}
	select {
	case sig := <-sigs:
		return res, &InterruptedError{sig}
	default:
	}

	if exists && bytes.Equal(old, edited) {
		return res, nil
	}
	if !exists && len(edited) == 0 {
		return res, nil
	}
	if err := rs.Encrypt(r, edited); err != nil {
		if opts.Stdin != nil {
			return res, fmt.Errorf("%v; the file is unchanged", err)
		}
		// The user's work must survive: keep the private copy and say where.
		keep = true
		return res, fmt.Errorf("%v; the file is unchanged and your edit is kept in %s (delete it when done)", err, plainPath)
	}
	return EditResult{Changed: true, Created: !exists}, nil
}

// privateDir makes a 0700 directory for plaintext, in XDG_RUNTIME_DIR
// (memory-backed on systemd hosts) when there is one.
func privateDir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if fi, err := os.Stat(base); base == "" || err != nil || !fi.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "nixherd-secret-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// runEditor runs the editor on path and waits for it. A signal for nixherd
// ends the editor (by its pid) and is returned, so the caller can clean up.
func runEditor(editor, path string, sigs <-chan os.Signal) (os.Signal, error) {
	args := strings.Fields(editor)
	if len(args) == 0 {
		args = []string{"vi"}
	}
	cmd := exec.Command(args[0], append(args[1:], path)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting editor: %v (set EDITOR)", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("editor %s: %v", args[0], err)
		}
		return nil, nil
	case sig := <-sigs:
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return sig, nil
	}
}

// readUnlessSignalled reads r to the end, or gives up when a signal comes:
// Ctrl-C while typing a secret must still end nixherd.
func readUnlessSignalled(r io.Reader, sigs <-chan os.Signal) ([]byte, os.Signal, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(r)
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, nil, res.err
	case sig := <-sigs:
		return nil, sig, nil
	}
}
