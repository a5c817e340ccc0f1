package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/nixherd/nixherd/internal/shell"
)

// Address is where ssh connects: [user@]host[:port].
type Address struct {
	User string
	Host string
	Port int // 0: ssh's default (or what ~/.ssh/config says)
}

func (a Address) String() string {
	s := a.Host
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if a.User != "" {
		s = a.User + "@" + s
	}
	if a.Port != 0 {
		s += ":" + strconv.Itoa(a.Port)
	}
	return s
}

// ParseAddress reads "[user@]host[:port]"; an IPv6 host is written in brackets.
func ParseAddress(s string) (Address, error) {
	var a Address
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		a.User, rest = rest[:i], rest[i+1:]
		if a.User == "" {
			return a, fmt.Errorf("%q: empty user before @", s)
		}
	}
	port := ""
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return a, fmt.Errorf("%q: missing ] after IPv6 address", s)
		}
		a.Host, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return a, fmt.Errorf("%q: unexpected %q after ]", s, rest)
			}
			port = rest[1:]
		}
	} else if i := strings.Index(rest, ":"); i >= 0 {
		a.Host, port = rest[:i], rest[i+1:]
	} else {
		a.Host = rest
	}
	// ssh and nix's ssh:// store URLs would read a leading "-" as an
	// option, and a "?" or "#" as the start of store settings.
	if strings.HasPrefix(s, "-") || strings.HasPrefix(a.User, "-") || strings.HasPrefix(a.Host, "-") {
		return a, fmt.Errorf("%q: a target must not begin with \"-\" (ssh would read it as an option)", s)
	}
	if a.Host == "" || strings.Trim(a.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:%") != "" {
		return a, fmt.Errorf("%q: not a host name", s)
	}
	if strings.ContainsFunc(a.User, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("/?#:[]", r) }) {
		return a, fmt.Errorf("%q: not a user name", s)
	}
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return a, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
		}
		a.Port = p
	}
	return a, nil
}

// Pool owns the master connections of one run and the private directory
// their control sockets live in. Close ends them all and removes the directory.
type Pool struct {
	dir string
	mu  sync.Mutex
	n   int
	all []*SSH
	// sudoPassword, when set, is given to sudo on hosts that ask for one.
	sudoPassword []byte
}

// NewPool makes the private (0700) socket directory. Its path is short on
// purpose: a unix socket path must fit in about 100 bytes.
func NewPool() (*Pool, error) {
	removeStalePools()
	dir, err := os.MkdirTemp("", "nixherd-ssh-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The owner's pid lets a later run remove the directory if this process
	// is killed (SIGKILL runs no cleanup).
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Pool{dir: dir}, nil
}

// removeStalePools removes the socket directories of nixherd processes of
// this user that no longer run. Their masters have exited by themselves
// (ControlPersist) or will fail to find their socket; only empty
// directories and pid files remain.
func removeStalePools() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "nixherd-ssh-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue // not ours, or still being created
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		os.RemoveAll(d)
	}
}

// processAlive reports whether pid runs (signal 0 probes without sending).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Close ends every master connection and removes the socket directory.
func (p *Pool) Close() error {
	p.mu.Lock()
	all := p.all
	p.all = nil
	p.mu.Unlock()
	// In parallel: each is an ssh -O exit, and a fleet has many.
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Close()
		}()
	}
	wg.Wait()
	return os.RemoveAll(p.dir)
}

// SSH runs commands on a remote host through the system ssh and a master
// connection opened by Dial.
type SSH struct {
	name    string
	addr    Address
	options []string // user's extra ssh arguments, first so they win
	control string   // ControlPath of the master
	root    bool
	// sudoPassword is set when this host's sudo asks for a password.
	sudoPassword []byte
	once         sync.Once
}

// Dial opens the master connection to addr (authenticating once) and
// returns a Runner that reuses it. options are extra ssh arguments such as
// "-F", "file" or "-o", "ProxyJump=bastion"; they come before nixherd's own so
// that they win (ssh keeps the first value it sees). Because nix copy takes
// them through the whitespace-split NIX_SSHOPTS, none may contain a space.
func (p *Pool) Dial(ctx context.Context, name string, addr Address, options []string) (*SSH, error) {
	for _, o := range options {
		if strings.ContainsAny(o, " \t\n") {
			return nil, fmt.Errorf("%s: ssh option %q contains whitespace, which NIX_SSHOPTS cannot carry; move it into an ssh config file and pass -F FILE", name, o)
		}
	}
	p.mu.Lock()
	p.n++
	control := filepath.Join(p.dir, strconv.Itoa(p.n))
	p.mu.Unlock()
	s := &SSH{name: name, addr: addr, options: options, control: control}

	// ssh -f forks after authenticating; its stderr must be a file, not a
	// pipe, or waiting for the pipe would wait for the background master.
	errf, err := os.CreateTemp(p.dir, "dial-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	args := append(s.baseArgs("yes"), "-f", "-N", "--", s.destination())
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stderr = errf
	if err := cmd.Run(); err != nil {
		return nil, &ConnectError{Host: name, Addr: addr, Reason: sshError(readTail(errf, stderrKept), err)}
	}
	p.mu.Lock()
	p.all = append(p.all, s)
	p.mu.Unlock()

	// Logging in as root named on the command line is root (it overrides
	// ssh_config's User); any other login asks.
	if addr.User == "root" {
		s.root = true
	} else {
		out, err := s.Run(ctx, Cmd("id", "-u"))
		if err != nil {
			return s, err
		}
		s.root = strings.TrimSpace(string(out)) == "0"
	}
	if err := p.setupSudo(ctx, s); err != nil {
		return s, err
	}
	return s, nil
}

// ConnectError is a host that ssh could not connect or log in to.
type ConnectError struct {
	Host   string
	Addr   Address
	Reason string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%s: cannot connect to %s: %s", e.Host, e.Addr, e.Reason)
}

// sshError keeps ssh's own explanation (host key mismatch, connection
// refused, permission denied), at most two lines of it, and drops the
// warnings around it.
func sshError(stderr string, err error) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Warning: Permanently added") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return err.Error()
	}
	return strings.ReplaceAll(Excerpt(strings.Join(keep, "\n")), "\n", "; ")
}

