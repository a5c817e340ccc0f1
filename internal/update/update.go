// Package update refreshes a fleet's flake.lock through nix.
//
// nixherd never writes flake.lock itself: nix owns that format and its
// hashing. What this package adds is choosing the command line the installed
// nix understands (`nix flake update INPUT…` since Nix 2.19, `nix flake lock
// --update-input INPUT` before), handing nix a GitHub token without exposing
// it, recognising GitHub's rate limit in nix's errors, and telling what moved.
//
// The token: when nix has no access-tokens configured and the caller provides
// one (the fleet's github-token secret, decrypted in memory), it reaches nix
// only as an `access-tokens` line appended to NIX_CONFIG in the child's
// environment. It is never put in argv (visible to every user in ps), never
// written to disk, and redacted from the nix output nixherd relays.
package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nixherd/nixherd/internal/atomicfile"
	"github.com/nixherd/nixherd/internal/flakelock"
)

// Options says what to update and how to reach nix.
type Options struct {
	// Dir is the flake's directory.
	Dir string
	// Inputs to update; empty updates every input.
	Inputs []string
	// Nix is the nix program; "nix" from PATH when empty.
	Nix string
	// Token returns the value of nix's access-tokens setting to use when
	// nix has none configured ("github.com=ghp_…", as TokenSetting makes
	// it); nil means there is none to offer. It is only called when needed,
	// so a passphrase prompt happens only then. An error wrapping
	// ErrBadToken stops the update; any other means going on without.
	Token func() (string, error)
	// Env is the environment nix runs with; os.Environ() when nil.
	Env []string
	// Stderr receives nix's progress and errors (with the token redacted)
	// and nixherd's notes.
	Stderr io.Writer
}

// Change is one root input whose locked revision moved.
type Change struct {
	Input string `json:"input"`
	Old   string `json:"old"` // empty when the input was not locked before
	New   string `json:"new"`
}

// Result is what an update did.
type Result struct {
	Changes   []Change
	UsedToken bool
	// Command is the nix argv that ran (never contains the token).
	Command []string
}

// ErrRateLimited means GitHub refused nix's API requests.
var ErrRateLimited = errors.New("GitHub's API rate limit stopped nix")

// Run updates the lock of the flake in opts.Dir.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Nix == "" {
		opts.Nix = "nix"
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	lockPath := filepath.Join(opts.Dir, "flake.lock")
	oldLock, err := os.ReadFile(lockPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	before, err := readLockIfPresent(lockPath)
	if err != nil {
		return nil, err
	}
	version, err := ProbeVersion(ctx, opts.Nix, opts.Env)
	if err != nil {
		return nil, err
	}
	res := &Result{Command: Command(version, opts.Inputs)}

	env := opts.Env
	token := ""
	if opts.Token != nil {
		configured, err := accessTokensConfigured(ctx, opts.Nix, version, env)
		if err != nil {
			return nil, err
		}
		if !configured {
			token, err = opts.Token()
			if errors.Is(err, ErrBadToken) {
				return nil, err
			}
			if err != nil {
				fmt.Fprintf(opts.Stderr, "nixherd: no GitHub token for nix (%v); continuing without one\n", err)
				token = ""
			}
		}
	}
	if token != "" {
		env = WithAccessToken(env, token)
		res.UsedToken = true
	}

	cmd := exec.CommandContext(ctx, opts.Nix, res.Command[1:]...)
	// On Ctrl-C or SIGTERM let nix stop cleanly rather than killing it
	// in the middle of writing flake.lock.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = opts.Dir
	cmd.Env = env
	var tail tailBuffer
	redact := &redactor{w: io.MultiWriter(opts.Stderr, &tail), secrets: tokenParts(token)}
	cmd.Stderr = redact
	cmd.Stdout = redact
	runErr := cmd.Run()
	redact.Flush()
	if runErr != nil {
		if err := keepOldLock(lockPath, oldLock); err != nil {
			return res, err
		}
		if rateLimited(tail.String()) {
			return res, rateLimitAdvice(res.UsedToken)
		}
		return res, fmt.Errorf("%s failed: %w", strings.Join(res.Command, " "), runErr)
	}

	after, err := readLockIfPresent(lockPath)
	if err != nil {
		return res, err
	}
	res.Changes = diff(before, after)
	return res, nil
}

