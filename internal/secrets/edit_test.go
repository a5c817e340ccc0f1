package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/testenv"
)

// editor writes a shell script that acts as $EDITOR and returns its path.
func editor(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func editFleet(t *testing.T) (*Rules, *Rule, testKey) {
	k := testKeys(t)["ed25519"]
	rs := mustLoad(t, rulesFleet(t, fmt.Sprintf(`{ "db.age".publicKeys = [ %q ]; }`, k.Public)))
	return rs, mustRule(t, rs, "db"), k
}

func TestEditCreatesChangesAndLeavesUnchangedAlone(t *testing.T) {
	rs, r, k := editFleet(t)
	ids := mustIDs(t, k.Private)
	seen := filepath.Join(t.TempDir(), "seen")

	// A missing file is created from what the editor wrote.
	res, err := rs.Edit(r, ids, EditOptions{Editor: editor(t, `printf 'v1' > "$1"; ls -ld "$(dirname "$1")" > `+seen)})
	if err != nil || !res.Created {
		t.Fatalf("create: %+v %v", res, err)
	}
	if got, _ := rs.Decrypt(r, ids); string(got) != "v1" {
		t.Fatalf("after create: %q", got)
	}
	if ls := string(readFile(t, seen)); !strings.HasPrefix(ls, "drwx------") {
		t.Errorf("plaintext directory is not private: %s", ls)
	}
	dir := strings.Fields(string(readFile(t, seen)))[8]
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private directory %s left behind", dir)
	}

	// An editor that changes nothing leaves the file byte-identical.
	before := readFile(t, rs.PathOf(r))
	res, err = rs.Edit(r, ids, EditOptions{Editor: editor(t, `test "$(cat "$1")" = v1 || exit 3`)})
	if err != nil || res.Changed {
		t.Fatalf("unchanged edit: %+v %v", res, err)
	}
	if !bytes.Equal(before, readFile(t, rs.PathOf(r))) {
		t.Error("file rewritten although the content did not change")
	}

	// --stdin replaces the content.
	if _, err := rs.Edit(r, ids, EditOptions{Stdin: strings.NewReader("v2")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := rs.Decrypt(r, ids); string(got) != "v2" {
		t.Fatalf("after --stdin: %q", got)
	}

	// A failing editor changes nothing.
	before = readFile(t, rs.PathOf(r))
	if _, err := rs.Edit(r, ids, EditOptions{Editor: editor(t, `echo x > "$1"; exit 1`)}); err == nil {
		t.Fatal("failing editor: no error")
	}
	if !bytes.Equal(before, readFile(t, rs.PathOf(r))) {
		t.Error("a failed editor changed the file")
	}
}

// When encryption fails the edit must not be lost: the file is untouched and
// the plaintext stays in the private directory, whose path the error names.
func TestEditKeepsPlaintextWhenEncryptionFails(t *testing.T) {
	k := testKeys(t)["ed25519"]
	x := testKeys(t)["x25519"]
	rs := mustLoad(t, rulesFleet(t, fmt.Sprintf(`{ "db.age".publicKeys = [ %q ]; }`, k.Public)))
	r := mustRule(t, rs, "db")
	ids := mustIDs(t, k.Private)
	if err := rs.Encrypt(r, []byte("old")); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, rs.PathOf(r))
	// A post-quantum key cannot be mixed with classic ones: age refuses to encrypt.
	hybrid, err := ParseRecipient(pqKey(t))
	if err != nil {
		t.Fatal(err)
	}
	xr, _ := ParseRecipient(x.Public)
	r.Recipients = append(r.Recipients, xr, hybrid)

	_, err = rs.Edit(r, ids, EditOptions{Editor: editor(t, `printf 'new work' > "$1"`)})
	if err == nil {
		t.Fatal("no error although encryption cannot succeed")
	}
	if !bytes.Equal(before, readFile(t, rs.PathOf(r))) {
		t.Error("the .age file changed although encryption failed")
	}
	i := strings.Index(err.Error(), "kept in ")
	if i < 0 {
		t.Fatalf("error does not say where the edit is kept: %v", err)
	}
	kept := strings.Fields(err.Error()[i+len("kept in "):])[0]
	if got := string(readFile(t, kept)); got != "new work" {
		t.Errorf("kept plaintext %q", got)
	}
	fi, _ := os.Stat(filepath.Dir(kept))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("kept in a directory with mode %v", fi.Mode().Perm())
	}
	os.RemoveAll(filepath.Dir(kept))
}

const editChildEnv = "NIXHERD_TEST_EDIT_CHILD"

