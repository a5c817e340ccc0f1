package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixherd/nixherd"
	"github.com/nixherd/nixherd/internal/testenv"
)

// writeChildEnv makes the test binary a child that runs Write as
// `nixherd init --force` does, under SIGINT/SIGTERM handling, and stops
// after the given number of files were placed until a signal comes.
const writeChildEnv = "NIXHERD_SCAFFOLD_WRITE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(writeChildEnv) != "" {
		os.Exit(writeChild())
	}
	os.Exit(m.Run())
}

func writeChild() int {
	pauseAt, _ := strconv.Atoi(os.Getenv("PAUSE_AT"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	testHook = func(ctx context.Context, placed int) error {
		if placed == pauseAt {
			os.WriteFile(os.Getenv("PAUSED"), nil, 0o644)
			<-ctx.Done()
		}
		return nil
	}
	_, err := Write(ctx, nixherd.ReferenceFleet, os.Getenv("DIR"), Options{}, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// oldFleet is a folder with two files, one of which the fleet replaces.
func oldFleet(t *testing.T) (string, map[string][]byte) {
	dir := filepath.Join(t.TempDir(), "fleet")
	want := map[string][]byte{"flake.nix": []byte("mine"), "notes.txt": []byte("keep me")}
	os.MkdirAll(dir, 0o755)
	for p, b := range want {
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, want
}

// A --force write that fails after moving some files into place (and one
// old file aside) puts everything back: the old files, and no new file or
// folder.
func TestWriteForceFailureUndoesEveryMove(t *testing.T) {
	for _, failAt := range []int{1, 7, 20} {
		t.Run(strconv.Itoa(failAt), func(t *testing.T) {
			dir, want := oldFleet(t)
			defer func(h func(context.Context, int) error) { testHook = h }(testHook)
			testHook = func(_ context.Context, placed int) error {
				if placed == failAt {
					return errors.New("disk on fire")
				}
				return nil
			}
			if _, err := Write(context.Background(), nixherd.ReferenceFleet, dir, Options{}, true); err == nil {
				t.Fatal("the failure was not reported")
			}
			sameFiles(t, filesOf(t, os.DirFS(dir)), want)
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("left in the folder: %v", entries)
			}
			assertNoStaging(t, filepath.Dir(dir))
		})
	}
}

// SIGTERM or SIGINT in the middle of a --force write, in a real child
// process: the write stops, undoes what it moved, and removes its staging
// folder. A signal while a new folder is staged leaves nothing beside it.
func TestWriteSignalUndoesAndRemovesStaging(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		pauseAt int  // files placed when the signal comes (0: just staged)
		exists  bool // the folder has files the fleet replaces
	}{
		{"SIGTERM while replacing", syscall.SIGTERM, 5, true},
		{"SIGINT while replacing", syscall.SIGINT, 1, true},
		{"SIGINT with a new folder staged", syscall.SIGINT, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, want := oldFleet(t)
			if !tc.exists {
				os.RemoveAll(dir)
				want = map[string][]byte{}
			}
			paused := filepath.Join(t.TempDir(), "paused")
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), writeChildEnv+"=1", "DIR="+dir, "PAUSED="+paused, "PAUSE_AT="+strconv.Itoa(tc.pauseAt))
			var stderr bytes.Buffer
			child.Stderr = &stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer child.Process.Kill()
			testenv.Eventually(t, 20*time.Second, "the child pauses", func() bool {
				_, err := os.Stat(paused)
				return err == nil
			})
			staging, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "*", ".nixherd-init-*"))
			beside, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".nixherd-init-*"))
			if len(staging)+len(beside) != 1 {
				t.Fatalf("no staging folder while the write runs: %v %v", staging, beside)
			}
			if tc.pauseAt > 0 {
				// The fleet's first files are in place (one may have
				// replaced flake.nix): the signal comes mid-replace.
				files := filesOf(t, os.DirFS(dir))
				for p := range files {
					if strings.HasPrefix(p, ".nixherd-init-") {
						delete(files, p)
					}
				}
				if n := len(files) - len(want); n != tc.pauseAt && n != tc.pauseAt-1 {
					t.Fatalf("%d files in the folder when the signal comes, want %d of the fleet's placed", len(files), tc.pauseAt)
				}
			}
			if err := child.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := child.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(stderr.Bytes(), []byte("interrupted: "+dir+" is as it was")) {
				t.Fatalf("child: %v %s", err, stderr.String())
			}
			if tc.exists {
				sameFiles(t, filesOf(t, os.DirFS(dir)), want)
				if entries, _ := os.ReadDir(dir); len(entries) != 2 {
					t.Errorf("left in the folder: %v", entries)
				}
			} else if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists after an interrupted init", dir)
			}
			assertNoStaging(t, filepath.Dir(dir))
		})
	}
}
