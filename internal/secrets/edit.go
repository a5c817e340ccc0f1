package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// InterruptedError reports that a signal ended an edit; the secret was left
// unchanged and the plaintext removed.
type InterruptedError struct{ Signal os.Signal }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted by %v: the secret is unchanged and the plaintext was removed", e.Signal)
}

// ErrEmptyInput is new content that is empty: a secret is never replaced by
// nothing (agenix empties a secret when its standard input is not a
// terminal and holds nothing).
var ErrEmptyInput = errors.New("the new content is empty")

// EditOptions says where the new content comes from.
type EditOptions struct {
	// Stdin, when set, is read as the new content instead of running an
	// editor. The plaintext stays in memory: no file is written.
	Stdin io.Reader
	// Editor is the command to run with the plaintext file as its last
	// argument, split on spaces like a shell would ($VISUAL, $EDITOR); ""
	// means vi.
	Editor string
}

// EditResult says what Edit did.
type EditResult struct {
	Changed bool
	Created bool
}

// editSignals end an edit cleanly: the plaintext is removed first.
var editSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Edit lets the user change a secret and re-encrypts it, atomically, only
// if the content changed; a missing file is created.
//
// With opts.Stdin the new content is read into memory and nothing is
// written in the clear. With an editor the plaintext goes into a private
// directory (see plainDir) that is removed on every exit path: return,
// SIGINT, SIGTERM, SIGHUP and SIGQUIT. SIGKILL cannot be caught, so each
// run first removes what a killed run left behind (sweepPlainDirs). If
// encryption fails, the file is untouched and the edited plaintext is kept;
// the error names where.
func (rs *Rules) Edit(r *Rule, ids *Identities, opts EditOptions) (res EditResult, err error) {
	if err := rs.checkInside(r); err != nil {
		return res, err
	}
	var old []byte
	exists := true
	if _, statErr := os.Lstat(rs.PathOf(r)); errors.Is(statErr, os.ErrNotExist) {
		exists = false
	} else if old, err = rs.Decrypt(r, ids); err != nil {
		return res, err
	}
	defer clear(old)

	// Catch signals before any plaintext is written.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, editSignals...)
	defer signal.Stop(sigs)

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
		if len(edited) == 0 {
			return res, fmt.Errorf("%s: %w (standard input held nothing); the secret is unchanged", displayPath(rs.PathOf(r)), ErrEmptyInput)
		}
	} else {
		var keptAt string
		edited, keptAt, err = editInFile(strings.TrimSuffix(r.File, ".age"), old, opts.Editor, sigs, func(edited []byte) error {
			return rs.encryptIfChanged(r, exists, old, edited)
		})
		if err != nil {
			if keptAt != "" {
				return res, fmt.Errorf("%w; the file is unchanged and your edit is kept in %s (delete it when done)", err, keptAt)
			}
			return res, err
		}
		defer clear(edited)
		return result(exists, old, edited), nil
	}
	defer clear(edited)
	select {
	case sig := <-sigs:
		return res, &InterruptedError{sig}
	default:
	}
	if err := rs.encryptIfChanged(r, exists, old, edited); err != nil {
		return res, fmt.Errorf("%w; the file is unchanged", err)
	}
	return result(exists, old, edited), nil
}

func result(exists bool, old, edited []byte) EditResult {
	if exists && bytes.Equal(old, edited) || !exists && len(edited) == 0 {
		return EditResult{}
	}
	return EditResult{Changed: true, Created: !exists}
}

func (rs *Rules) encryptIfChanged(r *Rule, exists bool, old, edited []byte) error {
	if !result(exists, old, edited).Changed {
		return nil
	}
	return rs.Encrypt(r, edited)
}

// editInFile writes old into a private directory, runs the editor on it and
// reads the result back, then calls save with it while the directory still
// exists. When save fails the directory is kept (marked so that no sweep
// takes it) and its file is returned as keptAt.
func editInFile(name string, old []byte, editor string, sigs <-chan os.Signal, save func([]byte) error) (edited []byte, keptAt string, err error) {
	pd, err := newPlainDir()
	if err != nil {
		return nil, "", err
	}
	keep := false
	defer func() {
		if !keep {
			pd.remove()
		}
	}()
	plainPath, err := pd.file(name, old)
	if err != nil {
		return nil, "", err
	}
	sig, err := runEditor(editor, plainPath, sigs)
	if sig != nil {
		return nil, "", &InterruptedError{sig}
	}
	if err != nil {
		return nil, "", fmt.Errorf("%v; the secret is unchanged", err)
	}
	edited, err = os.ReadFile(plainPath)
	if err != nil {
		return nil, "", err
	}
	select {
	case sig := <-sigs:
		clear(edited)
		return nil, "", &InterruptedError{sig}
	default:
	}
	if err := save(edited); err != nil {
		// The user's work must survive: keep the private copy and say where.
		keep = pd.keep() == nil
		if keep {
			return nil, plainPath, err
		}
		return nil, "", err
	}
	return edited, "", nil
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
		return nil, fmt.Errorf("starting editor: %v (set VISUAL or EDITOR)", err)
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