// Command returns the nix argv that updates inputs (all when empty) on a nix
// of the given version, run in the flake's directory.
func Command(v Version, inputs []string) []string {
	argv := []string{"nix", "--extra-experimental-features", "nix-command flakes"}
	switch {
	case len(inputs) == 0:
		return append(argv, "flake", "update")
	case v.AtLeast(2, 19) && !v.Lix:
		// Since 2.19 the positional arguments are input names.
		return append(append(argv, "flake", "update"), inputs...)
	default:
		// Before 2.19 a positional argument is a flake reference.
		argv = append(argv, "flake", "lock")
		for _, in := range inputs {
			argv = append(argv, "--update-input", in)
		}
		return argv
	}
}

// ErrBadToken is a github-token secret that is not a token: its content is
// never shown, and update stops rather than hand it to nix.
var ErrBadToken = errors.New("the github-token secret is not a token")

// TokenSetting turns the contents of the fleet's github-token secret into
// the value of nix's access-tokens setting. The secret holds the bare token,
// HOST=TOKEN pairs separated by spaces, or a whole nix.conf line
// "access-tokens = HOST=TOKEN …". Anything else is refused with an error
// that shows none of it: the value becomes a line of NIX_CONFIG, where a
// line break would start a setting of its own (whoever may encrypt the
// secret, no private key needed, could otherwise change how nix evaluates
// on the machine that runs update).
func TokenSetting(secret string) (string, error) {
	s := strings.TrimSpace(secret)
	if rest, ok := strings.CutPrefix(s, "access-tokens"); ok {
		if v, ok := strings.CutPrefix(strings.TrimSpace(rest), "="); ok {
			s = strings.TrimSpace(v)
		}
	}
	if s == "" {
		return "", fmt.Errorf("%w: it is empty", ErrBadToken)
	}
	if strings.ContainsAny(s, "\n\r") {
		return "", fmt.Errorf("%w: it holds more than one line (want the token, HOST=TOKEN pairs, or one access-tokens line)", ErrBadToken)
	}
	pairs := strings.Fields(s)
	if len(pairs) == 1 && !strings.Contains(s, "=") {
		if !isTokenText(s) {
			return "", fmt.Errorf("%w: it has characters a token does not (want letters, digits and -._~+/:=)", ErrBadToken)
		}
		return "github.com=" + s, nil
	}
	for i, p := range pairs {
		host, tok, ok := strings.Cut(p, "=")
		if !ok || !isHost(host) || tok == "" || !isTokenText(tok) {
			return "", fmt.Errorf("%w: entry %d of %d is not HOST=TOKEN (a host name, then letters, digits and -._~+/:=)", ErrBadToken, i+1, len(pairs))
		}
	}
	return strings.Join(pairs, " "), nil
}

// isTokenText reports whether s uses only the characters of access tokens
// (GitHub's ghp_…, GitLab's PAT:…, OAuth2:…, base64).
func isTokenText(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/:=", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// isHost reports whether s is a host name, optionally with a port or a
// path prefix (gitlab.example.com/group), as access-tokens keys are.
func isHost(s string) bool {
	if s == "" || s[0] == '/' || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._:/", c) >= 0) {
			return false
		}
	}
	return true
}

// tokenParts are the strings to hide from output: the whole setting and
// each token in it.
func tokenParts(setting string) []string {
	if setting == "" {
		return nil
	}
	parts := []string{setting}
	for _, f := range strings.Fields(setting) {
		if _, tok, ok := strings.Cut(f, "="); ok && tok != "" {
			parts = append(parts, tok)
		}
	}
	return parts
}

// WithAccessToken returns env with an access-tokens setting ("github.com=…")
// appended to NIX_CONFIG (keeping whatever NIX_CONFIG already held).
func WithAccessToken(env []string, token string) []string {
	out := make([]string, 0, len(env)+1)
	existing := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NIX_CONFIG="); ok {
			existing = v
			continue
		}
		out = append(out, kv)
	}
	line := "access-tokens = " + token
	if existing != "" && !strings.HasSuffix(existing, "\n") {
		existing += "\n"
	}
	return append(out, "NIX_CONFIG="+existing+line)
}