// editChild runs one edit in a child process, for the signal test.
func editChild() {
	rs, err := LoadRules(os.Getenv("RULES"))
	if err == nil {
		var r *Rule
		if r, err = rs.Lookup("db"); err == nil {
			var ids *Identities
			if ids, err = LoadIdentities([]string{os.Getenv("IDENTITY")}); err == nil {
				opts := EditOptions{Editor: os.Getenv("EDITOR")}
				if os.Getenv("EDIT_STDIN") != "" {
					opts.Stdin = os.Stdin
				}
				_, err = rs.Edit(r, ids, opts)
			}
		}
	}
	var ie *InterruptedError
	if errors.As(err, &ie) {
		os.Exit(42)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// SIGINT or SIGTERM while the editor runs ends the edit, removes the
// plaintext and leaves the secret unchanged, in a real child process.
func TestEditSignalRemovesPlaintext(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			rs, r, k := editFleet(t)
			ids := mustIDs(t, k.Private)
			if err := rs.Encrypt(r, []byte("precious")); err != nil {
				t.Fatal(err)
			}
			before := readFile(t, rs.PathOf(r))
			marker := filepath.Join(t.TempDir(), "path")
			ed := editor(t, `echo changed > "$1"; echo "$1" > `+marker+`.tmp; mv `+marker+`.tmp `+marker+`; exec sleep 60`)

			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), editChildEnv+"=1", "RULES="+rs.Path, "IDENTITY="+k.Private, "EDITOR="+ed)
			var stderr bytes.Buffer
			child.Stderr = &stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer child.Process.Kill()
			var plainPath string
			testenv.Await(t, 20*time.Second, func() error {
				b, err := os.ReadFile(marker)
				if err != nil {
					return fmt.Errorf("editor never started: %s", stderr.String())
				}
				plainPath = strings.TrimSpace(string(b))
				return nil
			})
			if _, err := os.Stat(plainPath); err != nil {
				t.Fatalf("plaintext not there while editing: %v", err)
			}
			if err := child.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := child.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 42 {
				t.Fatalf("child did not report the interruption: %v %s", err, stderr.String())
			}
			if _, err := os.Stat(filepath.Dir(plainPath)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("private directory %s survived %v", filepath.Dir(plainPath), sig)
			}
			if !bytes.Equal(before, readFile(t, rs.PathOf(r))) {
				t.Errorf("secret changed after %v", sig)
			}
			if got, _ := rs.Decrypt(r, ids); string(got) != "precious" {
				t.Errorf("secret is %q", got)
			}
		})
	}
}

// While --stdin waits for input that never ends, nothing is written in the
// clear anywhere: the old and the new content stay in memory. A signal then
// ends the edit and leaves the secret as it was.
func TestEditStdinKeepsPlaintextInMemory(t *testing.T) {
	rs, r, k := editFleet(t)
	if err := rs.Encrypt(r, []byte("precious")); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, rs.PathOf(r))
	runtime, tmp := t.TempDir(), t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), editChildEnv+"=1", "EDIT_STDIN=1", "XDG_RUNTIME_DIR="+runtime, "TMPDIR="+tmp,
		"RULES="+rs.Path, "IDENTITY="+k.Private)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	stdin.Write([]byte("half a secr"))
	waitReadingPipe(t, child.Process.Pid)
	for _, dir := range []string{runtime, tmp, "/dev/shm"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), plainDirPrefix) && lockPid(filepath.Join(dir, e.Name())) == child.Process.Pid {
				t.Errorf("edit --stdin made %s while waiting", filepath.Join(dir, e.Name()))
			}
		}
	}
	child.Process.Signal(syscall.SIGTERM)
	err = child.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Fatalf("child did not report the interruption: %v", err)
	}
	if !bytes.Equal(before, readFile(t, rs.PathOf(r))) {
		t.Error("secret changed")
	}
}

// waitReadingPipe waits until a thread of process pid sleeps reading a pipe
// (Linux's wchan), i.e. the edit waits for standard input.
func waitReadingPipe(t *testing.T, pid int) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "the child waits on standard input", func() bool {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
		for _, w := range tasks {
			if b, _ := os.ReadFile(w); strings.Contains(string(b), "pipe_read") || strings.Contains(string(b), "pipe_wait") {
				return true
			}
		}
		return false
	})
}

func lockPid(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, plainLock))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// A run killed with SIGKILL (which no program can catch) leaves its
// plaintext directory; the next edit removes it. Directories of live runs,
// of other users, and those kept on purpose stay.
func TestSweepRemovesDirectoriesOfDeadRuns(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	t.Setenv("TMPDIR", t.TempDir())
	rs, r, k := editFleet(t)
	if err := rs.Encrypt(r, []byte("precious")); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "path")
	ed := filepath.Join(t.TempDir(), "editor.sh")
	os.WriteFile(ed, []byte("#!/bin/sh\necho \"$1\" > "+marker+"\nsleep 60\n"), 0o755)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), editChildEnv+"=1", "RULES="+rs.Path, "IDENTITY="+k.Private, "EDITOR="+ed)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var plainPath string
	testenv.Eventually(t, 20*time.Second, "the editor starts", func() bool {
		b, err := os.ReadFile(marker)
		plainPath = strings.TrimSpace(string(b))
		return err == nil
	})
	dead := filepath.Dir(filepath.Dir(plainPath))
	if filepath.Dir(dead) != runtime {
		t.Fatalf("plaintext in %s, want it in XDG_RUNTIME_DIR %s", plainPath, runtime)
	}
	// While the run lives, a sweep leaves its directory alone.
	if removed := sweepPlainDirs(); len(removed) != 0 {
		t.Fatalf("swept a live run's directory: %v", removed)
	}
	child.Process.Kill() // SIGKILL: no cleanup runs
	child.Wait()
	if got, _ := os.ReadFile(plainPath); string(got) != "precious" {
		t.Fatalf("the killed run's plaintext is %q (the test expects it left behind)", got)
	}

	kept := filepath.Join(runtime, plainDirPrefix+"kept")
	os.MkdirAll(kept, 0o700)
	os.WriteFile(filepath.Join(kept, plainKept), nil, 0o600)
	foreign := filepath.Join(runtime, plainDirPrefix+"foreign")
	os.MkdirAll(foreign, 0o700)
	os.WriteFile(filepath.Join(foreign, plainLock), []byte("1\n"), 0o600)
	if os.Getuid() == 0 {
		os.Chown(foreign, 65534, 65534)
	}

	removed := sweepPlainDirs()
	if len(removed) != 1 || removed[0] != dead {
		t.Fatalf("swept %v, want only %s", removed, dead)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead run's directory is still there")
	}
	for _, stays := range []string{kept, foreign} {
		if _, err := os.Stat(stays); err != nil {
			t.Errorf("%s was removed", stays)
		}
	}
}
