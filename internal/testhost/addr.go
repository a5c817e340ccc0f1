package testhost

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// leaseDir holds one lock file per address in use. A host holds an
// exclusive flock on its file for its lifetime, so test binaries running in
// parallel (go test runs packages concurrently) never pick the same address,
// and a crashed run's addresses free themselves with its file descriptors.
const leaseDir = "/run/nixherd-testhost"

const maxLoopback = 250 * 250

// wildcardProbe is a loopback address no host gets (loopbackAddr ends at
// .251): binding it fails only when the port is taken on every address.
const wildcardProbe = "127.77.255.254"

// maxUnusable bounds the search when addresses are free of leases but not
// usable: the cause is then not other hosts, and scanning on would not help.
const maxUnusable = 64

// loopbackAddr is the i-th test host address: 127.77.0.2, 127.77.0.3, …
func loopbackAddr(i int) string { return fmt.Sprintf("127.77.%d.%d", i/250, 2+i%250) }

type lease struct {
	index int
	file  *os.File
}

// leaseFree locks the first index of the given kind that no other host holds
// and that usable accepts.
func leaseFree(kind string, max int, usable func(int) bool) (*lease, error) {
	if err := os.MkdirAll(leaseDir, 0o700); err != nil {
		return nil, err
	}
	unusable := 0
	for i := 0; i < max; i++ {
		f, err := os.OpenFile(filepath.Join(leaseDir, kind+"-"+strconv.Itoa(i)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if !usable(i) {
			f.Close()
			if unusable++; unusable == maxUnusable {
				return nil, fmt.Errorf("%d free %s addresses for test hosts in a row were unusable (their port taken?)", maxUnusable, kind)
			}
			continue
		}
		return &lease{index: i, file: f}, nil
	}
	return nil, fmt.Errorf("no free %s address for a test host", kind)
}

func (l *lease) release() { l.file.Close() }

// portFree reports whether nothing listens on addr:port already.
func portFree(addr string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
