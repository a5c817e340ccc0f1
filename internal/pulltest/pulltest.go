// Package pulltest provides the real parts pull mode's tests and benchmark
// run against: Nix signing keys made by nix itself, and web servers on an
// address of this machine for the binary cache (a file:// store that `nix
// copy` fills, served as static files, as any web server would serve it)
// and for the release manifest. Its API takes no *testing.T, so that
// scripts/benchpull uses it too.
package pulltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Key is a Nix signing key pair: the secret key's file and the public key.
type Key struct {
	SecretFile string
	Public     string
}

// NewKey makes a key named name with `nix key generate-secret` in dir.
func NewKey(dir, name string) (Key, error) {
	sec := filepath.Join(dir, name+".sec")
	script := `nix --extra-experimental-features nix-command key generate-secret --key-name "$1" >"$2" && chmod 600 "$2" &&
nix --extra-experimental-features nix-command key convert-secret-to-public <"$2"`
	out, err := exec.Command("sh", "-c", script, "sh", name, sec).Output()
	if err != nil {
		return Key{}, fmt.Errorf("making the key %s: %w", name, err)
	}
	return Key{SecretFile: sec, Public: strings.TrimSpace(string(out))}, nil
}

// Server serves a directory over HTTP, as a static web server would, with
// the knobs fault tests need: downloads of NAR files held until released,
// and requests counted.
type Server struct {
	// URL is http://ADDR, no trailing slash.
	URL string
	Dir string

	srv  *http.Server
	hold atomic.Pointer[chan struct{}]
	// NARs counts the NAR downloads that started.
	NARs     atomic.Int64
	Requests atomic.Int64

	mu     sync.Mutex
	closed bool
}

// Serve serves dir on addr ("127.0.0.1:0": any port; or an address a test
// host's network namespace reaches, Host.Gateway). Listen adds addresses.
func Serve(addr, dir string) (*Server, error) {
	s := &Server{Dir: dir}
	files := http.FileServer(http.Dir(dir))
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		if strings.HasPrefix(r.URL.Path, "/nar/") {
			s.NARs.Add(1)
			if ch := s.hold.Load(); ch != nil {
				select {
				case <-*ch:
				case <-r.Context().Done():
					return
				}
			}
		}
		files.ServeHTTP(w, r)
	})}
	u, err := s.Listen(addr)
	if err != nil {
		return nil, err
	}
	s.URL = u
	return s, nil
}

// Listen serves the same files on another address too and returns its URL.
func (s *Server) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	go s.srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// HoldNARs makes NAR downloads wait until ReleaseNARs.
func (s *Server) HoldNARs() {
	ch := make(chan struct{})
	s.hold.Store(&ch)
}

// ReleaseNARs lets held and later NAR downloads through.
func (s *Server) ReleaseNARs() {
	if ch := s.hold.Swap(nil); ch != nil {
		close(*ch)
	}
}

// Close stops the server; its address refuses connections from then on.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.ReleaseNARs()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}

// Cache is a binary cache: a file:// store the publisher pushes to, served
// over HTTP for the hosts to substitute from.
type Cache struct {
	*Server
	// Store is the store URL to push to (file://DIR).
	Store string
}

// NewCache makes an empty cache in dir served on addr.
func NewCache(addr, dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s, err := Serve(addr, dir)
	if err != nil {
		return nil, err
	}
	return &Cache{Server: s, Store: "file://" + dir}, nil
}
