package main

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/flakeref"
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/spf13/pflag"
)

// The READMEs' examples work: every nixherd command line in their shell
// blocks names a command, flags and arguments nixherd takes, and the
// machines they select exist in the reference fleet (the one the examples
// speak of) and can do the action asked (nix-darwin has no boot).
func TestREADMEExamplesWork(t *testing.T) {
	inv, err := hosts.Load(t.Context(), "../../examples/fleet/deploy.nix")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := fleet.Read("../../examples/fleet")
	if err != nil {
		t.Fatal(err)
	}
	platformOf := map[string]string{}
	for _, m := range ref.Machines {
		platformOf[m.Name] = string(m.Platform)
	}
	seen := 0
	for _, readme := range []string{"../../README.md", "../../examples/fleet/README.md"} {
		for _, ex := range shellExamples(t, readme) {
			seen++
			checkExample(t, readme, ex, inv, platformOf)
		}
	}
	if seen < 40 {
		t.Fatalf("found only %d examples: the extraction is broken", seen)
	}
}

// example is one nixherd command line of a README, as words.
type example struct {
	line  string
	words []string
}

var fenceRE = regexp.MustCompile("(?s)```(?:sh|console)?\n(.*?)```")

// shellExamples extracts the nixherd command lines of a README's shell
// blocks: continuation lines joined, "$ " prompts and comments dropped, and
// the nixherd part of a pipe or && taken ("nix run github:nixherd/nixherd
// --" and "go run ./cmd/nixherd" run nixherd too).
func shellExamples(t *testing.T, path string) []example {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, m := range fenceRE.FindAllStringSubmatch(string(data), -1) {
		block := strings.ReplaceAll(m[1], "\\\n", " ")
		for _, line := range strings.Split(block, "\n") {
			line = strings.TrimPrefix(strings.TrimSpace(line), "$ ")
			words := shellWords(line)
			for _, part := range splitPipeline(words) {
				if w := nixherdWords(part); w != nil {
					out = append(out, example{line, w})
				}
			}
		}
	}
	return out
}

// shellWords splits a line as a POSIX shell would, as far as the READMEs
// need: quotes, backslashes, and # comments.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func splitPipeline(words []string) [][]string {
	var parts [][]string
	start := 0
	for i, w := range words {
		if w == "|" || w == "&&" || w == ";" {
			parts = append(parts, words[start:i])
			start = i + 1
		}
	}
	return append(parts, words[start:])
}

// nixherdWords returns the arguments of a nixherd invocation, nil for
// anything else.
func nixherdWords(words []string) []string {
	for len(words) > 0 && (words[0] == "sudo" || strings.Contains(words[0], "=")) {
		words = words[1:]
	}
	switch {
	case len(words) >= 1 && words[0] == "nixherd":
		return words[1:]
	case len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/nixherd":
		return words[3:]
	case len(words) >= 4 && words[0] == "nix" && words[1] == "run" && strings.HasPrefix(words[2], "github:nixherd/nixherd") && words[3] == "--":
		return words[4:]
	}
	return nil
}

// selecting commands take machine selectors as arguments.
var selecting = []string{"deploy", "diff", "status", "rollback", "gc", "exec", "generations"}

func checkExample(t *testing.T, readme string, ex example, inv *hosts.Inventory, platformOf map[string]string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %q: "+format, append([]any{readme, ex.line}, args...)...)
	}
	root := newRootCmd()
	words := splitOptionArgs(ex.words) // as run does
	cmd, rest, err := root.Find(words)
	if err != nil {
		fail("%v", err)
		return
	}
	if cmd == root && len(words) > 0 && !strings.HasPrefix(words[0], "-") {
		fail("no such command")
		return
	}
	if err := cmd.ParseFlags(rest); errors.Is(err, pflag.ErrHelp) {
		return
	} else if err != nil {
		fail("%v", err)
		return
	}
	args := cmd.Flags().Args()
	if err := cmd.ValidateArgs(args); err != nil {
		fail("%v", err)
		return
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		fail("%v", err)
		return
	}
	flake := "."
	if f := cmd.Flags().Lookup("flake"); f != nil {
		flake = f.Value.String()
	}
	r := flakeref.Parse(flake)
	var selectors []string
	if slices.Contains(selecting, cmd.Name()) {
		selectors = args
		if dash := cmd.ArgsLenAtDash(); cmd.Name() == "exec" && dash >= 0 {
			selectors = args[:dash]
		}
	}
	if r.Machine != "" {
		selectors = append(selectors, r.Machine)
	}
	if m := cmd.Flags().Lookup("machine"); m != nil && m.Value.String() != "" {
		selectors = append(selectors, m.Value.String())
	}
	all := false
	if f := cmd.Flags().Lookup("all"); f != nil {
		all = f.Value.String() == "true"
	}
	if len(selectors) == 0 && !all {
		return
	}
	machines, err := inv.Select(selectors, all)
	if err != nil {
		fail("the reference fleet: %v", err)
		return
	}
	action := ""
	if f := cmd.Flags().Lookup("action"); f != nil {
		action = f.Value.String()
	}
	if a, err := target.ParseAction(action); err == nil {
		for _, m := range machines {
			p := string(m.Platform)
			if p == "" {
				p = platformOf[m.Configuration]
			}
			exec, err := target.For(platform.Platform(p))
			if err == nil {
				err = exec.Supports(a)
			}
			if err != nil {
				fail("%s: %v", m.Name, err)
			}
		}
	}
}
