package nixlang

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

// corpusFiles returns the hand-written corpus (testdata/corpus, where ok_*
// files must parse and err_* files must not) and every other .nix file in
// the repository.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.nix")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	root := "../.."
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || p == "testdata/corpus") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".nix") && !strings.Contains(p, "internal/nixlang/testdata/corpus") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// TestCorpusRoundTrip checks that every file that parses prints back byte
// for byte, and that the corpus's file names tell the truth about verdicts.
func TestCorpusRoundTrip(t *testing.T) {
	for _, name := range corpusFiles(t) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// The token stream covers every byte, even of files that do not parse.
		var lexed []byte
		toks := lex(string(src))
		for i := 0; i < toks.len(); i++ {
			t := toks.at(i)
			lexed = append(append(lexed, t.Leading...), t.Text...)
		}
		if !bytes.Equal(lexed, src) {
			t.Errorf("%s: tokens do not cover the file:\n got %q\nwant %q", name, lexed, src)
		}
		f, synErr := ParseSyntax(name, src)
		if synErr == nil {
			if got := f.Bytes(); !bytes.Equal(got, src) {
				t.Errorf("%s: round trip differs:\n got %q\nwant %q", name, got, src)
			}
		}
		_, err = ParseWith(name, src, Options{Dialect: Nix28})
		base := filepath.Base(name)
		switch {
		case strings.HasPrefix(base, "ok_") && err != nil:
			t.Errorf("%s: want accepted, got %v", name, err)
		case strings.HasPrefix(base, "err_") && err == nil:
			t.Errorf("%s: want rejected, got accepted", name)
		}
	}
}

var nixVersionRE = regexp.MustCompile(`(\d+)\.(\d+)`)

// nixDialect picks the dialect of the installed Nix.
func nixDialect(t testing.TB) Dialect {
	out, err := exec.Command("nix-instantiate", "--version").Output()
	if err != nil {
		t.Fatalf("nix-instantiate --version: %v", err)
	}
	m := nixVersionRE.FindStringSubmatch(string(out))
	if m != nil && m[1] == "2" && len(m[2]) == 1 && m[2] <= "8" {
		return Nix28
	}
	return NixCurrent
}

// TestCorpusAgainstNix runs the real nix-instantiate --parse on every
// corpus file and requires the same verdict; for accepted files the
// structure Nix prints must equal ours (see normalizeShown for what is
// normalized). Error messages are not compared, only the verdict.
func TestCorpusAgainstNix(t *testing.T) {
	testenv.NixEnv(t)
	testenv.NeedTool(t, "nix-instantiate")
	dialect := nixDialect(t)
	// Nix uses $HOME for ~ when it is set (even to ""), else the passwd entry.
	home, set := os.LookupEnv("HOME")
	if !set {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	files := corpusFiles(t)

	type result struct {
		out []byte
		err error
	}
	results := make([]result, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, name := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command("nix-instantiate", "--parse", name)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				out = stderr.Bytes()
			}
			results[i] = result{out, err}
		}()
	}
	wg.Wait()

	for i, name := range files {
		r := results[i]
		src, _ := os.ReadFile(name)
		f, err := ParseWith(name, src, Options{Dialect: dialect})
		nixOK := r.err == nil
		if nixOK != (err == nil) {
			t.Errorf("%s: nix accepts=%v, nixlang accepts=%v (nixlang: %v; nix: %s)", name, nixOK, err == nil, err, firstLine(r.out))
			continue
		}
		if !nixOK {
			continue
		}
		ours, err := PrintNix(f, "", home)
		if err != nil {
			t.Errorf("%s: PrintNix: %v", name, err)
			continue
		}
		want := normalizeShown(strings.TrimRight(string(r.out), "\n"))
		got := normalizeShown(ours)
		if want != got {
			t.Errorf("%s: structure differs\n nix: %s\nours: %s", name, want, got)
		}
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