// ShowConfigCommand is how the given nix prints its effective configuration:
// `nix config show` since Nix 2.20, `nix show-config` before (and on Lix).
func ShowConfigCommand(v Version) []string {
	if v.AtLeast(2, 20) && !v.Lix {
		return []string{"config", "show"}
	}
	return []string{"show-config"}
}

// accessTokensConfigured asks nix for its effective configuration (nix.conf
// files and NIX_CONFIG together) and reports whether access-tokens is set.
// The value itself is never kept.
func accessTokensConfigured(ctx context.Context, nix string, v Version, env []string) (bool, error) {
	args := append([]string{"--extra-experimental-features", "nix-command flakes"}, ShowConfigCommand(v)...)
	cmd := exec.CommandContext(ctx, nix, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return false, fmt.Errorf("nix show-config: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "access-tokens ="); ok {
			return strings.TrimSpace(v) != "", nil
		}
	}
	return false, nil
}

func rateLimited(stderr string) bool {
	return strings.Contains(stderr, "API rate limit exceeded") ||
		(strings.Contains(stderr, "HTTP error 403") && strings.Contains(stderr, "github"))
}

func rateLimitAdvice(usedToken bool) error {
	if usedToken {
		return fmt.Errorf("%w even with the fleet's %s secret: check that the token is valid and not expired (nixherd secrets edit %s), or wait for the limit to reset", ErrRateLimited, TokenSecret, TokenSecret)
	}
	return fmt.Errorf("%w: anonymous requests are limited to 60 an hour. Create a GitHub personal access token (no scopes needed) and store it as the fleet secret %s (nixherd secrets edit %s), or set access-tokens = github.com=TOKEN in nix.conf; then run nixherd update again", ErrRateLimited, TokenSecret, TokenSecret)
}

// TokenSecret is the name of the fleet secret (secrets/github-token.age)
// that holds a GitHub token for nix.
const TokenSecret = "github-token"

// keepOldLock makes sure a failed or interrupted nix leaves the lock as it
// was: a lock nix left unreadable is put back, atomically.
func keepOldLock(path string, old []byte) error {
	cur, err := os.ReadFile(path)
	if old == nil {
		// There was no lock: remove one nix left half written.
		if err == nil {
			if _, perr := flakelock.Parse(cur); perr != nil {
				return os.Remove(path)
			}
		}
		return nil
	}
	if err == nil && bytes.Equal(cur, old) {
		return nil
	}
	if err == nil {
		if _, perr := flakelock.Parse(cur); perr == nil {
			return nil // nix finished writing a valid lock before it failed
		}
	}
	if err := atomicfile.Write(path, old, 0o644); err != nil {
		return fmt.Errorf("restoring %s: %w", path, err)
	}
	return nil
}

func readLockIfPresent(path string) (*flakelock.Lock, error) {
	l, err := flakelock.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return l, err
}

// diff lists the root inputs whose locked revision changed.
func diff(before, after *flakelock.Lock) []Change {
	if after == nil {
		return nil
	}
	var changes []Change
	for _, name := range after.RootInputs() {
		ref, node, _ := after.Input(name)
		if ref.IsFollows() {
			continue
		}
		c := Change{Input: name, New: node.Rev()}
		if before != nil {
			if bref, bnode, ok := before.Input(name); ok && !bref.IsFollows() {
				c.Old = bnode.Rev()
			}
		}
		if c.Old != c.New {
			changes = append(changes, c)
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Input < changes[j].Input })
	return changes
}

// redactor relays output line by line with every occurrence of the secrets
// replaced, so that not even a nix that echoed its configuration could leak
// the token into a terminal or a CI log.
type redactor struct {
	mu      sync.Mutex
	w       io.Writer
	secrets []string
	buf     []byte
}

func (r *redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		if err := r.emit(r.buf[:i+1]); err != nil {
			return 0, err
		}
		r.buf = r.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a last unterminated line.
func (r *redactor) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		_ = r.emit(r.buf)
		r.buf = nil
	}
}

func (r *redactor) emit(line []byte) error {
	for _, s := range r.secrets {
		line = bytes.ReplaceAll(line, []byte(s), []byte("[redacted]"))
	}
	_, err := r.w.Write(line)
	return err
}

// tailBuffer keeps the last 64 KiB written to it: enough to recognise an
// error message without holding a long build log.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - 64<<10; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
