package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// MaxOutput is how much standard output a runner takes from a command
// unless the command says otherwise (Command.MaxOutput). Nothing nixherd
// reads from a host comes near it; a host that sends more is broken or
// hostile, and reading on would let it fill the deployer's memory.
const MaxOutput = 4 << 20

// stderrKept is how much of the end of a command's standard error a runner
// keeps for its error message (the stream itself goes on to
// Command.Stderr whole).
const stderrKept = 64 << 10

// OutputLimitError is a command that printed more than its limit: the
// runner stopped reading and ended it.
type OutputLimitError struct {
	Host  string
	Args  []string
	Limit int
}

func (e *OutputLimitError) Error() string {
	return fmt.Sprintf("%s: %s printed more than %d MiB; stopped reading it and ended it (a broken or hostile host?)", e.Host, progName(e.Args), e.Limit>>20)
}

// Exec runs argv on this machine on behalf of host's runner, for c: c.Stdin
// is its input; its standard output is returned (or streamed to c.Stdout),
// at most c's limit of it; its standard error streams to c.Stderr, and its
// end is kept for the *ExitError of a failure. SSH, Local and the local
// rebuild's runner all run their commands through it.
func Exec(ctx context.Context, host string, argv []string, c Command) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// An ssh mux client hands its pipes to the master connection, so they
	// can stay open after the client is killed (the remote command keeps
	// running): when the context ends, stop waiting for them soon.
	cmd.WaitDelay = 2 * time.Second
	cmd.Stdin = c.Stdin
	limit := c.MaxOutput
	if limit <= 0 {
		limit = MaxOutput
	}
	stdout := &cappedBuffer{limit: limit, full: cancel}
	cmd.Stdout = stdout
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	stderr := &tailBuffer{keep: stderrKept}
	cmd.Stderr = stderr
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, c.Stderr)
	}
	err := cmd.Run()
	if stdout.over {
		return nil, &OutputLimitError{Host: host, Args: c.Args, Limit: limit}
	}
	if err == nil {
		return stdout.buf, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return stdout.buf, &ExitError{Host: host, Args: c.Args, Code: ee.ExitCode(), Stderr: stderr.String()}
	}
	return stdout.buf, &ExitError{Host: host, Args: c.Args, Code: -1, Stderr: stderr.String() + err.Error()}
}

// errOutputLimit stops the copy of a command's output into a full buffer.
var errOutputLimit = errors.New("output limit reached")

// cappedBuffer keeps up to limit bytes; the first write past it calls full
// (which ends the command) and fails, so nothing more is read.
type cappedBuffer struct {
	buf   []byte
	limit int
	over  bool
	full  func()
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > b.limit {
		b.over = true
		b.full()
		return 0, errOutputLimit
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// tailBuffer keeps the last keep bytes written to it (and a little more,
// to trim rarely).
type tailBuffer struct {
	buf     []byte
	keep    int
	trimmed bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.keep {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.keep:]...)
		b.trimmed = true
	}
	return len(p), nil
}

// String is the end kept; "…" marks that the start was dropped.
func (b *tailBuffer) String() string {
	s, cut := b.buf, b.trimmed
	if len(s) > b.keep {
		s, cut = s[len(s)-b.keep:], true
	}
	if cut {
		return "…" + strings.ToValidUTF8(string(s), "")
	}
	return string(s)
}

// Excerpt is what an error message quotes of a command's output: its last
// two non-empty lines, each cut to 240 bytes. A host's output may be as
// long as it likes; an error line should not be.
func Excerpt(output string) string {
	var lines []string
	rest := strings.TrimSpace(output)
	for len(lines) < 2 && rest != "" {
		i := strings.LastIndexByte(rest, '\n')
		line := strings.TrimSpace(rest[i+1:])
		rest = strings.TrimSpace(rest[:max(i, 0)])
		if line == "" {
			continue
		}
		if len(line) > 240 {
			line = strings.ToValidUTF8(line[:240], "") + "…"
		}
		lines = append([]string{line}, lines...)
	}
	return strings.Join(lines, "\n")
}

// progName names a command's program for messages.
func progName(args []string) string {
	if len(args) == 0 {
		return "the command"
	}
	if args[0] == "sh" && len(args) > 1 {
		return "shell script"
	}
	return args[0]
}