// readTail reads the last n bytes of f.
func readTail(f *os.File, n int64) string {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	b := make([]byte, min(size, n))
	if _, err := f.ReadAt(b, size-int64(len(b))); err != nil && err != io.EOF {
		return ""
	}
	return string(b)
}

// baseArgs are the ssh arguments of every connection to this host. master
// is the ControlMaster value: "yes" to open the master, "no" to use it.
func (s *SSH) baseArgs(master string) []string {
	args := append([]string{}, s.options...)
	args = append(args,
		"-o", "ControlMaster="+master,
		"-o", "ControlPath="+s.control,
		// A dead deployer must not leave masters behind forever.
		"-o", "ControlPersist=120",
		"-o", "ConnectTimeout=15",
		"-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=4",
	)
	if s.addr.Port != 0 {
		args = append(args, "-p", strconv.Itoa(s.addr.Port))
	}
	return args
}

func (s *SSH) destination() string {
	if s.addr.User != "" {
		return s.addr.User + "@" + s.addr.Host
	}
	return s.addr.Host
}

func (s *SSH) Name() string { return s.name }
func (s *SSH) IsRoot() bool { return s.root }

// Store is the legacy ssh:// store: it needs only nix-store on the host,
// not a daemon, and works with every Nix since 2.0.
func (s *SSH) Store() string {
	h := s.addr.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if s.addr.User != "" {
		h = s.addr.User + "@" + h
	}
	return "ssh://" + h
}

func (s *SSH) NixSSHOpts() []string { return s.baseArgs("no") }

func (s *SSH) Run(ctx context.Context, c Command) ([]byte, error) {
	line := remoteCommand(c, s.root)
	if c.Root && !s.root && s.sudoPassword != nil {
		line, c = s.withSudoPassword(c)
	}
	args := append(s.baseArgs("no"), "--", s.destination(), line)
	out, err := Exec(ctx, s.name, append([]string{"ssh"}, args...), c)
	if ee, ok := err.(*ExitError); ok {
		ee.Args = c.Args
		if ee.Code == 255 {
			ee.Stderr = sshError(ee.Stderr, fmt.Errorf("ssh exited with status 255"))
		}
	}
	if c.Root && !s.root && s.sudoPassword == nil {
		err = explainSudo(s.name, s.destination(), err)
	}
	return out, err
}

// nixPath is appended to PATH on remote hosts: a non-interactive ssh
// session on macOS (and some Linux setups) does not read the shell profile
// that puts Nix on PATH, and sudo's secure_path may drop it too.
const nixPath = "/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin"

// withPath runs the words after it with the remote shell's PATH (Nix's
// directories included) as root, where sudo has reset PATH to its
// secure_path: a shell sets PATH and execs the program. `env "PATH=…"
// PROG` would not do: env takes a program whose path holds "=" (a store
// path may) for one more assignment, prints its environment instead and
// exits 0, so nothing would run and the caller would see success.
const withPath = `/bin/sh -c 'PATH=$1; export PATH; shift; exec "$@"' nixherd "$PATH"`

// remoteCommand is the command line sent to the remote shell.
func remoteCommand(c Command, isRoot bool) string {
	line := `PATH="$PATH:` + nixPath + `"; export PATH; exec `
	if c.Root && !isRoot {
		line += `sudo -n -- ` + withPath + ` `
	}
	return line + shell.Join(c.Args)
}

// Close asks the master to exit.
func (s *SSH) Close() error {
	var err error
	s.once.Do(func() {
		args := append(s.baseArgs("no"), "-O", "exit", "--", s.destination())
		cmd := exec.Command("ssh", args...)
		err = cmd.Run()
	})
	return err
}

// singleFlags are the ssh flags that hold one value, where the last one on
// the command line wins (unlike -o, where ssh keeps the first).
var singleFlags = map[string]bool{"-F": true, "-p": true, "-l": true, "-J": true}

// MergeOptions joins lists of ssh arguments, the most important first (the
// command line, then the machine, then the defaults). -o options are kept in
// that order, because ssh uses the first value it sees for each; of the
// single-valued flags (-F, -p, -l, -J) only the most important list's stays,
// because for those ssh would take the last.
func MergeOptions(lists ...[]string) []string {
	var out []string
	taken := map[string]bool{}
	for _, l := range lists {
		mine := map[string]bool{}
		for i := 0; i < len(l); i++ {
			// "-F file" is two arguments, "-Ffile" one.
			flag, n := l[i], 1
			if len(flag) > 2 && strings.HasPrefix(flag, "-") && !strings.HasPrefix(flag, "--") {
				flag = flag[:2]
			} else if flagTakesValue(flag) && i+1 < len(l) {
				n = 2
			}
			if singleFlags[flag] {
				if taken[flag] {
					i += n - 1
					continue
				}
				mine[flag] = true
			}
			out = append(out, l[i:i+n]...)
			i += n - 1
		}
		for f := range mine {
			taken[f] = true
		}
	}
	return out
}

// flagTakesValue reports whether an ssh flag is followed by a value.
func flagTakesValue(flag string) bool {
	return len(flag) == 2 && strings.ContainsRune("BbcDEeFIiJLlmOoPpQRSWw", rune(flag[1]))
}
