package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoEvaluator means nix-instantiate is not installed.
var ErrNoEvaluator = errors.New("nix-instantiate is not installed")

// MaxDataOutput bounds the JSON EvalData accepts: fleet data files describe
// keys and machines, not megabytes.
const MaxDataOutput = 16 << 20

// restrictedOptions make nix-instantiate evaluate a file that someone else
// may have written (a repository others push to) without letting it reach
// anything beyond the folder it is allowed to read. They come before the
// caller's -I, and the command line overrides nix.conf and NIX_CONFIG:
//
//   - restrict-eval: files only under the -I paths (checked again after
//     resolving symlinks), URIs only under allowed-uris, which is empty, so
//     no fetchurl, fetchTarball or fetchGit; builtins.getEnv returns "".
//   - nix-path empty (and NIX_PATH unset): a nix.conf nix-path or
//     extra-nix-path would otherwise add its folders to the readable ones.
//   - allow-unsafe-native-code-during-evaluation false: a nix.conf that
//     enables it gives builtins.exec, which runs commands even in
//     restricted mode.
//   - allow-import-from-derivation false, and nix-instantiate --eval opens
//     the store read-only: no builder runs.
//   - experimental-features empty: no getFlake, fetchTree or fetchClosure.
//
// Pure evaluation (pure-eval) would be stricter still, but it refuses the
// file itself unless it is in the store, on Nix 2.8 and on current Nix.
var restrictedOptions = []string{
	"--option", "restrict-eval", "true",
	"--option", "allowed-uris", "",
	"--option", "nix-path", "",
	"--option", "allow-unsafe-native-code-during-evaluation", "false",
	"--option", "allow-import-from-derivation", "false",
	"--option", "experimental-features", "",
}

// EvalData evaluates a Nix file that describes plain data (secrets.nix,
// deploy.nix) to JSON with `nix-instantiate --eval --strict --json`,
// letting it read only the files under root: no other file, no network,
// no environment variable, no command, no build (see restrictedOptions).
// args are what nix-instantiate evaluates: a file under root, or
// "--expr", EXPR, "--argstr", NAME, FILE. It works alike on Nix 2.8 and
// current Nix.
//
// A failed evaluation is an *Error whose Stderr is nix's message (an
// attempt to read outside root fails with "access to absolute path … is
// forbidden in restricted mode"). Without nix-instantiate the error is
// ErrNoEvaluator.
func EvalData(ctx context.Context, root string, args ...string) ([]byte, error) {
	bin, err := exec.LookPath("nix-instantiate")
	if err != nil {
		return nil, ErrNoEvaluator
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	full := append([]string{"--eval", "--strict", "--json"}, restrictedOptions...)
	// Nix checks a path, and then the path with its symlinks resolved,
	// against the allowed folders: allow the fleet under both names, so a
	// fleet reached through a link (/home -> /var/home) still reads.
	full = append(full, "-I", "nixherd-fleet="+root)
	if real, err := filepath.EvalSymlinks(root); err == nil && real != root {
		full = append(full, "-I", "nixherd-fleet-resolved="+real)
	}
	full = append(full, args...)

	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = withoutEnv(os.Environ(), "NIX_PATH")
	stdout := &capped{max: MaxDataOutput}
	stderr := &capped{max: 64 << 10, keepTail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if stdout.over {
			return nil, fmt.Errorf("nix-instantiate: the value is larger than %d MiB", MaxDataOutput>>20)
		}
		return nil, &Error{Args: append([]string{"nix-instantiate"}, args...), Stderr: stderr.String(), Err: err}
	}
	if stdout.over {
		return nil, fmt.Errorf("nix-instantiate: the value is larger than %d MiB", MaxDataOutput>>20)
	}
	return stdout.buf.Bytes(), nil
}

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// capped keeps at most max bytes: the first ones, or with keepTail the
// last ones. Writing past max of a head buffer fails, which ends the
// writer's process.
type capped struct {
	buf      bytes.Buffer
	max      int
	keepTail bool
	over     bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.keepTail {
		c.buf.Write(p)
		if extra := c.buf.Len() - c.max; extra > 0 {
			c.buf.Next(extra)
		}
		return len(p), nil
	}
	if c.buf.Len()+len(p) > c.max {
		c.over = true
		return 0, errors.New("output too large")
	}
	return c.buf.Write(p)
}

func (c *capped) String() string { return c.buf.String() }
