package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// Rules is a parsed secrets.nix: which keys may decrypt which file.
type Rules struct {
	Path string // the rules file
	Dir  string // its folder; secret files are relative to it
	// Secrets in file order (sorted by file name).
	Secrets []*Rule
}

// Rule is one entry of secrets.nix.
type Rule struct {
	File       string // path relative to Rules.Dir, cleaned ("api-key.age")
	Recipients []*Recipient
	Armor      bool
}

// PathOf returns the rule's file on disk.
func (rs *Rules) PathOf(r *Rule) string { return filepath.Join(rs.Dir, r.File) }

// Lookup finds the rule for a secret named on the command line: "api-key",
// "api-key.age", a path relative to the current directory or to the rules
// folder ("secrets/api-key.age" from the fleet root, "api-key.age" from
// inside secrets/, agenix's form), or an absolute path.
func (rs *Rules) Lookup(name string) (*Rule, error) {
	var candidates []string
	if filepath.IsAbs(name) {
		if rel, err := filepath.Rel(rs.Dir, name); err == nil {
			candidates = append(candidates, rel)
		}
	} else {
		candidates = append(candidates, name)
		if abs, err := filepath.Abs(name); err == nil {
			if rel, err := filepath.Rel(rs.Dir, abs); err == nil {
				candidates = append(candidates, rel)
			}
		}
	}
	for _, c := range candidates {
		c = filepath.Clean(c)
		for _, try := range []string{c, c + ".age"} {
			for _, r := range rs.Secrets {
				if r.File == try {
					return r, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("%s: no secret %q in the rules (see nixherd secrets list)", rs.Path, name)
}

// RulesError is a problem in the rules file, located when the cause is.
type RulesError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *RulesError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// FindRules returns the rules file to use, in agenix's order: flag
// (--rules) when set, then the RULES environment variable, then
// secrets.nix in dir (agenix's only default), then secrets/secrets.nix
// under dir (where a nixherd fleet keeps it, so that commands work from
// the fleet's root too).
func FindRules(dir, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv("RULES"); env != "" {
		return env, nil
	}
	for _, p := range []string{filepath.Join(dir, "secrets.nix"), filepath.Join(dir, "secrets", "secrets.nix")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no rules file: neither secrets.nix nor secrets/secrets.nix in %s (name one with RULES)", displayPath(dir))
}

// LoadRules reads and checks a rules file. It is read as plain data by
// nixherd's static reader (attribute sets, let, ++, //,
// builtins.attrValues), which runs nothing and reads no other file; only a
// rules file beyond it (an import of keys.nix, a function) is evaluated
// with nix, restricted to the fleet (see FleetRoot and nix.EvalData): no
// file outside it, no network, no environment, no command. Every
// publicKeys entry must parse as a key.
func LoadRules(path string) (*Rules, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	shown := displayPath(abs)
	src, err := nixlang.ReadFile(abs)
	if err != nil {
		var ne *nixlang.Error
		if errors.As(err, &ne) {
			ne.File = shown
			return nil, ne
		}
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	raw, err := evalRules(abs, shown, src)
	if err != nil {
		return nil, err
	}
	names := keyNames(src, filepath.Dir(abs))
	rs := &Rules{Path: shown, Dir: filepath.Dir(abs)}
	files := make([]string, 0, len(raw))
	for f := range raw {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		rule, err := buildRule(f, raw[f], names)
		if err != nil {
			re := &RulesError{File: shown, Msg: err.Error()}
			var be *badKeyError
			if errors.As(err, &be) {
				re.Line, re.Col = locate(src, strconv.Quote(be.key))
			}
			return nil, re
		}
		rs.Secrets = append(rs.Secrets, rule)
	}
	return rs, nil
}

func buildRule(file string, v json.RawMessage, names map[string]string) (*Rule, error) {
	var entry map[string]json.RawMessage
	if err := json.Unmarshal(v, &entry); err != nil {
		return nil, fmt.Errorf("%q: want an attribute set { publicKeys = [ … ]; }", file)
	}
	r := &Rule{File: filepath.Clean(file)}
	if filepath.IsAbs(file) || strings.HasPrefix(r.File, "..") {
		return nil, fmt.Errorf("%q: secret paths must be relative to the rules file's folder", file)
	}
	pk, ok := entry["publicKeys"]
	if !ok {
		return nil, fmt.Errorf("%q: missing publicKeys", file)
	}
	var keys []any
	if err := json.Unmarshal(pk, &keys); err != nil {
		return nil, fmt.Errorf("%q.publicKeys: want a list of strings", file)
	}
	seen := map[string]bool{}
	for i, k := range keys {
		s, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("%q.publicKeys[%d]: want a string, found %s", file, i, jsonKind(k))
		}
		rec, err := ParseRecipient(s)
		if err != nil {
			return nil, &badKeyError{key: s, msg: fmt.Sprintf("%q.publicKeys[%d]: publicKeys entry is %v", file, i, err)}
		}
		if seen[rec.Key] {
			continue
		}
		seen[rec.Key] = true
		rec.Name = names[rec.Key]
		r.Recipients = append(r.Recipients, rec)
	}
	if a, ok := entry["armor"]; ok {
		if err := json.Unmarshal(a, &r.Armor); err != nil {
			return nil, fmt.Errorf("%q.armor: want true or false", file)
		}
	}
	return r, nil
}

// badKeyError is a publicKeys entry that is not a key; the rules error
// locates the string in the source when it is written there literally.
type badKeyError struct{ key, msg string }

func (e *badKeyError) Error() string { return e.msg }

// locate returns the 1-based line and column of the first occurrence of
// needle in src, or 0, 0.
func locate(src []byte, needle string) (line, col int) {
	i := bytes.Index(src, []byte(needle))
	if i < 0 {
		return 0, 0
	}
	line = 1 + bytes.Count(src[:i], []byte("\n"))
	return line, i - bytes.LastIndexByte(src[:i], '\n')
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an attribute set"
	}
	return fmt.Sprintf("%T", v)
}

// evalRules evaluates the rules file to plain data: statically, and with
// nix, restricted to the fleet, when the static reader cannot follow it.
func evalRules(abs, shown string, src []byte) (map[string]json.RawMessage, error) {
	raw, err := staticRules(abs, shown)
	var beyond *beyondStaticError
	if !errors.As(err, &beyond) {
		return raw, err
	}
	root := FleetRoot(filepath.Dir(abs))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := nix.EvalData(ctx, root, abs)
	var nerr *nix.Error
	switch {
	case errors.Is(err, nix.ErrNoEvaluator):
		return nil, beyond.withoutNix()
	case ctx.Err() != nil:
		return nil, &RulesError{File: shown, Msg: "nix-instantiate timed out"}
	case errors.As(err, &nerr):
		return nil, nixError(abs, shown, root, nerr.Stderr, nerr.Err)
	case err != nil:
		return nil, &RulesError{File: shown, Msg: err.Error()}
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, &RulesError{File: shown, Msg: "the rules must evaluate to an attribute set of secrets ({ \"name.age\".publicKeys = [ … ]; })"}
	}
	return raw, nil
}

// FleetRoot is the folder a rules file in dir may read when nix evaluates
// it: the fleet, i.e. dir or its parent when it holds a flake.nix (the
// rules at the fleet's root or in its secrets/ folder), else dir itself.
func FleetRoot(dir string) string {
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if _, err := os.Stat(filepath.Join(d, "flake.nix")); err == nil {
			return d
		}
	}
	return dir
}

var (
	nixErrLine = regexp.MustCompile(`(?m)^\s*error: (.+)$`)
	nixAtLine  = regexp.MustCompile(`(?m)^\s*at (.+):(\d+):(\d+):?\s*$`)
)

// nixError turns nix's error output into file:line:col: message. Nix 2.8 and
// later print "error: MSG" and then "at FILE:LINE:COL:"; newer versions put a
// trace first, so the last error line is the cause.
func nixError(abs, shown, root, stderr string, runErr error) error {
	msgs := nixErrLine.FindAllStringSubmatch(stderr, -1)
	if len(msgs) == 0 {
		return &RulesError{File: shown, Msg: fmt.Sprintf("nix-instantiate failed (%v): %s", runErr, strings.TrimSpace(stderr))}
	}
	last := nixErrLine.FindAllStringSubmatchIndex(stderr, -1)
	cause := stderr[last[len(last)-1][1]:]
	e := &RulesError{File: shown, Msg: strings.TrimSpace(msgs[len(msgs)-1][1])}
	if strings.Contains(e.Msg, "forbidden in restricted mode") {
		e.Msg += fmt.Sprintf(" (the rules may read only files of the fleet, under %s, and nothing from the network)", displayPath(root))
	}
	at := nixAtLine.FindStringSubmatch(cause)
	if at == nil {
		all := nixAtLine.FindAllStringSubmatch(stderr, -1)
		if len(all) > 0 {
			at = all[len(all)-1]
		}
	}
	if at != nil {
		// A location inside another file (an imported keys.nix) keeps its own name.
		if at[1] != abs {
			e.File = displayPath(at[1])
		}
		e.Line, _ = strconv.Atoi(at[2])
		e.Col, _ = strconv.Atoi(at[3])
	}
	return e
}

// displayPath shows a path relative to the working directory when it is below it.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
